import type { Aggregate } from "./aggregate.js";
import { canonicalJson } from "../shared/canonical-json.js";
import type { CommandRequest, DeleteOptions, StreamPage } from "./aggregate-protocol.js";
import { jsonProblem, type Json } from "../shared/json.js";
import { jsonLogger, withFields, type Logger } from "../shared/logger.js";
import { halt, validateRequest, type DomainEvent, type Message } from "../messaging/message.js";
import { response, type ServiceResponse } from "../messaging/response.js";
import type { ValidatedMessage } from "../messaging/router.js";
import type { EventMetadata, NewEvent, StreamStatus, StreamStore } from "./stream-store.js";
import { Telemetry } from "../messaging/telemetry.js";
import { withTimeout } from "../shared/timeout.js";

/** Options of an {@link AggregateInstance}. */
export type AggregateInstanceOptions = {
  /** The full stream name, `<stream>-<id>`. */
  streamName: string;
  logger?: Logger;
  telemetry?: Telemetry;
  /** The clock (ms since the epoch), for unload rules. */
  now?: () => number;
};

/** What an instance has done since it was created: for tests, benchmarks and operators. */
export type InstanceStats = {
  /** Times the state was loaded from storage. */
  loads: number;
  /** Events replayed by the most recent load. */
  replayedEvents: number;
  /** Version of the snapshot the most recent load started from, or null. */
  snapshotVersion: number | null;
  /** Whether state is in memory now. */
  loaded: boolean;
  version: number;
};

/** A decided command on its way to storage, with the state and version it was decided on. */
type Decided<State, Event extends DomainEvent> = {
  message: Message;
  decided: Message<unknown, Event>;
  events: Event[];
  decision: ServiceResponse;
  state: State;
  version: number;
  /** What makes a retry the same command (see {@link fingerprintOf}). */
  fingerprint: string;
  /** The instance's generation when the command started. */
  generation: number;
};

/** How long one command may take before it answers `service_timeout` and frees the queue. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

/** The largest response recorded for idempotency; a larger one is recorded without its payload. */
const MAX_RECORDED_RESPONSE_CHARS = 64 * 1024;

/** Largest serialised event (data plus metadata) accepted; a storage row holds at most 2 MB. */
export const MAX_EVENT_BYTES = 2_000_000;

const REPLAY_PAGE = 500;

/**
 * One aggregate instance at work: it loads its state (newest snapshot plus the events after it,
 * or the saved state), runs commands **one at a time** — even while a decision awaits I/O — and
 * stores each command's events atomically with the expected version. It never throws: every
 * failure is a response. Storage is reached only through the {@link StreamStore} port.
 */
export class AggregateInstance<State, Event extends DomainEvent> {
  readonly #aggregate: Aggregate<State, Event, string>;
  readonly #store: StreamStore;
  readonly #streamName: string;
  readonly #logger: Logger;
  readonly #telemetry: Telemetry;
  readonly #now: () => number;
  #queue: Promise<unknown> = Promise.resolve();
  #state: State | undefined;
  #version = -1;
  #status: StreamStatus = "missing";
  #loaded = false;
  #unloadAt = Number.POSITIVE_INFINITY;
  /** Bumped when a command overruns its deadline: its late result must not be stored. */
  #generation = 0;
  #stats: Omit<InstanceStats, "loaded" | "version"> = { loads: 0, replayedEvents: 0, snapshotVersion: null };

  /** An instance of `aggregate` over `store`; nothing is loaded until the first command. */
  constructor(aggregate: Aggregate<State, Event, string>, store: StreamStore, options: AggregateInstanceOptions) {
    this.#aggregate = aggregate;
    this.#store = store;
    this.#streamName = options.streamName;
    this.#logger = withFields(options.logger ?? jsonLogger(), { stream: options.streamName });
    this.#telemetry = options.telemetry ?? new Telemetry();
    this.#now = options.now ?? Date.now;
  }

  /** The full stream name. */
  get streamName(): string {
    return this.#streamName;
  }

