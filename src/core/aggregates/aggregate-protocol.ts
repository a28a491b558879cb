import type { Json } from "../shared/json.js";
import type { Message } from "../messaging/message.js";
import type { ServiceResponse } from "../messaging/response.js";
import type { PendingFollowUp } from "../scheduling/follow-up.js";
import type { RecordedEvent, StreamStatus } from "./stream-store.js";

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
  /** The jurisdiction the stream lives in (a Durable Object residency), when it has one. */
  jurisdiction?: string;
};

/** Soft: the aggregate answers `not_found` and its events are kept. Hard: its storage is removed. */
export type DeleteMode = "soft" | "hard";

/** Options of a stream deletion. */
export type DeleteOptions = { mode: DeleteMode; expectedVersion?: number };

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
}
