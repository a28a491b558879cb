/**
 * JSON with object keys sorted, so that `{a, b}` and `{b, a}` read the same. Its text is stored
 * (request fingerprints, principals): it must never change for a given value. It runs on every
 * command: a value already in canonical order (the usual request) is written by one native
 * `JSON.stringify`; any other is built key by key, in one string. (A getter is read twice when
 * the value is in order — once to look, once to write: values here come from JSON, which has none.)
 */
export function canonicalJson(value: unknown): string {
  return inCanonicalOrder(value, 0) ? (JSON.stringify(value) ?? "null") : written(value);
}

/**
 * The canonical text built key by key (keys in UTF-16 code unit order; undefined members left
 * out) — the first definition, unchanged. Its members are written the same way, not looked at
 * again for the shortcut: looking at each level's subtree again would cost a deep value the
 * square of its depth.
 */
function written(value: unknown): string {
  if (typeof value !== "object" || value === null) return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(written).join(",")}]`;
  const keys = Object.keys(value).sort();
  let text = "{";
  for (const key of keys) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    if (text.length > 1) text += ",";
    text += `${JSON.stringify(key)}:${written(item)}`;
  }
  return `${text}}`;
}

/** How deep a value is looked at for the shortcut; a deeper one is written key by key. */
const SHORTCUT_DEPTH = 32;

/**
 * Whether `JSON.stringify` writes `value` exactly as {@link written} would: plain objects whose
 * keys already come in sorted order (integer-like keys, which objects list first, must sort so
 * too), dense plain arrays, and leaves that both write alike — not functions or symbols (a
 * member `JSON.stringify` drops, `written` writes as null), nor a Date or any object with a
 * prototype of its own, nor anything with a `toJSON` of its own or inherited (an array's, one not
 * enumerable, one added to `Object.prototype`): `JSON.stringify` calls it, `written` does not.
 */
function inCanonicalOrder(value: unknown, depth: number): boolean {
  if (typeof value !== "object" || value === null) return typeof value !== "function" && typeof value !== "symbol";
  if (depth > SHORTCUT_DEPTH) return false;
  if ("toJSON" in value) return false;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (let i = 0; i < value.length; i += 1) if (!(i in value) || !inCanonicalOrder(value[i], depth + 1)) return false;
    return true;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  let previous: string | undefined;
  for (const key of Object.keys(value)) {
    if (previous !== undefined && !(previous < key)) return false;
    previous = key;
    if (!inCanonicalOrder((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}