  /** Counters and the current version. */
  get stats(): InstanceStats {
    return { ...this.#stats, loaded: this.#loaded, version: this.#version };
  }

  /**
   * Runs one command after every command before it has finished, and resolves with the reply. A
   * command that has not finished within the aggregate's `commandTimeoutMs` answers
   * `service_timeout` and frees the queue; whatever it decides later is discarded.
   */
  execute(request: CommandRequest): Promise<Message> {
    return this.#serially(async () => {
      const generation = this.#generation;
      const work = this.#execute(request, generation).catch((error: unknown) => {
        // Storage failed mid-way: the transaction rolled back. Reload before the next command.
        this.#logger.error("command failed", { command: request.command, messageId: request.message.id, error });
        this.#drop();
        return halt(request.message, response.error("internal_error"));
      });
      const timeoutMs = this.#aggregate.options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
      return withTimeout(work, timeoutMs, () => {
        this.#generation += 1;
        this.#logger.error("command overran its deadline: its result will be discarded", {
          command: request.command,
          messageId: request.message.id,
          timeoutMs,
        });
        const { serviceName, id } = request.message;
        return halt(request.message, response.serviceTimeout(serviceName, id, timeoutMs));
      });
    });
  }

  /** One page of the stored events (in order with the commands before it). */
  read(from: number, limit: number): Promise<StreamPage> {
    return this.#serially(async () => {
      const [state, events] = await Promise.all([this.#store.streamState(), this.#store.readEvents(from, limit + 1)]);
      const page = events.slice(0, limit);
      const next = events[limit];
      return { stream: this.#streamName, status: state.status, version: state.version, events: page, nextFrom: next?.version ?? null };
    });
  }

  /** Deletes the stream (soft: events kept, the aggregate answers `not_found`; hard: all removed). */
  delete(options: DeleteOptions): Promise<ServiceResponse> {
    return this.#serially(async () => {
      const result =
        options.mode === "soft"
          ? await this.#store.softDelete(options.expectedVersion)
          : await this.#store.hardDelete(options.expectedVersion);
      if (result.ok) {
        this.#drop();
        return response.ok();
      }
      if (result.reason === "not_found") return response.error("not_found");
      return response.error("wrong_expected_version", { expected: options.expectedVersion ?? null, actual: result.actualVersion });
    });
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #execute({ command, mode, message: received }: CommandRequest, generation: number): Promise<Message> {
    const definition = this.#aggregate.commandNamed(command);
    if (definition === undefined) return halt(received, response.error("unknown_command", { command }));
    const message = definition.schema === undefined ? received : await validateRequest(received, definition.schema);
    if (message.halted) return message;

    await this.#load();
    const state = this.#state as State;
    const version = this.#version;
    const log = withFields(this.#logger, { command, messageId: message.id });

    // Only a command that may store something is recorded, so only it needs a fingerprint.
    const fingerprint = message.dryRun === false ? await fingerprintOf(command, message) : "";
    if (message.dryRun === false) {
      const recorded = await this.#store.processed(message.id);
      if (recorded !== null) {
        if (recorded.fingerprint !== fingerprint) {
          // The same id for another command, request or caller: never answer it with someone else's reply.
          log.warn("message id reused for a different command, request or caller");
          return halt(message, response.error("idempotency_key_reused", { messageId: message.id }));
        }
        log.warn("message already processed: answering as before, without running it again");
        return halt(message, recorded.response);
      }
    }
    if (this.#status === "deleted" || (this.#status === "live" && mode === "new")) {
      if (mode !== "new") return halt(message, response.error("not_found"));
      return halt(message, response.error("wrong_expected_version", { expected: -1, actual: version }));
    }
    if (this.#status === "missing" && mode === "existing") return halt(message, response.error("not_found"));
    const expected = message.aggregateMeta.expectedVersion;
    if (expected !== undefined && expected !== version) {
      return halt(message, response.error("wrong_expected_version", { expected, actual: version }));
    }

    const input = {
      ...message,
      response: null,
      halted: false,
      events: [],
      aggregateMeta: { ...message.aggregateMeta, version },
    } as ValidatedMessage<unknown, Event>;
    this.#telemetry.emit("handle_msg", {}, { aggregate: this.#aggregate.stream, message: command });
    let decided: Message<unknown, Event>;
    try {
      decided = await definition.decide(input, state);
    } catch (error) {
      log.error("decision threw: nothing stored", { error });
      return halt(message, response.error("internal_error"));
    }
    if (typeof decided !== "object" || decided === null || decided.id !== message.id) {
      log.error("decision did not return its message");
      return halt(message, response.error("internal_error"));
    }
    const decision = decided.response ?? response.ok();

    if (message.dryRun !== false) {
      await this.#hook("rollback", () => this.#aggregate.options.rollback?.(decided, state), log);
      const verbose = message.dryRun === "verbose";
      const answer = isSuccess(decision) ? response.ok(verbose ? decided.events : undefined) : decision;
      return { ...decided, response: withVersion(answer, version), events: verbose ? decided.events : [], halted: true };
    }
    if (decided.events.length === 0) return this.#nothingStored(decided, decision, version);

    let toStore = decided;
    const beforeAppend = this.#aggregate.options.beforeAppend;
    if (beforeAppend !== undefined) {
      try {
        toStore = await beforeAppend(decided, state);
      } catch (error) {
        log.error("beforeAppend threw: nothing stored", { error });
        return halt(message, response.error("internal_error"));
      }
    }
    return this.#commit({ message, decided, events: toStore.events, decision, state, version, fingerprint, generation }, log);
  }

  /**
   * Applies, stores and commits the events of a decided command, on the state and version the
   * decision saw: had anything changed since, the append's version check refuses it.
   */
  async #commit(command: Decided<State, Event>, log: Logger): Promise<Message> {
    const { message, decided, events, decision, state, version } = command;
    const options = this.#aggregate.options;
    const stateBased = options.persistence === "state";
    if (events.length === 0 && this.#status === "missing") return this.#nothingStored(decided, decision, version);

    const newEvents: NewEvent[] = [];
    const metadata = this.#metadataOf(message, decided);
    for (const event of events) {
      const invalid = eventProblem(event);
      if (invalid !== null) {
        log.error("decision produced an invalid event: nothing stored", { problem: invalid });
        return halt(message, response.error("invalid_event", { type: String(event?.type), problem: invalid }));
      }
      const bytes = utf8Length(JSON.stringify(event.data) + JSON.stringify(metadata), MAX_EVENT_BYTES);
      if (bytes > MAX_EVENT_BYTES) {
        return halt(message, response.error("event_too_large", { type: event.type, bytes, maxBytes: MAX_EVENT_BYTES }));
      }
      newEvents.push({ type: event.type, data: event.data, metadata });
    }

    let next = state;
    try {
      for (const event of events) next = options.apply(next, event);
    } catch (error) {
      log.error("apply threw: nothing stored", { error });
      return halt(message, response.error("internal_error"));
    }
    // A state-based aggregate stores no events, but its version still counts them.
    const newVersion = version + events.length;
    const answer = withVersion(decision, newVersion);

    let persistedState: Json | undefined;
    if (stateBased || this.#snapshotDue(version, newVersion)) {
      const json = options.stateToJson === undefined ? (next as Json) : options.stateToJson(next);
      const problem = jsonProblem(json, "state");
      const bytes = problem === null ? utf8Length(JSON.stringify(json), MAX_EVENT_BYTES) : 0;
      if (problem === null && bytes <= MAX_EVENT_BYTES) persistedState = json;
      else if (stateBased && problem !== null) {
        log.error("state is not JSON: nothing stored", { problem });
        return halt(message, response.error("internal_error"));
      } else if (stateBased) {
        return halt(message, response.error("state_too_large", { bytes, maxBytes: MAX_EVENT_BYTES }));
      } else log.warn("snapshot skipped: the state is not JSON or too large for a row", { problem, bytes });
    }

    if (command.generation !== this.#generation) {
      log.error("decision finished after its deadline: nothing stored");
      return halt(message, response.error("internal_error"));
    }

    const result = await this.#store.append({
      streamName: this.#streamName,
      expectedVersion: version,
      events: stateBased ? [] : newEvents,
      newVersion,
      messageId: message.id,
      fingerprint: command.fingerprint,
      response: recordable(answer, log),
      ...(stateBased && persistedState !== undefined ? { state: persistedState } : {}),
      ...(!stateBased && persistedState !== undefined
        ? { snapshot: { version: newVersion, state: persistedState, schema: options.snapshot?.schema ?? 1 } }
        : {}),
    });
    if (!result.ok) {
      // Only one instance writes a stream, so this means storage changed under us: reload.
      log.error("stream moved under this instance", { expected: version, actual: result.actualVersion });
      this.#drop();
      return halt(message, response.error("wrong_expected_version", { expected: version, actual: result.actualVersion }));
    }
    this.#state = next;
    this.#version = newVersion;
    this.#status = "live";
    await this.#hook("commit", () => options.commit?.(decided, next), log);
    this.#applyUnloadRules(events, next);
    return { ...decided, response: answer, halted: true };
  }

  /**
   * The reply of a command that stores nothing: as decided, with the version it is at — except
   * that a success on an aggregate that does not exist says `ok` at -1: it did not come to exist.
   */
  #nothingStored(decided: Message<unknown, Event>, decision: ServiceResponse, version: number): Message {
    const answer = this.#status === "missing" && isSuccess(decision) ? response.ok(decision.status === "ok" ? decision.payload : undefined) : decision;
    return { ...decided, response: withVersion(answer, version), halted: true };
  }

  #metadataOf(message: Message, decided: Message<unknown, Event>): EventMetadata {
    const own = this.#aggregate.options.eventMetadata?.(decided) ?? {};
    return {
      ...own,
      messageId: message.id,
      correlationId: message.correlationId,
      causationId: message.causationId,
      service: message.serviceName,
    };
  }

  #snapshotDue(version: number, newVersion: number): boolean {
    const every = this.#aggregate.options.snapshot?.every;
    if (every === undefined) return false;
    return Math.floor((newVersion + 1) / every) > Math.floor((version + 1) / every);
  }

  async #load(): Promise<void> {
    if (this.#loaded && this.#now() < this.#unloadAt) return;
    const options = this.#aggregate.options;
    const setState = options.setState ?? ((persisted: Json) => persisted as State);
    const stream = await this.#store.streamState();
    let state = options.initialState();
    let version = -1;
    let replayed = 0;
    let snapshotVersion: number | null = null;
    if (options.persistence === "state") {
      const saved = await this.#store.savedState();
      if (saved !== null) {
        state = setState(saved.state);
        version = saved.version;
      }
    } else {
      const snapshot = options.snapshot === undefined ? null : await this.#store.latestSnapshot(options.snapshot.schema ?? 1);
      if (snapshot !== null) {
        state = setState(snapshot.state);
        version = snapshot.version;
        snapshotVersion = snapshot.version;
      }
      for (;;) {
        const page = await this.#store.readEvents(version + 1, REPLAY_PAGE);
        for (const event of page) {
          state = options.apply(state, { type: event.type, data: event.data } as Event);
          version = event.version;
        }
        replayed += page.length;
        if (page.length < REPLAY_PAGE) break;
      }
    }
    if (version !== stream.version) {
      this.#logger.error("loaded state does not match the stream's version", { loaded: version, stream: stream.version });
    }
    this.#state = state;
    this.#version = stream.version;
    this.#status = stream.status;
    this.#loaded = true;
    this.#unloadAt = Number.POSITIVE_INFINITY;
    this.#stats = { loads: this.#stats.loads + 1, replayedEvents: replayed, snapshotVersion };
    this.#telemetry.emit("new_aggr_spawned", {}, { id: this.#streamName });
  }

  #applyUnloadRules(events: Event[], state: State): void {
    const rules = this.#aggregate.options.unload;
    if (rules === undefined) return;
    const now = this.#now();
    for (const event of events) {
      const rule = rules.events?.[event.type as Event["type"]];
      if (rule !== undefined) this.#unloadAt = Math.min(this.#unloadAt, now + rule.inMs);
    }
    if (rules.state === undefined) return;
    let decision: ReturnType<NonNullable<typeof rules.state>> = "skip";
    try {
      decision = rules.state(state);
    } catch {
      // A rule that does not match this state keeps the instance, as in the original.
    }
    if (decision === "unload") this.#drop();
    else if (typeof decision === "object") this.#unloadAt = Math.min(this.#unloadAt, now + decision.inMs);
  }

  #drop(): void {
    this.#loaded = false;
    this.#state = undefined;
  }

  async #hook(name: string, run: () => void | Promise<void> | undefined, log: Logger): Promise<void> {
    try {
      await run();
    } catch (error) {
      log.error(`${name} hook threw`, { error });
    }
  }
}

