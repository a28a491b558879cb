import type { Logger } from "../shared/logger.js";
import type { Message } from "./message.js";
import type { ServiceResponse } from "./response.js";

/** A point in time as ISO 8601 UTC. */
type Start = { start: string };
/** When something finished and how long it took, in milliseconds. */
type Finished = { time: string; duration: number };

/**
 * The life-cycle events of the original library (same names; metadata keys in camelCase;
 * durations in milliseconds instead of native time units), keyed by name.
 *
 * On Workers, `Date.now()` only advances across I/O, so durations of pure CPU work read as 0.
 */
export type TelemetryEventMap = {
  discovering_service: { measurements: Start; metadata: { message: Message; callerNode: string } };
  service_not_found: { measurements: Finished; metadata: { message: Message; callerNode: string } };
  service_found: {
    measurements: Finished;
    metadata: { message: Message; callerNode: string; serviceNode: string };
  };
  invoking_service: {
    measurements: Start;
    metadata: { message: Message; callerNode: string; serviceNode: string };
  };
  service_responded: {
    measurements: Finished;
    metadata: { message: Message; callerNode: string; serviceNode: string };
  };
  checking_if_service_call_is_authorized: {
    measurements: Start;
    metadata: { message: Message; callerNode: string };
  };
  service_request_received: {
    measurements: Record<string, never>;
    metadata: { service: string; visibility: "public" | "private"; originNode: string };
  };
  executing_service: { measurements: Start; metadata: { node: string; service: string } };
  execution_finished: { measurements: Finished; metadata: { message: Message } };
  /** An aggregate instance was loaded into memory (the original: its process was spawned). */
  new_aggr_spawned: { measurements: Record<string, never>; metadata: { id: string } };
  /** An aggregate is about to decide a command. */
  handle_msg: { measurements: Record<string, never>; metadata: { aggregate: string; message: string } };
  /**
   * A command overran its aggregate's `commandTimeoutMs` (`timeoutAfter`, ms): it was answered
   * `service_timeout` and whatever it decides later is discarded (the original: its commit timed out).
   */
  aggregate_commit_timeout: { measurements: { timeoutAfter: number }; metadata: { aggregate: string; message: string } };
  /**
   * What one command cost its aggregate's object: the SQLite rows it read and wrote, and the
   * bytes the object stores after it (a Durable Object's billing units).
   */
  aggregate_usage: {
    measurements: { rowsRead: number; rowsWritten: number; storageBytes: number };
    metadata: { streamName: string; command: string; messageId: string };
  };
  /**
   * The scheduler delivered a message and its service answered (`status`: the answer's status,
   * null when it gave none); `lateness`: ms between the occurrence's due time and the delivery.
   */
  scheduled_delivery: {
    measurements: Finished & { lateness: number };
    metadata: { message: Message; key: string; attempt: number; status: ServiceResponse["status"] | null };
  };
  /** A scheduled message will be delivered again in `inMs`: `serviceResponded` asked for it, or the delivery failed. */
  scheduled_retry: {
    measurements: { inMs: number };
    metadata: { message: Message; key: string; attempt: number; reason: "service_responded" | "failed" };
  };
  /** A scheduled message failed and `serviceResponded` said to stop: attempts exhausted, or a failure a retry would not change. */
  scheduled_give_up: {
    measurements: Record<string, never>;
    metadata: { message: Message; key: string; attempt: number; response: ServiceResponse | null };
  };
  /** A scheduled message was refused for want of rights at delivery; its schedule is removed. */
  scheduled_denied: {
    measurements: Record<string, never>;
    metadata: { message: Message; key: string; attempt: number; principal: string | null; reason: string };
  };
  /** A scheduled message was cancelled (a recurring one stops): by its owner, or by an admin. */
  scheduled_cancel: {
    measurements: Record<string, never>;
    metadata: { key: string; messageId: string; owner: string | null; service: string; by: "owner" | "admin" };
  };
};

/** The name of a telemetry event. */
export type TelemetryEventName = keyof TelemetryEventMap;

/** One telemetry event: `{name, measurements, metadata}`, a tagged union on `name`. */
export type TelemetryEvent = {
  [N in TelemetryEventName]: { name: N } & TelemetryEventMap[N];
}[TelemetryEventName];

/** A subscriber: called synchronously, in emission order, for every event. */
export type TelemetryHandler = (event: TelemetryEvent) => void;

/**
 * Delivers telemetry events to the subscribers an app registers. A subscriber that throws is
 * logged and skipped; it never breaks the dispatch that emitted the event.
 */
export class Telemetry {
  readonly #handlers: TelemetryHandler[];
  readonly #logger: Logger | undefined;

  /** A telemetry hub with these subscribers; failures of subscribers go to `logger`. */
  constructor(handlers: readonly TelemetryHandler[] = [], logger?: Logger) {
    this.#handlers = [...handlers];
    this.#logger = logger;
  }

  /** True when someone listens; emitters skip building events otherwise. */
  get active(): boolean {
    return this.#handlers.length > 0;
  }

  /** Adds a subscriber; returns a function that removes it. */
  subscribe(handler: TelemetryHandler): () => void {
    this.#handlers.push(handler);
    return () => {
      const index = this.#handlers.indexOf(handler);
      if (index >= 0) this.#handlers.splice(index, 1);
    };
  }

  /** Emits one event to every subscriber. */
  emit<N extends TelemetryEventName>(
    name: N,
    measurements: TelemetryEventMap[N]["measurements"],
    metadata: TelemetryEventMap[N]["metadata"],
  ): void {
    if (this.#handlers.length === 0) return;
    const event = { name, measurements, metadata } as TelemetryEvent;
    for (const handler of this.#handlers) {
      try {
        handler(event);
      } catch (error) {
        this.#logger?.error("telemetry subscriber threw", { event: name, error });
      }
    }
  }
}

/** A subscriber that writes every event as a debug log line (without the full message). */
export function logTelemetry(logger: Logger): TelemetryHandler {
  return (event) => {
    const { message, ...rest } = event.metadata as { message?: Message };
    logger.debug(event.name, {
      ...event.measurements,
      ...rest,
      ...(message === undefined ? {} : { messageId: message.id, service: message.serviceName }),
    });
  };
}

/** Milliseconds since `startMs` (a `Date.now()` reading), and the current time as ISO. */
export function finished(startMs: number): { time: string; duration: number } {
  const now = Date.now();
  return { time: new Date(now).toISOString(), duration: now - startMs };
}
