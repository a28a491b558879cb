import type { Json } from "../shared/json.js";
import type { DomainEvent, Message } from "../messaging/message.js";
import type { ErrorResponse, ServiceResponse } from "../messaging/response.js";
import type { PendingFollowUp } from "../scheduling/follow-up.js";
import type { ScheduleOutcome } from "../scheduling/schedule-store.js";
import type { RecordedEvent, StreamState, StreamStatus } from "./stream-store.js";
import type { StreamUsage } from "./stream-usage.js";

/**
 * How a command treats a missing aggregate: `new` requires that it does not exist yet, `existing`
 * that it does (`not_found` otherwise), `maybe` creates it when missing.
 */
export type CommandMode = "new" | "existing" | "maybe";

/**
 * A command for one aggregate instance, as it travels from the Worker to the instance. How it
 * treats a missing aggregate is the command's own definition, known on both sides.
 */
export type CommandRequest = {
  /** The full stream name, `<stream>-<id>`. */
  streamName: string;
  command: string;
  message: Message;
};

/**
 * What an aggregate instance's reply adds to the command's message: the caller already has the
 * rest (ids, trace, request), so only this crosses back from the object.
 */
export type CommandReply = Pick<Message, "response" | "events" | "aggregateMeta" | "assigns">;

/** The part of a reply message that the caller does not already have (see {@link CommandReply}). */
export function commandReplyOf(reply: Message): CommandReply {
  return { response: reply.response, events: reply.events, aggregateMeta: reply.aggregateMeta, assigns: reply.assigns };
}

/** The reply message: the command's message with what the instance answered. */
export function replyMessage(sent: Message, reply: CommandReply): Message {
  return { ...sent, ...reply, halted: true };
}

/**
 * A stored event as a stream read shows it: in today's shape (upcast), and — when that differs
 * from what is stored — the stored shape beside it.
 */
export type PageEvent = RecordedEvent & { stored?: { type: string; data: Json; schemaVersion: number } };

/** One page of a stream's events, for reading a stream (admin). */
export type StreamPage = {
  stream: string;
  status: StreamStatus;
  version: number;
  events: PageEvent[];
  /** Where the next page starts, or null when this page reaches the end. */
  nextFrom: number | null;
  /**
   * The snapshot a load would start from — the newest of the aggregate's snapshot schema — by its
   * version and schema; null when there is none (or the aggregate takes no snapshots).
   */
  snapshot: { version: number; schema: number } | null;
  /** The aggregate's pending follow-ups, in due order (see `accept`'s `schedule`). */
  followUps: PendingFollowUp[];
  /**
   * How its most recent follow-ups ended other than as they should — denied (their owner's rights
   * at delivery) or given up (`serviceResponded` said to stop) — newest first (at most 20).
   */
  followUpOutcomes: ScheduleOutcome[];
  /** The jurisdiction the stream lives in (a Durable Object residency), when it has one. */
  jurisdiction?: string;
  /** What the stream's object has cost so far (Durable Objects), when it counts. */
  usage?: StreamUsage;
  /**
   * How many committed events its object has not yet sent to the read side (an object with an
   * outbox; they go out right after their commit, else when its alarm rings).
   */
  unpublished?: number;
};

/** Soft: the aggregate answers `not_found` and its events are kept. Hard: its storage is removed. */
export type DeleteMode = "soft" | "hard";

/** Options of a stream deletion. */
export type DeleteOptions = { mode: DeleteMode; expectedVersion?: number };

/**
 * What a hard delete removed, as a Durable Object aggregate answers it in its `ok` payload: how
 * many events, snapshots, idempotency records, events not known to be sent to the read side (the outbox) and pending
 * follow-ups; whether an alarm was set; the jurisdiction the stream lived in, when it had one, and
 * then whether its home's record of it went too; and when (ISO 8601, the object's clock — the one
 * its events were recorded by).
 */
export type StorageRemoved = {
  deletedAt: string;
  events: number;
  snapshots: number;
  idempotencyRecords: number;
  outbox: number;
  followUps: number;
  alarm: boolean;
  jurisdiction?: string;
  homeRecord?: boolean;
};

/**
 * A point in a stream's past: a version (0 is the first event), or a time — an RFC 3339
 * date-time with a time zone — meaning the last event recorded at or before it.
 */
export type PastPoint = { version: number } | { at: string };

/**
 * What a look back at a stream asks (admin): the state at `point` and, with `dryRun`, a command run
 * as a dry run against that state — `message` is the command's message for this stream, as in a
 * {@link CommandRequest}.
 */
export type StateQuery = { point: PastPoint; dryRun?: { command: string; message: Message } };

/**
 * An aggregate's state at a point of its past: its events up to `version` replayed from the first
 * one through today's upcasters and `apply` (snapshots are not used: they hold a later state, or
 * one written by an older release). Nothing is stored by a look back, a dry run included.
 */
export type PastState = {
  /** The full stream name, `<stream>-<id>`. */
  stream: string;
  /** The version the state reflects: the last event at or before the point. */
  version: number;
  /** When that event was recorded (ISO 8601). */
  recordedAt: string;
  /** The state, as JSON (through the aggregate's `stateToJson` when it has one). */
  state: Json;
  /** How many of the events replayed were stored in an older shape and upcast on the way. */
  upcastEvents: number;
  /** The stream as it is now. */
  now: StreamState;
  /**
   * The dry run asked for: what the command would have answered at `version` (`ok` with that
   * version), and the events it would have appended.
   */
  dryRun?: { response: ServiceResponse; events: DomainEvent[] };
};

/**
 * How a Worker reaches aggregate instances: the Durable Object adapter sends each request to the
 * object named after the stream; an in-memory adapter calls the instance directly. Failures come
 * back as responses, never as exceptions.
 */
export interface AggregateClient<Env> {
  /** Runs a command on the instance of `request.streamName` and resolves with the reply. */
  execute(env: Env, request: CommandRequest): Promise<Message>;
  /** Reads one page of a stream's events. */
  readStream(env: Env, streamName: string, page: { from: number; limit: number }): Promise<StreamPage>;
  /** Deletes a stream, softly or for good. */
  deleteStream(env: Env, streamName: string, options: DeleteOptions): Promise<ServiceResponse>;
  /**
   * The stream's state at a version or time, and a command's dry run against it ({@link StateQuery}),
   * storing nothing; refused with `not_found` (no such stream) or `invalid_request` (a point the
   * stream does not have). Optional, so that clients written before it still are clients: without
   * it the admin routes answer that the aggregate cannot look back.
   */
  stateAt?(env: Env, streamName: string, query: StateQuery): Promise<PastState | ErrorResponse>;
}