function isSuccess(r: ServiceResponse): boolean {
  return r.status === "ok" || r.status === "created";
}

/** `ok` → `{ok, version}`, `ok` with payload → `{ok, payload, version}`, `created` → `{created, id, version}`. */
function withVersion(r: ServiceResponse, version: number): ServiceResponse {
  if (r.status === "ok" || r.status === "created") return { ...r, version };
  return r;
}

function eventProblem(event: unknown): string | null {
  if (typeof event !== "object" || event === null) return "an event must be an object { type, data }";
  const { type, data } = event as { type?: unknown; data?: unknown };
  if (typeof type !== "string" || type === "") return "an event needs a non-empty string type";
  if (data === undefined) return "an event needs data (null when there is none)";
  return jsonProblem(data, "data");
}

/** The UTF-8 length of `text`, or its UTF-16 length when that alone proves it is within `limit`. */
function utf8Length(text: string, limit: number): number {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most events are shown small without encoding them.
  return text.length * 3 <= limit ? text.length : new TextEncoder().encode(text).length;
}

/**
 * What makes two messages with one id the same command: the command, the raw request and the
 * caller's identity, as a SHA-256 of their canonical JSON.
 */
async function fingerprintOf(command: string, message: Message): Promise<string> {
  const text = canonicalJson([command, message.rawRequest, message.assigns["identity"] ?? null]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The response as recorded for retries: a very large payload is left out (the status stays). */
function recordable(r: ServiceResponse, log: Logger): ServiceResponse {
  if (JSON.stringify(r).length <= MAX_RECORDED_RESPONSE_CHARS) return r;
  log.warn("response too large to record in full: a retry will get it without its payload or details");
  const { payload: _payload, details: _details, ...rest } = r as ServiceResponse & { payload?: Json; details?: Json };
  return rest as ServiceResponse;
}
