import { canonicalJson } from "../shared/canonical-json.js";
import type { Json, JsonObject } from "../shared/json.js";
import type { Logger } from "../shared/logger.js";
import { newMessage, prepareAggregateId, type DomainEvent, type DryRun, type Message } from "../messaging/message.js";
import { readKey } from "../shared/keys.js";
import { isoTime } from "../shared/iso-time.js";
import type { ServiceResponse } from "../messaging/response.js";
import type { FollowUp, FollowUpWrites } from "../scheduling/follow-up.js";
import { MemoryScheduleStore } from "../scheduling/memory-schedule-store.js";
import { parseSchedule, type Recurrence } from "../scheduling/schedule.js";
import type { Aggregate, CommandSpecs } from "./aggregate.js";
import { AggregateInstance } from "./aggregate-instance.js";
import { MemoryStreamStore } from "./memory-stream-store.js";
import type { AppendRequest } from "./stream-store.js";
import { currentVersion, upcast } from "./upcasting.js";

/**
 * Given/when/then for aggregates, in the style of Emmett's DeciderSpecification and Commanded's
 * AggregateCase: given the events an aggregate already has, when a command arrives, then these
 * events happen (or this rejection, this reply, this state). It runs the real pipeline — schema,
 * admission, decision, `beforeAppend`, encoding, append — over an in-memory stream, so it needs no
 * workerd and runs on Node, Deno and Bun. Failed expectations throw an `Error` saying what was
 * expected and what happened, so it works with any test runner.
 *
 * ```ts
 * await aggregateSpec(account)
 *   .given({ type: "AccountOpened", data: { owner: "ada" } })
 *   .when("withdraw", { account_id: "a-1", amount: 500 }, { caller: { user: "ada" } })
 *   .thenRejects("insufficient_funds", [{ type: "WithdrawalRejected", data: { amount: 500, balance: 0 } }]);
 * ```
 */
export function aggregateSpec<State, Event extends DomainEvent, Commands extends CommandSpecs>(
  aggregate: Aggregate<State, Event, Commands>,
  options: AggregateSpecOptions = {},
): AggregateSpec<State, Event, Commands> {
  return new AggregateSpec(aggregate, [], options);
}

/** How the aggregate's object is set up, as far as a command's outcome depends on it. */
export type AggregateSpecOptions = {
  /**
   * Whether the object has a `followUps.reidentify` hook (default false, as `aggregateObject`
   * has none unless given one). Without it, a follow-up delivered with a caller's rights cannot
   * be stored — the object refuses such a decision with `internal_error` — and so does the spec.
   */
  reidentify?: boolean;
};

/** An event as `given` takes it: today's shape, or an older one with its `schemaVersion`. */
export type GivenEvent<Event extends DomainEvent> = Event | { type: string; data: Json; schemaVersion: number };

/** Who sends the command and how, for {@link AggregateSpec.when}. */
export type WhenOptions = {
  /** The caller's identity (`assigns.identity`); anonymous when missing. */
  caller?: JsonObject;
  /** The caller's principal; default: the identity's `user` or `id` field, else its JSON. */
  principal?: string;
  /**
   * The aggregate id. Default: the request's id field (the command's `idField`), as the router
   * reads it (a string or a finite number, NFC-normalised); else `"test-1"`, written into the
   * request's id field.
   */
  id?: string;
  /** The message id (default: a new one). */
  messageId?: string;
  expectedVersion?: number;
  dryRun?: DryRun;
  /**
   * When the command runs (epoch ms; default now): the decision's `context.now`, the message's
   * `invokedAt`, and what a follow-up's `inMs` counts from.
   */
  now?: number;
};

/** A follow-up a command scheduled, as {@link SpecResult} shows it: when it is due, as a date. */
export type ScheduledFollowUp = {
  name: string;
  service: string;
  request: JsonObject;
  dueAt: string;
  recurrence: Recurrence | null;
  /** Whose rights it is delivered with (null: anonymously). */
  principal: string | null;
};

