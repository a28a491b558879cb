import { isJsonObject, jsonCopy, jsonProblem, utf8Length, type Json } from "../shared/json.js";
import { jsonLogger, withFields, type Logger } from "../shared/logger.js";
import { withTimeout } from "../shared/timeout.js";
import { halt, validateRequest, type DomainEvent, type Message } from "../messaging/message.js";
import { response, type ErrorResponse, type ServiceResponse } from "../messaging/response.js";
import type { ValidatedMessage } from "../messaging/router.js";
import { Telemetry } from "../messaging/telemetry.js";
import { childTrace, traceFields } from "../messaging/trace.js";
import { followUpPrincipal } from "../messaging/library-principals.js";
import { ownerOf } from "../scheduling/scheduler.js";
import { followUpOrigin, planFollowUps, type FollowUpChanges, type FollowUpOrigin, type FollowUpPolicy, type FollowUpWrites } from "../scheduling/follow-up.js";
import { RETENTION_EVERY, type AggregateDefinition, type CommandDefinition } from "./aggregate.js";
import type { CommandRequest, DeleteOptions, PageEvent, PastState, StateQuery, StreamPage } from "./aggregate-protocol.js";
import type { CommandContext, DecisionResult } from "./decision.js";
import { encodeEvents, eventMetadataOf, MAX_EVENT_BYTES } from "./event-encoding.js";
import { fingerprintOf, legacyFingerprintOf } from "./fingerprint.js";
import { isPastState, pastStateJson, REPLAY_PAGE, replayTo, type Replayed } from "./past-state.js";
import type { NewEvent, RecordedEvent, Retention, Snapshot, StreamStatus, StreamStore } from "./stream-store.js";
import { upcast } from "./upcasting.js";

