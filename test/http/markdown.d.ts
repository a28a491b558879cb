// Markdown files imported as text (Vite's `?raw`), for the README test.
declare module "*.md?raw" {
  const text: string;
  export default text;
}
