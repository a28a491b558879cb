/**
 * The stylesheet of the browser pages (`/docs` and `/console`), served as a file so that their
 * Content-Security-Policy can forbid inline styles. Plain CSS, no web fonts, no images: the pages
 * work offline and stay small. Colours keep WCAG AA contrast in both light and dark schemes.
 */
export const BROWSER_STYLE = `
:root {
  color-scheme: light dark;
  --bg: #fbfbfc; --fg: #1b1d21; --muted: #555b66; --line: #d7dae0; --panel: #ffffff;
  --accent: #0b5cad; --accent-fg: #ffffff; --code: #f1f3f6; --ok: #146c2e; --bad: #a4161a; --warn: #7a4b00;
  --focus: #c2410c;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  line-height: 1.5;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #15171b; --fg: #e8eaee; --muted: #a6adb9; --line: #373c45; --panel: #1d2026;
    --accent: #7cb7ff; --accent-fg: #0b1220; --code: #262a31; --ok: #7ddc98; --bad: #ff9b9b; --warn: #f3c26b;
    --focus: #fdba74;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.sr-only, .skip { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.skip:focus { width: auto; height: auto; clip-path: none; left: 0.5rem; top: 0.5rem; z-index: 10; background: var(--panel); padding: 0.5rem 0.75rem; }
header.top { display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; align-items: center; justify-content: space-between;
  padding: 0.75rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel); }
header.top h1, header.top .brand { margin: 0; font-size: 1.25rem; }
header.top nav ul { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; list-style: none; margin: 0; padding: 0; }
header.top nav a { text-decoration: none; padding: 0.25rem 0; }
header.top nav a[aria-current="page"] { font-weight: 700; text-decoration: underline; text-underline-offset: 0.3em; }
main { padding: 1rem; max-width: 72rem; width: 100%; min-width: 0; }
main:focus { outline: none; }
h1 { font-size: 1.5rem; margin: 0.25rem 0 0.75rem; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 0.5rem; }
h3 { font-size: 1.05rem; margin: 0 0 0.25rem; }
p { margin: 0.25rem 0 0.75rem; }
.muted { color: var(--muted); }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.875rem; }
code { background: var(--code); padding: 0.05rem 0.3rem; border-radius: 0.25rem; overflow-wrap: anywhere; }
pre { background: var(--code); padding: 0.6rem 0.75rem; border-radius: 0.375rem; overflow: auto; max-height: 24rem; margin: 0.25rem 0 0.5rem;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 0.5rem; padding: 0.75rem 1rem; margin: 0 0 1rem; min-width: 0; }
form.inline { display: flex; flex-wrap: wrap; gap: 0.5rem 0.75rem; align-items: flex-end; }
.field { display: flex; flex-direction: column; gap: 0.2rem; min-width: 0; }
.field label, .label { font-weight: 600; font-size: 0.9rem; }
.hint { color: var(--muted); font-size: 0.85rem; }
input, select, textarea, button { font: inherit; color: inherit; }
input, select, textarea { background: var(--bg); border: 1px solid var(--muted); border-radius: 0.375rem; padding: 0.4rem 0.5rem; max-width: 100%; }
textarea { width: 100%; min-height: 6rem; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.875rem; }
[aria-invalid="true"] { border-color: var(--bad); border-width: 2px; }
button { cursor: pointer; border-radius: 0.375rem; padding: 0.45rem 0.9rem; border: 1px solid var(--accent); background: var(--accent);
  color: var(--accent-fg); font-weight: 600; min-height: 2.5rem; }
button.secondary { background: transparent; color: var(--accent); }
button.danger { background: transparent; color: var(--bad); border-color: var(--bad); }
.table-wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: 0.925rem; }
caption { text-align: left; font-weight: 600; padding: 0.25rem 0; }
th, td { text-align: left; vertical-align: top; padding: 0.4rem 0.5rem; border-bottom: 1px solid var(--line); }
th { font-weight: 600; }
td pre { max-height: 10rem; margin: 0; }
.badge { display: inline-block; border: 1px solid currentColor; border-radius: 999px; padding: 0 0.5rem; font-size: 0.8rem; font-weight: 600; }
.ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); }
.notice { border-left: 4px solid var(--accent); padding: 0.5rem 0.75rem; background: var(--panel); margin: 0 0 1rem; }
.notice.error { border-left-color: var(--bad); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; margin: 0 0 1rem; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
ol.events { list-style: none; padding: 0; margin: 0; }
ol.events > li { margin: 0 0 0.35rem; }
ol.events details { background: var(--panel); border: 1px solid var(--line); border-radius: 0.5rem; padding: 0.3rem 0.75rem; min-width: 0; }
ol.events details[open] { padding-bottom: 0.75rem; }
ol.events summary { font-weight: 400; overflow-wrap: anywhere; }
.event-title { font-weight: 600; }
.event-body { margin-top: 0.5rem; }
.shapes { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: 0 1rem; }
.pager { display: flex; flex-wrap: wrap; gap: 1rem; margin: 0.5rem 0 1rem; }
.actions { display: flex; flex-wrap: wrap; gap: 0.5rem; }
.layout { display: grid; grid-template-columns: 17rem minmax(0, 1fr); }
.layout > nav { border-right: 1px solid var(--line); padding: 1rem; position: sticky; top: 0; align-self: start; max-height: 100vh; overflow: auto; }
.layout > nav ul { list-style: none; padding: 0; margin: 0 0 1rem; }
.layout > nav li { margin: 0.15rem 0; }
.layout > nav a { text-decoration: none; display: flex; gap: 0.4rem; align-items: baseline; }
.layout > nav a > span:last-child { overflow-wrap: anywhere; min-width: 0; }
.layout > nav .method { margin-right: 0; flex: none; }
.layout > nav h2 { font-size: 0.95rem; margin: 0.5rem 0 0.25rem; }
.method { display: inline-block; min-width: 3.75rem; font-weight: 700; font-size: 0.8rem; text-align: center; border-radius: 0.25rem;
  padding: 0.05rem 0.35rem; margin-right: 0.4rem; border: 1px solid currentColor; }
.method.post { color: var(--ok); } .method.get { color: var(--accent); } .method.delete { color: var(--bad); }
article.operation { scroll-margin-top: 1rem; }
.try { display: grid; gap: 0.6rem; margin-top: 0.5rem; }
.try .params { display: grid; grid-template-columns: repeat(auto-fit, minmax(13rem, 1fr)); gap: 0.5rem 0.75rem; }
.result { margin-top: 0.5rem; }
.check { display: flex; flex-wrap: wrap; gap: 0.25rem 0.5rem; align-items: center; }
.check input { width: 1.25rem; height: 1.25rem; margin: 0; }
details > summary { cursor: pointer; font-weight: 600; padding: 0.2rem 0; }
@media (max-width: 48rem) {
  .layout { grid-template-columns: 1fr; }
  .layout > nav { position: static; max-height: none; border-right: 0; border-bottom: 1px solid var(--line); }
  main { padding: 0.75rem; }
  th, td { padding: 0.35rem 0.3rem; }
}
`;
