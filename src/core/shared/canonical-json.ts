/**
 * JSON with object keys sorted, so that `{a, b}` and `{b, a}` read the same. Its text is stored
 * (request fingerprints, principals): it must never change for a given value. Built in one
 * string, without the arrays of entries a map-and-join would make — it runs on every command.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value !== "object" || value === null) return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  // Keys in UTF-16 code unit order (the default sort of strings); undefined values are left out.
  const keys = Object.keys(value).sort();
  let text = "{";
  for (const key of keys) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    if (text.length > 1) text += ",";
    text += `${JSON.stringify(key)}:${canonicalJson(item)}`;
  }
  return `${text}}`;
}
