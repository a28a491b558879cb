/**
 * JSON values: what survives `JSON.stringify` then `JSON.parse` unchanged. Everything a Message
 * carries is JSON so that it can cross a Worker, a Durable Object or a wire unchanged.
 */

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | JsonObject;

/** A JSON object (a plain map from string keys to JSON values). */
export type JsonObject = { [key: string]: Json };

/** True for a plain JSON object: not null, not an array. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Why `value` is not JSON that survives a round trip unchanged (a function, `undefined`, NaN, a
 * Date, a class instance, a cycle…), or null when it is. `path` names where the problem is.
 */
export function jsonProblem(value: unknown, path = "", seen: Set<object> = new Set()): string | null {
  switch (typeof value) {
    case "string":
    case "boolean":
      return null;
    case "number":
      return Number.isFinite(value) ? null : `${path || "value"} is not a finite number`;
    case "object": {
      if (value === null) return null;
      if (seen.has(value)) return `${path || "value"} is circular`;
      const prototype: unknown = Object.getPrototypeOf(value);
      const isArray = Array.isArray(value);
      if (!isArray && prototype !== Object.prototype && prototype !== null) {
        return `${path || "value"} is not a plain object`;
      }
      seen.add(value);
      for (const key of Object.keys(value)) {
        const item: unknown = (value as Record<string, unknown>)[key];
        // Most values are leaves that JSON carries: checked here, without a path or a call.
        if (typeof item === "string" || typeof item === "boolean" || item === null || (typeof item === "number" && Number.isFinite(item))) continue;
        const problem = jsonProblem(item, path === "" ? key : `${path}.${key}`, seen);
        if (problem !== null) return problem;
      }
      seen.delete(value);
      return null;
    }
    default:
      return `${path || "value"} is ${typeof value}, which JSON cannot carry`;
  }
}

/** A deep copy through JSON: what an in-memory store keeps or hands out is never shared, as with real storage. */
export function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The UTF-8 length of `text`, or its UTF-16 length when that alone proves it is within `limit`. */
export function utf8Length(text: string, limit: number): number {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most texts are shown small without encoding them.
  return text.length * 3 <= limit ? text.length : new TextEncoder().encode(text).length;
}
