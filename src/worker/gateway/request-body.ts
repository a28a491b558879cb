import { isJsonObject, type JsonObject } from "../../core/shared/json.js";
import { response, type ServiceResponse } from "../../core/messaging/response.js";

/** A request body read as a JSON object, or the error response that refuses it. */
export type BodyParse = { ok: true; value: JsonObject } | { ok: false; error: ServiceResponse };

/**
 * The deepest nesting a request body may have (objects and arrays inside each other). Real
 * requests are a few levels deep; thousands of levels only serve to exhaust the stack of whatever
 * walks the value next (a validator, JSON encoding on the way to another Worker).
 */
export const MAX_BODY_DEPTH = 64;

// A UTF-16 surrogate that is not part of a pair: no text, and not encodable as UTF-8.
const loneSurrogate = /\p{Cs}/u;

/**
 * A request's body (the bytes the body limit read, `c.var.body`) read as a JSON object by
 * {@link parseBody}, as UTF-8 text whatever its Content-Type says (a byte order mark is dropped).
 * Bytes that are not UTF-8 are refused (`invalid_json`), not read as U+FFFD as `Request.text()`
 * would: two different ids must not become one. Read as bytes because workerd warns on every
 * `text()` of a body whose type is not text — `curl -d` sends application/x-www-form-urlencoded.
 */
export function readBody(bytes: Uint8Array): BodyParse {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { ok: false, error: response.error("invalid_json", "the body is not UTF-8 text") };
  }
  return parseBody(text);
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * An empty body is `{}`; anything else must be a JSON object (`invalid_json`, `invalid_request`),
 * nested at most {@link MAX_BODY_DEPTH} levels, whose strings (keys included) are well-formed
 * Unicode and whose numbers are finite (`invalid_request` with the reason).
 */
export function parseBody(text: string): BodyParse {
  if (text.trim() === "") return { ok: true, value: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: response.error("invalid_json", error instanceof Error ? error.message : "malformed JSON") };
  }
  if (!isJsonObject(value)) return { ok: false, error: response.error("invalid_request", "the body must be a JSON object") };
  const problem = shapeProblem(value);
  if (problem !== null) return { ok: false, error: response.error("invalid_request", problem) };
  return { ok: true, value };
}

/** Why a parsed JSON value is refused (too deep, a malformed string), or null. Iterative: no stack to exhaust. */
function shapeProblem(root: JsonObject): string | null {
  const pending: { value: unknown; depth: number }[] = [{ value: root, depth: 1 }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const { value, depth } = item;
    if (typeof value === "string") {
      if (loneSurrogate.test(value)) return "the body contains a string with an unpaired UTF-16 surrogate";
      continue;
    }
    // JSON.parse reads 1e400 as Infinity, which no JSON carries on (it would arrive as null).
    if (typeof value === "number") {
      if (!Number.isFinite(value)) return "the body contains a number too large to represent";
      continue;
    }
    if (typeof value !== "object" || value === null) continue;
    if (depth > MAX_BODY_DEPTH) return `the body is nested deeper than ${MAX_BODY_DEPTH} levels`;
    for (const [key, child] of Object.entries(value)) {
      if (loneSurrogate.test(key)) return "the body contains a key with an unpaired UTF-16 surrogate";
      pending.push({ value: child, depth: depth + 1 });
    }
  }
  return null;
}

/** Default largest request body: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
