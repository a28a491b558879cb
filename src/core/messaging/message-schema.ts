import * as v from "valibot";
import { isJsonObject, type JsonObject } from "../shared/json.js";
import type { DomainEvent, Message } from "./message.js";
import type { ServiceResponse } from "./response.js";

/*
 * The shape of a Message as it arrives from elsewhere (another Worker, a Durable Object), as a
 * Standard Schema (valibot, which tree-shakes to what is used). Only the envelope is checked: a
 * request, an event's data or a response's payload is the app's JSON and is checked by the app's
 * own schemas.
 */

const jsonObject = v.custom<JsonObject>(isJsonObject, "must be a JSON object");
const serviceResponse = v.custom<ServiceResponse>(
  (value) => isJsonObject(value) && typeof value["status"] === "string",
  "must be a response with a status",
);
const event = v.custom<DomainEvent>(
  (value) => isJsonObject(value) && typeof value["type"] === "string" && "data" in value,
  "must be an event { type, data }",
);

/** A Message as JSON: what {@link messageProblem} and the transports check. */
export const MessageSchema = v.object({
  serviceName: v.pipe(v.string(), v.nonEmpty("must not be empty")),
  id: v.pipe(v.string(), v.nonEmpty("must not be empty")),
  correlationId: v.string(),
  causationId: v.string(),
  trace: v.record(v.string(), v.string()),
  invokedAt: v.string(),
  dryRun: v.union([v.boolean(), v.literal("verbose")]),
  rawRequest: v.nullable(jsonObject),
  request: v.optional(v.unknown(), null),
  valid: v.boolean(),
  assigns: jsonObject,
  response: v.nullable(serviceResponse),
  events: v.array(event),
  aggregateMeta: v.object({
    id: v.optional(v.string()),
    version: v.optional(v.number()),
    expectedVersion: v.optional(v.number()),
  }),
  halted: v.boolean(),
}) satisfies v.GenericSchema<unknown, Message>;

/**
 * Why `value` is not a well-formed Message (the first field missing or of the wrong type), or
 * null when it is. For messages that arrive from elsewhere; a message built by this library's
 * helpers is well-formed by construction.
 */
export function messageProblem(value: unknown): string | null {
  const result = v.safeParse(MessageSchema, value);
  if (result.success) return null;
  const [issue] = result.issues;
  const path = v.getDotPath(issue) ?? "";
  return path === "" ? issue.message : `${path}: ${issue.message}`;
}
