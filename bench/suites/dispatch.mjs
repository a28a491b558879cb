// Dispatch benchmark (distribution): added with the node protocol.
export async function run() {
  return { rows: [] };
}