/** Options of an {@link AggregateInstance}. */
export type AggregateInstanceOptions = {
  /** The full stream name, `<stream>-<id>`. */
  streamName: string;
  logger?: Logger;
  telemetry?: Telemetry;
  /** The clock (ms since the epoch), for unload rules and follow-ups' due times. */
  now?: () => number;
  /**
   * How the store delivers follow-ups (see `accept`'s `schedule`). Without it the store keeps
   * none, and a decision that schedules or cancels follow-ups is refused.
   */
  followUps?: FollowUpPolicy;
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

/** How long one command may take before it answers `service_timeout` and frees the queue. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

/** The largest response recorded for idempotency; a larger one is recorded without its payload. */
const MAX_RECORDED_RESPONSE_CHARS = 64 * 1024;

/** How many of its follow-ups' recent outcomes a stream read shows. */
const RECENT_FOLLOW_UP_OUTCOMES = 20;

/** Idempotency records older than this are dropped (7 days), unless the aggregate says otherwise. */
const DEFAULT_KEEP_FOR_MS = 7 * 24 * 60 * 60 * 1000;

/** At most this many of the newest idempotency records are kept, unless the aggregate says otherwise. */
const DEFAULT_KEEP_LAST = 10_000;

/** A command let through admission: who sent it, and what makes a retry of it the same command. */
type Admitted = { principal: string; fingerprint: string };

/**
 * A decided command: the decision's message, what it answered, its follow-up changes, the state
 * and version it saw, and — when the command is a delivery of one of this aggregate's own
 * follow-ups — which one.
 */
type Decided<State, Event extends DomainEvent> = {
  message: Message;
  decided: Message<unknown, Event>;
  answer: ServiceResponse;
  followUps: FollowUpChanges | null;
  state: State;
  version: number;
  delivers: FollowUpOrigin | null;
};

/** The state a command leaves behind, and what of it is persisted beside the events. */
type Applied<State> = { next: State; newVersion: number; snapshot?: Snapshot; state?: Json };

/**
 * The aggregate as a command sees it: the instance's own state (see `#seen`), or — for a dry run
 * against the past (`stateAt`) — a state replayed to an earlier version.
 */
type Seen<State> = { state: State; version: number; status: StreamStatus };

/** Either the reply that ends the command here, or what the next step works on. */
type Step<T> = { reply: Message } | { next: T };

/** The command running in an instance: when it must have finished, how to answer for it if not, and where its answer goes. */
type RunningCommand = { deadline: number; onTimeout: () => Message; resolve: (reply: Message) => void };

/**
 * One aggregate instance at work: it loads its state (newest snapshot plus the events after it,
 * or the saved state, upcast to today's event shapes), runs commands **one at a time** — even
 * while a decision awaits I/O — and stores each command's events atomically with the expected
 * version. It never throws: every failure is a response. Storage is reached only through the
 * {@link StreamStore} port.
 *
 * A command goes through these steps, in order (see {@link execute}): admit it (the idempotency
 * record, how it treats a missing aggregate, the expected version) → a delivery of one of this
 * aggregate's follow-ups that was cancelled meanwhile does nothing → decide → answer a dry run →
 * `beforeAppend` → encode and size-check its events → apply them → choose what state to persist
 * (a snapshot, or the state of a state-based aggregate) and plan its follow-ups → append, in one
 * transaction → adopt the new state.
 */
export class AggregateInstance<State, Event extends DomainEvent> {
  readonly #aggregate: AggregateDefinition<State, Event>;
  readonly #store: StreamStore;
  readonly #streamName: string;
  readonly #logger: Logger;
  readonly #telemetry: Telemetry;
  readonly #now: () => number;
  readonly #followUps: FollowUpPolicy | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** Work queued or running (commands, reads, deletes); the deadline watch stops at 0. */
  #queued = 0;
  /** The command running now: when it must have finished, and how to answer for it if not. */
  #running: RunningCommand | null = null;
  /** One timer watches the deadline of whichever command runs, not one timer per command. */
  #watch: ReturnType<typeof setTimeout> | undefined;
  #state: State | undefined;
  #version = -1;
  #status: StreamStatus = "missing";
  #loaded = false;
  #unloadAt = Number.POSITIVE_INFINITY;
  /** Bumped when a command overruns its deadline: its late result must not be stored. */
  #generation = 0;
  #stats: Omit<InstanceStats, "loaded" | "version"> = { loads: 0, replayedEvents: 0, snapshotVersion: null };

  /** An instance of `aggregate` over `store`; nothing is loaded until the first command. */
  constructor(aggregate: AggregateDefinition<State, Event>, store: StreamStore, options: AggregateInstanceOptions) {
    this.#aggregate = aggregate;
    this.#store = store;
    this.#streamName = options.streamName;
    this.#logger = withFields(options.logger ?? jsonLogger(), { stream: options.streamName });
    this.#telemetry = options.telemetry ?? new Telemetry();
    this.#now = options.now ?? Date.now;
    this.#followUps = options.followUps;
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
    return this.#serially(() => {
      const generation = this.#generation;
      const work = this.#run(request, generation).catch((error: unknown) => {
        // Storage failed mid-way: the transaction rolled back. Reload before the next command.
        this.#logger.error("command failed", { command: request.command, messageId: request.message.id, ...traceFields(request.message.trace), error });
        this.#drop();
        return halt(request.message, response.error("internal_error"));
      });
      const timeoutMs = this.#aggregate.options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
      return this.#withDeadline(work, timeoutMs, () => {
        this.#generation += 1;
        this.#logger.error("command overran its deadline: its result will be discarded", {
          command: request.command,
          messageId: request.message.id,
          timeoutMs,
        });
        if (this.#telemetry.active) this.#telemetry.emit("aggregate_commit_timeout", { timeoutAfter: timeoutMs }, { aggregate: this.#aggregate.stream, message: request.command });
        const { serviceName, id } = request.message;
        return halt(request.message, response.serviceTimeout(serviceName, id, timeoutMs));
      });
    });
  }

  /** One page of the stored events, in today's shapes (in order with the commands before it). */
  read(from: number, limit: number): Promise<StreamPage> {
    return this.#serially(async () => {
      const snapshots = this.#aggregate.options.snapshot;
      const [state, events, snapshot, followUps, followUpOutcomes] = await Promise.all([
        this.#store.streamState(),
        this.#store.readEvents(from, limit + 1),
        snapshots === undefined ? null : this.#store.latestSnapshot(snapshots.schema ?? 1),
        this.#store.followUps(),
        this.#store.followUpOutcomes(RECENT_FOLLOW_UP_OUTCOMES),
      ]);
      const page = events.slice(0, limit).map((event) => this.#shownEvent(event));
      const next = events[limit];
      return {
        stream: this.#streamName,
        status: state.status,
        version: state.version,
        events: page,
        nextFrom: next?.version ?? null,
        snapshot: snapshot === null ? null : { version: snapshot.version, schema: snapshot.schema },
        followUps,
        followUpOutcomes,
      };
    });
  }

  /**
   * The state at a point of the stream's past and, given a command, that command's dry run against
   * it ({@link StateQuery}); nothing is stored, not even an idempotency record. The replay waits its
   * turn behind the commands before it; the dry run's decision, which may await I/O, runs after
   * it, without holding up the commands behind.
   */
  async stateAt(query: StateQuery): Promise<PastState | ErrorResponse> {
    const options = this.#aggregate.options;
    let replayed: Replayed<State> | ErrorResponse;
    try {
      replayed = await this.#serially(() => replayTo(options, this.#store, query.point));
    } catch (error) {
      this.#logger.error("looking back failed: a stored event could not be replayed", { error });
      return response.error("internal_error");
    }
    if (!isPastState(replayed)) return replayed;
    const json = pastStateJson(options, replayed.state);
    if (json === null) {
      this.#logger.error("looking back: the state is not JSON", { version: replayed.version });
      return response.error("internal_error");
    }
    // A copy: whatever the dry run's decision does to the state object cannot change what is shown.
    const past: PastState = { stream: this.#streamName, ...replayed, state: jsonCopy(json) };
    return query.dryRun === undefined ? past : { ...past, dryRun: await this.#dryRunAt(query.dryRun, replayed) };
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
    this.#queued += 1;
    const run = this.#queue.then(work);
    this.#queue = run.then(
      () => this.#dequeued(),
      () => this.#dequeued(),
    );
    return run;
  }

  #dequeued(): void {
    this.#queued -= 1;
    // Idle: no timer is left behind (the next command sets one again).
    if (this.#queued === 0 && this.#watch !== undefined) {
      clearTimeout(this.#watch);
      this.#watch = undefined;
    }
  }

  /**
   * `work`'s reply, or `onTimeout()`'s when it has not settled within `timeoutMs`. Commands run
   * one at a time, so one timer watches them all: set for the running command's deadline, and
   * when it rings for a command that has since finished, set again for the one running now —
   * under load a timer per many commands, instead of one set and cleared for each.
   */
  #withDeadline(work: Promise<Message>, timeoutMs: number, onTimeout: () => Message): Promise<Message> {
    // Data and a method, no named arrow: this runs for every command (see ARCHITECTURE.md, "Hot paths").
    return new Promise((resolve) => {
      const running: RunningCommand = { deadline: Date.now() + timeoutMs, onTimeout, resolve };
      this.#running = running;
      if (this.#watch === undefined) this.#watchIn(timeoutMs);
      void work.then((reply) => this.#finish(running, reply));
    });
  }

  /** Answers the running command with `reply`, unless it was answered already (its deadline passed, or it finished). */
  #finish(running: RunningCommand, reply: Message): void {
    if (this.#running !== running) return;
    this.#running = null;
    running.resolve(reply);
  }

  #watchIn(ms: number): void {
    this.#watch = setTimeout(() => {
      this.#watch = undefined;
      const running = this.#running;
      if (running === null) return;
      const left = running.deadline - Date.now();
      if (left <= 0) this.#finish(running, running.onTimeout());
      else this.#watchIn(left);
    }, ms);
  }

  /** The command's steps, in order; each either answers or hands on to the next. */
  async #run(request: CommandRequest, generation: number): Promise<Message> {
    const command = this.#aggregate.commandNamed(request.command);
    if (command === undefined) return halt(request.message, response.error("unknown_command", { command: request.command }));
    const validated = await this.#validated(command, request.message);
    if (validated.halted) return validated;
    // The command in this object is a span of its caller's trace: its events and follow-ups carry it.
    const message: Message = { ...validated, trace: childTrace(validated.trace) };

    if (!this.#loaded || this.#now() >= this.#unloadAt) await this.#load();
    const log = withFields(this.#logger, () => ({ command: command.name, messageId: message.id, ...traceFields(message.trace) }));
    const admitted = await this.#admit(command, message, log);
    if ("reply" in admitted) return admitted.reply;
    const delivers = this.#ownFollowUp(message);
    if (delivers !== null && message.dryRun === false && !(await this.#pending(delivers))) {
      // A later decision cancelled (or replaced) it after its delivery began: it does nothing.
      log.info("follow-up cancelled before its delivery: nothing done", { followUp: delivers.name });
      return halt(message, withVersion(response.ok({ cancelled: true }), this.#version));
    }
    const decision = await this.#decide(command, message, delivers, log);
    if ("reply" in decision) return decision.reply;
    if (message.dryRun !== false) return this.#dryRunReply(decision.next, log);
    return this.#persist(decision.next, admitted.next, generation, log);
  }

  /**
   * The message with its request checked by the command's schema. It runs here, once, before
   * anything is loaded (the aggregate's router leaves it to the instance: a schema's output need
   * not survive the hop to an object). A message already validated in this process (a caller that
   * ran the schema) is taken as it is.
   */
  async #validated(command: CommandDefinition<State, Event>, message: Message): Promise<Message> {
    const parsed = command.schema === undefined || (message.valid && message.request !== null);
    return parsed ? message : validateRequest(message, command.schema);
  }

  /**
   * A command's dry run against a state replayed to an earlier version: its schema, admission
   * (how it treats the aggregate, which existed then, and the `access` rule) and decision, on that
   * state — never the instance's own. It answers what the decision answered (its payload kept),
   * with the version it ran at, and the events it would have appended; nothing is stored.
   */
  async #dryRunAt(dryRun: NonNullable<StateQuery["dryRun"]>, past: Replayed<State>): Promise<NonNullable<PastState["dryRun"]>> {
    const refused = (reply: Message) => ({ response: reply.response ?? response.error("internal_error"), events: [] });
    const command = this.#aggregate.commandNamed(dryRun.command);
    if (command === undefined) return { response: response.error("unknown_command", { command: dryRun.command }), events: [] };
    const message = await this.#validated(command, { ...dryRun.message, dryRun: true });
    if (message.halted) return refused(message);
    const log = withFields(this.#logger, { command: command.name, messageId: message.id, lookingBackTo: past.version });
    const seen: Seen<State> = { state: past.state, version: past.version, status: "live" };
    const denied = this.#admittedAt(command, message, seen, log);
    if (denied !== null) return refused(denied);
    const timeoutMs = this.#aggregate.options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const timedOut = () => ({ reply: halt(message, response.serviceTimeout(message.serviceName, message.id, timeoutMs)) });
    const decision = await withTimeout(this.#decide(command, message, null, log, seen), timeoutMs, timedOut);
    if ("reply" in decision) return refused(decision.reply);
    const { decided, answer } = decision.next;
    await this.#hook("rollback", () => this.#aggregate.options.rollback?.(decided, past.state), log);
    return { response: withVersion(answer, past.version), events: decided.events };
  }

  /**
   * What a decided command stores: nothing when it produced no events (or `beforeAppend` kept
   * none on a new aggregate); otherwise its events, encoded and applied, and its follow-ups,
   * appended in one transaction — unless the command overran its deadline meanwhile. Follow-ups
   * go with events: a decision that schedules or cancels without storing one is refused.
   */
  async #persist(decided: Decided<State, Event>, admitted: Admitted, generation: number, log: Logger): Promise<Message> {
    const { message } = decided;
    const changes = decided.followUps;
    const touches = changes !== null && (changes.schedule.length > 0 || changes.cancel.length > 0);
    if (decided.decided.events.length === 0) {
      return touches ? this.#refused(message, "the decision scheduled or cancelled follow-ups without an event to store with them", log) : this.#nothingStored(decided);
    }
    const filtered = this.#aggregate.options.beforeAppend === undefined ? { next: decided.decided.events } : await this.#beforeAppend(decided, log);
    if ("reply" in filtered) return filtered.reply;
    if (filtered.next.length === 0 && touches) return this.#refused(message, "beforeAppend kept no event to store the follow-ups with", log);
    if (filtered.next.length === 0 && this.#status === "missing") return this.#nothingStored(decided);

    const metadata = eventMetadataOf(message, this.#aggregate.options.eventMetadata?.(decided.decided) ?? {});
    const encoded = encodeEvents(filtered.next, metadata, this.#aggregate.options.upcasters);
    if (!encoded.ok) {
      log.error("the decision's events cannot be stored: nothing stored", { problem: encoded.problem });
      return halt(message, encoded.refusal);
    }
    const applied = this.#apply(decided, filtered.next, log);
    if ("reply" in applied) return applied.reply;
    const writes = this.#followUpWrites(decided, touches ? changes : null, applied.next.newVersion);
    if (typeof writes === "string") return this.#refused(message, writes, log);
    if (generation !== this.#generation) {
      log.error("decision finished after its deadline: nothing stored");
      return halt(message, response.error("internal_error"));
    }
    return this.#append(decided, encoded.events, applied.next, admitted, writes, log);
  }

  /**
   * What the append writes of follow-ups: the decision's changes, planned at the version its events
   * reach, and the follow-up this command delivers (it goes with the command) — or why the
   * changes cannot be stored (undefined when there is nothing to write).
   */
  #followUpWrites(decided: Decided<State, Event>, changes: FollowUpChanges | null, version: number): FollowUpWrites | undefined | string {
    const delivered = decided.delivers === null ? {} : { delivered: decided.delivers.id };
    if (changes === null) return decided.delivers === null ? undefined : { schedule: [], cancel: [], ...delivered };
    if (this.#followUps === undefined) return "this aggregate's store keeps no follow-ups: give its object the `followUps` option (the services to deliver them to)";
    const planned = planFollowUps(changes, { streamName: this.#streamName, version, command: decided.message, now: this.#now(), policy: this.#followUps });
    return "problem" in planned ? planned.problem : { ...planned.writes, ...delivered };
  }

  /** A decision whose follow-ups cannot be stored: the app's bug, so `internal_error` and nothing stored. */
  #refused(message: Message, problem: string, log: Logger): Message {
    log.error("the decision's follow-ups cannot be stored: nothing stored", { problem });
    return halt(message, response.error("internal_error"));
  }

  /** The follow-up of this aggregate's that `message` delivers, or null. */
  #ownFollowUp(message: Message): FollowUpOrigin | null {
    const origin = followUpOrigin(message);
    return origin !== null && origin.stream === this.#streamName ? origin : null;
  }

  /** Whether a follow-up is still pending here (no later decision cancelled or replaced it). */
  async #pending(origin: FollowUpOrigin): Promise<boolean> {
    return (await this.#store.followUps()).some((pending) => pending.id === origin.id);
  }

  /**
   * Admission: a retry of a message this caller already sent is answered as the first time (the
   * same id for another command or request is refused); then how the command treats a missing
   * (or deleted) aggregate; then the version the caller expects.
   */
  async #admit(command: CommandDefinition<State, Event>, message: Message, log: Logger): Promise<Step<Admitted>> {
    const principal = recordsOf(message);
    // A dry run is checked against the record too: it answers what the call itself would (its
    // first answer, or the refusal of a reused id), though only a real call is recorded.
    const fingerprint = fingerprintOf(command.name, message);
    const replayed = await this.#replayed(command, message, principal, fingerprint, log);
    if (replayed !== null) return { reply: replayed };
    const refused = this.#admittedAt(command, message, this.#seen(), log);
    return refused === null ? { next: { principal, fingerprint } } : { reply: refused };
  }

  /**
   * Admission past the idempotency record, on the aggregate as the command finds it (`seen`): how
   * the command treats a missing (or deleted) aggregate, the `access` rule, the expected version.
   * Null when the command may go on, otherwise the reply that refuses it.
   */
  #admittedAt(command: CommandDefinition<State, Event>, message: Message, seen: Seen<State>, log: Logger): Message | null {
    const { status, version } = seen;
    if (status === "deleted" || (status === "live" && command.mode === "new")) {
      if (command.mode !== "new") return halt(message, response.error("not_found"));
      // That the id is taken cannot be hidden from a creating command; nothing more is said —
      // not its version, nor (by answering differently) whether the caller may see it.
      return halt(message, response.error("already_exists"));
    }
    if (status !== "missing" && !this.#mayKnow(message, seen, log)) return halt(message, response.error("not_found"));
    if (status === "missing" && command.mode === "existing") return halt(message, response.error("not_found"));
    const expected = message.aggregateMeta.expectedVersion;
    if (expected !== undefined && expected !== version) {
      return halt(message, response.error("wrong_expected_version", { expected, actual: version }));
    }
    return null;
  }

  /** The aggregate as this instance holds it now. */
  #seen(): Seen<State> {
    return { state: this.#state as State, version: this.#version, status: this.#status };
  }

  /**
   * The answer to a message this caller already sent: its first answer for a retry, a refusal for
   * the same id with another command or request — or null when there is no record of it.
   */
  async #replayed(command: CommandDefinition<State, Event>, message: Message, principal: string, fingerprint: string, log: Logger): Promise<Message | null> {
    const recorded = await this.#store.processed(principal, message.id);
    if (recorded === null) return null;
    const same = recorded.legacy === true ? recorded.fingerprint === (await legacyFingerprintOf(command.name, message)) : recorded.fingerprint === fingerprint;
    if (same) {
      // A retry is what at-least-once delivery does: nothing to look at (a reused id is, below).
      log.info("message already processed: answering as before, without running it again");
      return halt(message, recorded.response);
    }
    // A first-release record is kept per id alone: for an identified caller whose fingerprint (it
    // holds the identity) differs, it is someone else's message, not theirs.
    if (recorded.legacy === true && principal !== "") return null;
    log.warn("message id reused for a different command or request");
    return halt(message, response.error("idempotency_key_reused", { messageId: message.id }));
  }

  /** Whether the caller may learn that this (existing) aggregate exists: the aggregate's `access` rule. */
  #mayKnow(message: Message, seen: Seen<State>, log: Logger): boolean {
    const access = this.#aggregate.options.access;
    if (access === undefined) return true;
    try {
      return access(seen.state, this.#contextOf(message, seen));
    } catch (error) {
      // A broken rule hides rather than reveals.
      log.error("access rule threw: the caller is answered as if the aggregate did not exist", { error });
      return false;
    }
  }

  /** The decision, on the state and version the command was admitted at (the instance's own unless `seen` is given). */
  async #decide(
    command: CommandDefinition<State, Event>,
    message: Message,
    delivers: FollowUpOrigin | null,
    log: Logger,
    seen: Seen<State> = this.#seen(),
  ): Promise<Step<Decided<State, Event>>> {
    const { state, version } = seen;
    const input = {
      ...message,
      response: null,
      halted: false,
      events: [],
      aggregateMeta: { ...message.aggregateMeta, version },
    } as ValidatedMessage<unknown, Event>;
    if (this.#telemetry.active) this.#telemetry.emit("handle_msg", {}, { aggregate: this.#aggregate.stream, message: command.name });
    let result: DecisionResult<Event>;
    try {
      result = await command.run(input, state, this.#contextOf(input, seen));
    } catch (error) {
      log.error("decision threw: nothing stored", { error });
      return { reply: halt(message, response.error("internal_error")) };
    }
    const decided = result.message;
    if (typeof decided !== "object" || decided === null || decided.id !== message.id || !Array.isArray(decided.events)) {
      log.error("decision did not return its message");
      return { reply: halt(message, response.error("internal_error")) };
    }
    return { next: { message, decided, answer: decided.response ?? response.ok(), followUps: result.followUps, state, version, delivers } };
  }

  /** A dry run stores nothing: the decision's answer (with the events for a verbose one) at the current version. */
  async #dryRunReply(decided: Decided<State, Event>, log: Logger): Promise<Message> {
    const { message, answer, state, version } = decided;
    await this.#hook("rollback", () => this.#aggregate.options.rollback?.(decided.decided, state), log);
    const verbose = message.dryRun === "verbose";
    const events = decided.decided.events;
    const shown = isSuccess(answer) ? response.ok(verbose ? events : undefined) : answer;
    return { ...decided.decided, response: withVersion(shown, version), events: verbose ? events : [], halted: true };
  }

  /** `beforeAppend` may react to the events or filter which are stored (the answer stays as decided). */
  async #beforeAppend(decided: Decided<State, Event>, log: Logger): Promise<Step<Event[]>> {
    const hook = this.#aggregate.options.beforeAppend;
    if (hook === undefined) return { next: decided.decided.events };
    try {
      return { next: (await hook(decided.decided, decided.state)).events };
    } catch (error) {
      log.error("beforeAppend threw: nothing stored", { error });
      return { reply: halt(decided.message, response.error("internal_error")) };
    }
  }

  /** The events applied to the state the decision saw, and what of the new state is persisted. */
  #apply(decided: Decided<State, Event>, events: readonly Event[], log: Logger): Step<Applied<State>> {
    const options = this.#aggregate.options;
    let next = decided.state;
    try {
      for (const event of events) next = options.apply(next, event);
    } catch (error) {
      log.error("apply threw: nothing stored", { error });
      return { reply: halt(decided.message, response.error("internal_error")) };
    }
    // A state-based aggregate stores no events, but its version still counts them.
    const newVersion = decided.version + events.length;
    const stateBased = options.persistence === "state";
    if (!stateBased && !this.#snapshotDue(decided.version, newVersion)) return { next: { next, newVersion } };

    const json = options.stateToJson === undefined ? (next as Json) : options.stateToJson(next);
    const problem = jsonProblem(json, "state");
    const bytes = problem === null ? utf8Length(JSON.stringify(json), MAX_EVENT_BYTES) : 0;
    if (problem === null && bytes <= MAX_EVENT_BYTES) {
      if (stateBased) return { next: { next, newVersion, state: json } };
      return { next: { next, newVersion, snapshot: { version: newVersion, state: json, schema: options.snapshot?.schema ?? 1 } } };
    }
    if (!stateBased) {
      log.warn("snapshot skipped: the state is not JSON or too large for a row", { problem, bytes });
      return { next: { next, newVersion } };
    }
    if (problem !== null) {
      log.error("state is not JSON: nothing stored", { problem });
      return { reply: halt(decided.message, response.error("internal_error")) };
    }
    return { reply: halt(decided.message, response.error("state_too_large", { bytes, maxBytes: MAX_EVENT_BYTES })) };
  }

  /**
   * Appends the command's writes in one transaction — events, snapshot or state, follow-ups, and
   * the idempotency record — on the version the decision saw (had anything changed since, the append
   * refuses), then adopts the new state.
   */
  async #append(
    decided: Decided<State, Event>,
    events: NewEvent[],
    applied: Applied<State>,
    admitted: Admitted,
    followUps: FollowUpWrites | undefined,
    log: Logger,
  ): Promise<Message> {
    const { message, version } = decided;
    const { next, newVersion } = applied;
    const answer = withVersion(decided.answer, newVersion);
    const result = await this.#store.append({
      streamName: this.#streamName,
      expectedVersion: version,
      events: this.#aggregate.options.persistence === "state" ? [] : events,
      newVersion,
      principal: admitted.principal,
      messageId: message.id,
      fingerprint: admitted.fingerprint,
      response: recordable(answer, log),
      ...(this.#retentionDue(version, newVersion) ? { retention: this.#retention() } : {}),
      ...(applied.state === undefined ? {} : { state: applied.state }),
      ...(applied.snapshot === undefined ? {} : { snapshot: applied.snapshot }),
      ...(followUps === undefined ? {} : { followUps }),
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
    if (this.#aggregate.options.commit !== undefined) await this.#hook("commit", () => this.#aggregate.options.commit?.(decided.decided, next), log);
    this.#applyUnloadRules(events, next);
    return { ...decided.decided, response: answer, halted: true };
  }

  /**
   * The reply of a command that stores nothing: as decided, with the version it is at — except
   * that a success on an aggregate that does not exist says `ok` at -1: it did not come to exist.
   */
  #nothingStored(decided: Decided<State, Event>): Message {
    const { answer, version } = decided;
    const shown = this.#status === "missing" && isSuccess(answer) ? response.ok(answer.status === "ok" ? answer.payload : undefined) : answer;
    return { ...decided.decided, response: withVersion(shown, version), halted: true };
  }

  #contextOf(message: Message, { version, status }: Seen<State>): CommandContext {
    const identity = message.assigns["identity"];
    const prefix = `${this.#aggregate.stream}-`;
    return {
      id: message.aggregateMeta.id ?? this.#streamName.slice(prefix.length),
      version,
      exists: status === "live",
      caller: isJsonObject(identity) ? identity : null,
      principal: typeof message.assigns["principal"] === "string" ? message.assigns["principal"] : null,
      dryRun: message.dryRun,
      now: this.#now(),
      message,
    };
  }

  /** Records are compacted once every {@link RETENTION_EVERY} versions (not on every command). */
  #retentionDue(version: number, newVersion: number): boolean {
    return Math.floor(newVersion / RETENTION_EVERY) > Math.floor(version / RETENTION_EVERY);
  }

  #retention(): Retention {
    const { keepForMs = DEFAULT_KEEP_FOR_MS, keepLast = DEFAULT_KEEP_LAST } = this.#aggregate.options.idempotency ?? {};
    return { recordedBefore: new Date(this.#now() - keepForMs).toISOString(), keepLast };
  }

  #snapshotDue(version: number, newVersion: number): boolean {
    const every = this.#aggregate.options.snapshot?.every;
    if (every === undefined) return false;
    return Math.floor((newVersion + 1) / every) > Math.floor((version + 1) / every);
  }

  /** A stored event as reads show it: upcast, with the stored shape beside it when they differ. */
  #shownEvent(event: RecordedEvent): PageEvent {
    const current = upcast(this.#aggregate.options.upcasters, event);
    if (current === event) return event;
    return {
      ...event,
      type: current.type,
      data: current.data,
      schemaVersion: current.schemaVersion,
      stored: { type: event.type, data: event.data, schemaVersion: event.schemaVersion },
    };
  }

  async #load(): Promise<void> {
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
        const page = await this.#store.replayEvents(version + 1, REPLAY_PAGE);
        for (const event of page) {
          const current = upcast(options.upcasters, event);
          state = options.apply(state, { type: current.type, data: current.data } as Event);
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

  #applyUnloadRules(events: readonly NewEvent[], state: State): void {
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

/**
 * Who sent the message, as idempotency records are kept: its principal — or, for a message that
 * carries an identity and no principal (app code's own), that identity's canonical JSON, as the
 * scheduler names the owner of such a message — and "" for anonymous callers. Not "" for an
 * identified one: anonymous callers share "", and could take its ids first.
 */
function principalOf(message: Message): string {
  return ownerOf(message) ?? "";
}

/**
 * Whose idempotency records the message is checked against and recorded in. A follow-up's
 * delivery (marked by `assigns.followUp`, which only the library's runner sets: no caller's
 * request reaches assigns) is recorded apart from its caller's own messages, under a principal no
 * caller has ({@link followUpPrincipal}). Its id is predictable: in the caller's records, the
 * caller could take it first with a command of their own, and the delivery would be refused as a
 * reused id — a hold that never expires, a reminder that never comes.
 */
function recordsOf(message: Message): string {
  const principal = principalOf(message);
  return followUpOrigin(message) === null ? principal : followUpPrincipal(principal);
}

/** `ok` → `{ok, version}`, `ok` with payload → `{ok, payload, version}`, `created` → `{created, id, version}`. */
function withVersion(r: ServiceResponse, version: number): ServiceResponse {
  if (r.status === "ok" || r.status === "created") return { ...r, version };
  return r;
}

/** The response as recorded for retries: a very large payload is left out (the status stays). */
function recordable(r: ServiceResponse, log: Logger): ServiceResponse {
  if (JSON.stringify(r).length <= MAX_RECORDED_RESPONSE_CHARS) return r;
  log.warn("response too large to record in full: a retry will get it without its payload or details");
  const { payload: _payload, details: _details, ...rest } = r as ServiceResponse & { payload?: Json; details?: Json };
  return rest as ServiceResponse;
}
