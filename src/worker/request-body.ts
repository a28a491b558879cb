import { isJsonObject, type JsonObject } from "../core/shared/json.js";
import { response, type ServiceResponse } from "../core/messaging/response.js";

/** A request body read as a JSON object, or the error response that refuses it. */
export type BodyParse = { ok: true; value: JsonObject } | { ok: false; error: ServiceResponse };

/** An empty body is `{}`; anything else must be a JSON object (`invalid_json`, `invalid_request`). */
export function parseBody(text: string): BodyParse {
  if (text.trim() === "") return { ok: true, value: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: response.error("invalid_json", error instanceof Error ? error.message : "malformed JSON") };
  }
  if (!isJsonObject(value)) return { ok: false, error: response.error("invalid_request", "the body must be a JSON object") };
  return { ok: true, value };
}