/**
 * What a command did: its reply, the events it stored, the follow-ups it scheduled and the names
 * it cancelled (both stored with its events), and the state after it.
 */
export type SpecResult<State> = {
  reply: Message;
  response: ServiceResponse;
  events: DomainEvent[];
  scheduled: ScheduledFollowUp[];
  cancelled: string[];
  state: State;
  /** When the command ran (epoch ms). */
  ranAt: number;
  /** The caller's principal (null: anonymous). */
  principal: string | null;
  /** Why the command failed, as its object would log it (an `internal_error`'s cause), if it did. */
  problems: string[];
};

/** A specification with its given events; {@link when} runs a command on them. */
export class AggregateSpec<State, Event extends DomainEvent, Commands extends CommandSpecs> {
  readonly #aggregate: Aggregate<State, Event, Commands>;
  readonly #given: readonly GivenEvent<Event>[];
  readonly #options: AggregateSpecOptions;

  /** Use {@link aggregateSpec}. */
  constructor(aggregate: Aggregate<State, Event, Commands>, given: readonly GivenEvent<Event>[], options: AggregateSpecOptions = {}) {
    this.#aggregate = aggregate;
    this.#given = given;
    this.#options = options;
  }

  /** The events the aggregate already has, oldest first (none: it does not exist yet). */
  given(...events: readonly GivenEvent<Event>[]): AggregateSpec<State, Event, Commands> {
    return new AggregateSpec(this.#aggregate, [...this.#given, ...events], this.#options);
  }

  /** Sends `command` with `request`; the `then…` methods of the answer check what happened. */
  when<C extends keyof Commands & string>(command: C, request: Commands[C]["request"], options: WhenOptions = {}): SpecRun<State> {
    return new SpecRun(this.#run(command, request as JsonObject, options));
  }

  async #run(command: string, request: JsonObject, options: WhenOptions): Promise<SpecResult<State>> {
    const aggregate = this.#aggregate;
    const idField = aggregate.commandNamed(command)?.idField ?? "id";
    // Read as the router reads it (a string or a finite number, by the rule for ids: NFC, nothing invisible).
    const named = readKey(prepareAggregateId(newMessage(command, { rawRequest: request }), idField).aggregateMeta.id);
    const id = options.id ?? (named.ok ? named.key : "test-1");
    const streamName = `${aggregate.stream}-${id}`;
    const ranAt = options.now ?? Date.now();
    const store = new RecordingStore({ followUps: new MemoryScheduleStore(), now: () => ranAt });
    const given = this.#given;
    if (given.length > 0) {
      await store.append({
        streamName,
        expectedVersion: -1,
        events: given.map((event) => ({
          type: event.type,
          data: event.data,
          metadata: { messageId: "given", correlationId: "given", causationId: "given", service: "given" },
          schemaVersion: "schemaVersion" in event ? event.schemaVersion : currentVersion(aggregate.options.upcasters, event.type),
        })),
        newVersion: given.length - 1,
        principal: "",
        messageId: "given",
        fingerprint: "",
        response: { status: "ok" },
      });
    }
    // Follow-ups are kept as an object with the same set-up keeps them. What the instance logs as
    // an error (why a command failed) is kept, for the failure messages.
    const problems: string[] = [];
    const instance = new AggregateInstance(aggregate, store, {
      streamName,
      logger: problemsInto(problems),
      now: () => ranAt,
      followUps: { reidentify: this.#options.reidentify === true },
    });
    const rawRequest = idField in request ? request : { ...request, [idField]: id };
    const assigns: JsonObject = options.caller === undefined ? {} : { identity: options.caller, principal: options.principal ?? principalOf(options.caller) };
    const message = {
      ...newMessage(command, {
        rawRequest,
        assigns,
        dryRun: options.dryRun ?? false,
        ...(options.messageId === undefined ? {} : { id: options.messageId }),
        aggregateMeta: { id, ...(options.expectedVersion === undefined ? {} : { expectedVersion: options.expectedVersion }) },
      }),
      // As the dispatcher stamps it when the command is sent.
      invokedAt: isoTime(ranAt),
    };
    const reply = await instance.execute({ streamName, command, message });
    const stored = await store.readEvents(0, Number.MAX_SAFE_INTEGER);
    const events = stored.slice(given.length).map(({ type, data }) => ({ type, data }));
    const written = store.written;
    return {
      reply,
      response: reply.response ?? { status: "ok" },
      events,
      scheduled: (written?.schedule ?? []).map((entry) => ({
        name: entry.key,
        service: entry.service,
        request: entry.template.rawRequest ?? {},
        dueAt: new Date(entry.dueAt).toISOString(),
        recurrence: entry.recurrence,
        principal: entry.owner,
      })),
      cancelled: [...(written?.cancel ?? [])],
      state: await this.#stateOf(store, stored),
      ranAt,
      principal: typeof assigns["principal"] === "string" ? assigns["principal"] : null,
      problems,
    };
  }

  async #stateOf(store: MemoryStreamStore, stored: readonly { type: string; data: Json; schemaVersion: number }[]): Promise<State> {
    const options = this.#aggregate.options;
    if (options.persistence === "state") {
      const saved = await store.savedState();
      if (saved === null) return options.initialState();
      return options.setState === undefined ? (saved.state as State) : options.setState(saved.state);
    }
    return stored.reduce((state, event) => {
      const current = upcast(options.upcasters, event);
      return options.apply(state, { type: current.type, data: current.data } as Event);
    }, options.initialState());
  }
}

/** A command on its way: check what it did with the `then…` methods (each resolves with the result). */
export class SpecRun<State> {
  readonly #result: Promise<SpecResult<State>>;

