// Assertions for the storage contracts: plain JavaScript, so that vitest (in workerd) and the
// smoke runs on Node, Deno and Bun share one copy of each contract.

/** JSON with sorted keys: equal data reads the same whatever the key order. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    return `{${Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "undefined";
}

/** Throws unless `actual` and `expected` are the same data. */
export function equal(actual, expected, label) {
  const [a, e] = [canonical(actual), canonical(expected)];
  if (a !== e) throw new Error(`${label}: expected ${e}, got ${a}`);
}

/** Throws unless `promise` rejects. */
export async function rejects(promise, label) {
  try {
    await promise;
  } catch {
    return;
  }
  throw new Error(`${label}: expected a rejection`);
}
