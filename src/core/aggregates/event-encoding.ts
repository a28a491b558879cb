import { jsonProblem, utf8Length, type JsonObject } from "../shared/json.js";
import type { DomainEvent, Message } from "../messaging/message.js";
import { response, type ServiceResponse } from "../messaging/response.js";
import type { EventMetadata, NewEvent } from "./stream-store.js";
import { currentVersion, type Upcasters } from "./upcasting.js";

/** Largest serialised event (data plus metadata) accepted; a storage row holds at most 2 MB. */
export const MAX_EVENT_BYTES = 2_000_000;

/** Events ready to store, or the response that refuses the whole command and why. */
export type EncodedEvents = { ok: true; events: NewEvent[] } | { ok: false; refusal: ServiceResponse; problem: string };

/**
 * Checks a command's events and gives them what storage keeps with each: the message's metadata
 * and the current schema version of the event's type. An event that is not `{ type, data }` with
 * JSON data is the app's bug (`invalid_event`); one over {@link MAX_EVENT_BYTES} is refused
 * (`event_too_large`). Either refuses the whole command: nothing is stored.
 */
export function encodeEvents(events: readonly DomainEvent[], metadata: EventMetadata, upcasters: Upcasters | undefined): EncodedEvents {
  const encoded: NewEvent[] = [];
  const metadataBytes = utf8Length(JSON.stringify(metadata), MAX_EVENT_BYTES);
  for (const event of events) {
    const problem = eventProblem(event);
    if (problem !== null) {
      return { ok: false, problem, refusal: response.error("invalid_event", { type: String(event?.type), problem }) };
    }
    const bytes = utf8Length(JSON.stringify(event.data), MAX_EVENT_BYTES - metadataBytes) + metadataBytes;
    if (bytes > MAX_EVENT_BYTES) {
      const refusal = response.error("event_too_large", { type: event.type, bytes, maxBytes: MAX_EVENT_BYTES });
      return { ok: false, problem: "event too large", refusal };
    }
    encoded.push({ type: event.type, data: event.data, metadata, schemaVersion: currentVersion(upcasters, event.type) });
  }
  return { ok: true, events: encoded };
}

/** The metadata stored with every event of `message`: its ids and service, and the app's own. */
export function eventMetadataOf(message: Message, own: JsonObject = {}): EventMetadata {
  const metadata: EventMetadata = {
    ...own,
    messageId: message.id,
    correlationId: message.correlationId,
    causationId: message.causationId,
    service: message.serviceName,
  };
  // The span that stored the event: its queue delivery, projections and process steps join its
  // trace. (The instance made it with childTrace: always a well-formed one.)
  const traceparent = message.trace["traceparent"];
  if (traceparent !== undefined) metadata.traceparent = traceparent;
  return metadata;
}

/** Why `event` is not an event the library can store, or null. */
function eventProblem(event: unknown): string | null {
  if (typeof event !== "object" || event === null) return "an event must be an object { type, data }";
  const { type, data } = event as { type?: unknown; data?: unknown };
  if (typeof type !== "string" || type === "") return "an event needs a non-empty string type";
  if (data === undefined) return "an event needs data (null when there is none)";
  return jsonProblem(data, "data");
}