  /** Use {@link AggregateSpec.when}. */
  constructor(result: Promise<SpecResult<State>>) {
    this.#result = result;
  }

  /**
   * The command succeeded (`ok` or `created`) and stored exactly these events, in order. (Not
   * named `then`: that would make the run a thenable that `await` mistakes for a promise.)
   */
  async thenEvents(expected: DomainEvent | readonly DomainEvent[]): Promise<SpecResult<State>> {
    const result = await this.#succeeded();
    expectEvents(Array.isArray(expected) ? expected : [expected as DomainEvent], result.events);
    return result;
  }

  /** The command succeeded and stored nothing. */
  thenNothing(): Promise<SpecResult<State>> {
    return this.thenEvents([]);
  }

  /**
   * The command was refused — with this error reason, or this response status (`forbidden`,
   * `validation_error`, `not_found`…) — and stored exactly `events` (default none).
   */
  async thenRejects(reasonOrStatus: string, events: readonly DomainEvent[] = []): Promise<SpecResult<State>> {
    const result = await this.#result;
    const r = result.response;
    const matches = r.status === reasonOrStatus || (r.status === "error" && r.reason === reasonOrStatus);
    if (!matches) throw new Error(`expected the command to be refused with ${reasonOrStatus}, but it answered ${show(r)}${becauseOf(result)}`);
    expectEvents(events, result.events);
    return result;
  }

  /** The reply's response has these fields (and may have more). */
  async thenReply(expected: Partial<ServiceResponse> & JsonObject): Promise<SpecResult<State>> {
    const result = await this.#result;
    const actual = result.response as unknown as JsonObject;
    for (const [key, value] of Object.entries(expected)) {
      if (canonicalJson(actual[key]) !== canonicalJson(value)) throw new Error(`expected a reply with ${key} ${show(value)}, but it answered ${show(result.response)}${becauseOf(result)}`);
    }
    return result;
  }

