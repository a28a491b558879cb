import * as v from "valibot";
import { isJsonObject, type Json } from "../shared/json.js";
import type { DomainEvent } from "../messaging/message.js";
import type { EventMetadata, RecordedEvent } from "../aggregates/stream-store.js";

/**
 * A committed event as the read side sees it: which stream it belongs to, its version there, and
 * its type and data in today's shape (upcast, as a stream read shows it). Projections and process
 * managers receive exactly this, whether it came off the queue or was read back from the stream.
 */
export type ProjectedEvent<Event extends DomainEvent = DomainEvent> = {
  /** The aggregate type: the stream name prefix, for instance `"account"`. */
  stream: string;
  /** The full stream name, `<stream>-<id>`. */
  streamName: string;
  /** The aggregate id. */
  aggregateId: string;
  /** The event's version in its stream (0 for the first). */
  version: number;
  type: Event["type"];
  data: Event["data"];
  /** The schema version of the shape `data` is in. */
  schemaVersion: number;
  /** The ids of the message that produced it, its service, and the app's own metadata. */
  metadata: EventMetadata;
  /** When it was committed (ISO 8601). */
  recordedAt: string;
};

/**
 * What travels on the queue for one committed event. The `event` form carries the event; an
 * event too large for one queue message travels as a `reference` (where it is, not what it is),
 * and the consumer reads it back from its stream, as it fills a gap.
 */
export type EventEnvelope =
  | { format: typeof ENVELOPE_FORMAT; kind: "event"; publishedAt: string; event: ProjectedEvent }
  | { format: typeof ENVELOPE_FORMAT; kind: "reference"; publishedAt: string; ref: EventReference };

/** Where an event is: its stream and version. */
export type EventReference = { stream: string; streamName: string; aggregateId: string; version: number };

/** The envelope format this code writes and reads. */
export const ENVELOPE_FORMAT = 1;

/**
 * The largest envelope sent with its event, in UTF-8 bytes. A Queues message holds at most 128 KB;
 * the rest is left for the platform's own framing.
 */
export const MAX_ENVELOPE_BYTES = 120_000;

/** The aggregate id in a stream name: `streamName` is `<stream>-<id>`. */
export function aggregateIdOf(stream: string, streamName: string): string {
  return streamName.slice(stream.length + 1);
}

/** The event of a stream read, as the read side sees it (`stream` is the aggregate type). */
export function projectedEvent(stream: string, streamName: string, event: RecordedEvent): ProjectedEvent {
  return {
    stream,
    streamName,
    aggregateId: aggregateIdOf(stream, streamName),
    version: event.version,
    type: event.type,
    data: event.data,
    schemaVersion: event.schemaVersion,
    metadata: event.metadata,
    recordedAt: event.recordedAt,
  };
}

/** The envelope of `event`: with the event, or a reference when it is too large for one queue message. */
export function envelopeOf(event: ProjectedEvent, publishedAt: string): { envelope: EventEnvelope; bytes: number } {
  const envelope: EventEnvelope = { format: ENVELOPE_FORMAT, kind: "event", publishedAt, event };
  const bytes = utf8Bytes(JSON.stringify(envelope));
  if (bytes <= MAX_ENVELOPE_BYTES) return { envelope, bytes };
  const { stream, streamName, aggregateId, version } = event;
  const ref: EventEnvelope = { format: ENVELOPE_FORMAT, kind: "reference", publishedAt, ref: { stream, streamName, aggregateId, version } };
  return { envelope: ref, bytes: utf8Bytes(JSON.stringify(ref)) };
}

/** Where the envelope's event is. */
export function referenceOf(envelope: EventEnvelope): EventReference {
  if (envelope.kind === "reference") return envelope.ref;
  const { stream, streamName, aggregateId, version } = envelope.event;
  return { stream, streamName, aggregateId, version };
}

const name = v.pipe(v.string(), v.nonEmpty());
const version = v.pipe(v.number(), v.integer(), v.minValue(0));
const json = v.custom<Json>(() => true);

const ReferenceSchema = v.object({ stream: name, streamName: name, aggregateId: v.string(), version });

const EventSchema = v.object({
  ...ReferenceSchema.entries,
  type: name,
  data: json,
  schemaVersion: v.pipe(v.number(), v.integer()),
  metadata: v.custom<EventMetadata>(
    (value) => isJsonObject(value) && typeof value["messageId"] === "string" && typeof value["correlationId"] === "string",
    "must carry the message's ids",
  ),
  recordedAt: v.string(),
});

const EnvelopeSchema = v.variant("kind", [
  v.object({ format: v.literal(ENVELOPE_FORMAT), kind: v.literal("event"), publishedAt: v.string(), event: EventSchema }),
  v.object({ format: v.literal(ENVELOPE_FORMAT), kind: v.literal("reference"), publishedAt: v.string(), ref: ReferenceSchema }),
]);

/**
 * A queue message's body as an envelope, or why it is not one (another format, another app's
 * message, a stream name that does not start with its aggregate type).
 */
export function readEnvelope(body: unknown): { ok: true; envelope: EventEnvelope } | { ok: false; problem: string } {
  const parsed = v.safeParse(EnvelopeSchema, body);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue.path?.map((item) => String(item.key)).join(".") ?? "";
    return { ok: false, problem: `not an event envelope: ${path === "" ? "" : `${path}: `}${issue.message}` };
  }
  const envelope = parsed.output as EventEnvelope;
  const ref = referenceOf(envelope);
  if (!ref.streamName.startsWith(`${ref.stream}-`) || aggregateIdOf(ref.stream, ref.streamName) !== ref.aggregateId) {
    return { ok: false, problem: `not an event envelope: stream ${ref.streamName} is not ${ref.stream}-${ref.aggregateId}` };
  }
  return { ok: true, envelope };
}

const encoder = new TextEncoder();

/** The UTF-8 length of `text` (what the queue counts). */
function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}
