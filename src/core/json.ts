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