  /** The state after the command equals `expected`, or satisfies it when it is a function. */
  async thenState(expected: State | ((state: State) => boolean)): Promise<SpecResult<State>> {
    const result = await this.#result;
    const ok = typeof expected === "function" ? (expected as (state: State) => boolean)(result.state) : canonicalJson(expected) === canonicalJson(result.state);
    if (!ok) throw new Error(`the state after the command is ${show(result.state)}${typeof expected === "function" ? "" : `, not ${show(expected)}`}`);
    return result;
  }

  /**
   * The command succeeded and scheduled exactly these follow-ups (in any order): the same names,
   * services, requests (`{}` when none), times — `inMs` counted from when it ran — and principals
   * (the caller's when none is named).
   */
  async thenSchedules(...expected: readonly FollowUp[]): Promise<SpecResult<State>> {
    const result = await this.#succeeded();
    const wanted = expected.map((followUp) => {
      const parsed = parseSchedule(followUp, result.ranAt);
      if (typeof parsed === "string") throw new Error(`expected follow-up ${followUp.name}: ${parsed}`);
      const { name, service, request = {}, principal = result.principal } = followUp;
      return { name, service, request, dueAt: new Date(parsed.dueAt).toISOString(), recurrence: parsed.recurrence, principal };
    });
    const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    if (canonicalJson([...wanted].sort(byName)) !== canonicalJson([...result.scheduled].sort(byName))) {
      throw new Error(`expected the follow-ups ${show(wanted)}, but the command scheduled ${show(result.scheduled)}`);
    }
    return result;
  }

  /** The command succeeded and cancelled exactly these follow-ups (by name, in any order). */
  async thenCancels(...names: readonly string[]): Promise<SpecResult<State>> {
    const result = await this.#succeeded();
    if (canonicalJson([...names].sort()) !== canonicalJson([...result.cancelled].sort())) {
      throw new Error(`expected the command to cancel ${show(names)}, but it cancelled ${show(result.cancelled)}`);
    }
    return result;
  }

  async #succeeded(): Promise<SpecResult<State>> {
    const result = await this.#result;
    if (result.response.status !== "ok" && result.response.status !== "created") {
      throw new Error(`expected the command to succeed, but it answered ${show(result.response)}${becauseOf(result)}`);
    }
    return result;
  }

  /** What happened, unchecked. */
  result(): Promise<SpecResult<State>> {
    return this.#result;
  }
}

/** An in-memory stream that remembers the follow-ups its last append wrote. */
class RecordingStore extends MemoryStreamStore {
  written: FollowUpWrites | undefined;

  override async append(request: AppendRequest) {
    const result = await super.append(request);
    if (result.ok) this.written = request.followUps;
    return result;
  }
}

function expectEvents(expected: readonly DomainEvent[], actual: readonly DomainEvent[]): void {
  const wanted = expected.map(({ type, data }) => ({ type, data }));
  if (canonicalJson(wanted) !== canonicalJson(actual)) throw new Error(`expected the events ${show(wanted)}, but got ${show(actual)}`);
}

function principalOf(caller: JsonObject): string {
  const named = caller["user"] ?? caller["id"];
  return typeof named === "string" ? named : canonicalJson(caller);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** A logger that keeps what is logged as an error, as `message: problem` (the instance's cause of an `internal_error`). */
function problemsInto(problems: string[]): Logger {
  const ignore = (): void => {};
  return {
    debug: ignore,
    info: ignore,
    warn: ignore,
    error: (message, fields) => {
      const cause = fields?.["problem"] ?? fields?.["error"];
      problems.push(cause === undefined ? message : `${message}: ${cause instanceof Error ? cause.message : String(cause)}`);
    },
  };
}

/** What the instance logged about a failed command, for a failure message ("" when nothing). */
function becauseOf(result: { problems: readonly string[] }): string {
  return result.problems.length === 0 ? "" : ` (its object would log: ${result.problems.join("; ")})`;
}
