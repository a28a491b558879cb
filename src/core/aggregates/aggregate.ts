import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Json, JsonObject } from "../shared/json.js";
import type { DomainEvent, Message } from "../messaging/message.js";
import type { ValidatedMessage } from "../messaging/router.js";
import type { CommandMode } from "./aggregate-protocol.js";
import { decidedMessage, type CommandContext, type Decision, type DecisionResult } from "./decision.js";
import type { Upcasters } from "./upcasting.js";

/**
 * The main form of a command's decision, decider-shaped: the validated request, the current
 * state and the {@link CommandContext} in; what happens out (see {@link Decision}). Pure, may be
 * async. The library builds the reply and stores the events.
 */
export type Decide<State, Event extends DomainEvent, Request = JsonObject> = (
  request: Request,
  state: State,
  context: CommandContext,
) => Decision<Event> | Promise<Decision<Event>>;

/**
 * The escape hatch: a decision over the whole message, as the original library wrote them —
 * it returns the message with its events (`addEvent`) and its response (`ok`, `created`,
 * `error`…). Use it when a decision needs what the decider form hides (for instance answering a
 * response shape of its own). A decision that added events and set no response answers `ok`.
 */
export type HandleMessage<State, Event extends DomainEvent, Request = unknown> = (
  message: ValidatedMessage<Request, Event>,
  state: State,
) => Message<unknown, Event> | Promise<Message<unknown, Event>>;

/**
 * How a command treats a missing aggregate: `true` — it creates the aggregate, which must not
 * exist yet; `"if-missing"` — it creates it when missing and acts on it otherwise. Without
 * `creates` the aggregate must exist (`not_found` otherwise).
 */
export type Creates = true | "if-missing";

/** Options of one command. */
export type CommandOptions<S extends StandardSchemaV1 | undefined = undefined> = {
  /**
   * A Standard Schema (zod, valibot, arktype…) for the request. The decision gets its parsed
   * output; an invalid request is answered `validation_error` and nothing is decided.
   */
  schema?: S;
  /** Whether the command creates the aggregate (see {@link Creates}). */
  creates?: Creates;
  /** The request field that holds the aggregate id (default: the aggregate's `id` option). */
  id?: string;
  /**
   * Without the id field, use the message id (so that a retried message reaches the same
   * aggregate). Always so for `creates: true`; opt in for `creates: "if-missing"`.
   */
  generateId?: boolean;
};

/** What a command's type says of it: the request a caller sends (the schema's input). */
export type CommandSpec<Request = unknown> = { request: Request };

/** The commands of an aggregate, by name, as its type knows them. */
export type CommandSpecs = { [command: string]: CommandSpec };

/** A command as the aggregate instance runs it: where its id comes from and how it decides. */
export type CommandDefinition<State, Event extends DomainEvent> = {
  readonly name: string;
  readonly schema: StandardSchemaV1 | undefined;
  /** `new` (must not exist, creates), `existing` (must exist) or `maybe` (creates when missing). */
  readonly mode: CommandMode;
  /** The request field that holds the aggregate id. */
  readonly idField: string;
  /** Whether a missing id is taken from the message id. */
  readonly generateId: boolean;
  /** Decides the validated message on `state`: the message with its events and response, and its follow-ups. */
  readonly run: (message: ValidatedMessage<unknown, Event>, state: State, context: CommandContext) => Promise<DecisionResult<Event>>;
};

/** What an aggregate instance needs of a definition: its options and its commands by name. */
export interface AggregateDefinition<State, Event extends DomainEvent> {
  readonly options: AggregateOptions<State, Event>;
  readonly stream: string;
  commandNamed(name: string): CommandDefinition<State, Event> | undefined;
}

/** What the unload rule on state answers: drop the in-memory state now, later, or keep it. */
export type UnloadDecision = "unload" | "skip" | { inMs: number };

/** When to drop an instance's in-memory state (the next command reloads it from storage). */
export type UnloadRules<State, Event extends DomainEvent> = {
  /** After a committed event of this type, unload after `inMs`. */
  events?: { [Type in Event["type"]]?: { inMs: number } };
  /** Evaluated on the state after each commit; a rule that throws counts as `"skip"`. */
  state?: (state: State) => UnloadDecision;
};

/**
 * How long the record of each applied message is kept. A retry that arrives while its record is
 * kept is answered from the record; after that, the same message id would run again. Both limits
 * apply: a record is kept while it is younger than `keepForMs` **and** among the newest
 * `keepLast` — so a busy stream's records stay bounded in number, and a quiet one's in age.
 * Records are compacted every {@link RETENTION_EVERY} versions, so a few more may be kept for a
 * while.
 */
export type IdempotencyRetention = {
  /** Records older than this are dropped (default 7 days). */
  keepForMs?: number;
  /** At most this many of the newest records are kept (default 10,000). */
  keepLast?: number;
};

/** Records are compacted once every this many versions of a stream. */
export const RETENTION_EVERY = 100;

/** How an aggregate's state is persisted. */
export type Persistence =
  /** Event sourced: events are stored and replayed (from the newest snapshot). */
  | "events"
  /** State based: after each command the state and its version are saved instead of events. */
  | "state";

/** The definition of an aggregate, all pure functions. */
export type AggregateOptions<State, Event extends DomainEvent> = {
  /** The stream name prefix: instance `id` lives in stream `<stream>-<id>`. */
  stream: string;
  /** The request field that holds the aggregate id, for commands that do not name one (default `"id"`). */
  id?: string;
  /** The state of an aggregate that has no events yet. */
  initialState: () => State;
  /** Folds one event into the state (the decider's `evolve`). Pure; it runs before events are stored. */
  apply: (state: State, event: Event) => State;
  /**
   * How stored events of older shapes become today's: per event type, the functions that take
   * version 1 to 2, 2 to 3… (see {@link Upcasters}). Events are stored with their type's current
   * version and upcast when loaded, replayed or read.
   */
  upcasters?: Upcasters;
  /**
   * Who may learn that an existing aggregate exists. A caller it refuses gets exactly what a
   * missing aggregate answers — `not_found` for a command on an existing aggregate (before the
   * expected version, a dry run or the decision could say more). A command that creates one
   * answers every caller `already_exists`, and nothing more. Default: everyone.
   */
  access?: (state: State, context: CommandContext) => boolean;
  /** Runs after a command's events were stored (a side-effect hook; errors are logged). */
  commit?: (message: Message<unknown, Event>, state: State) => void | Promise<void>;
  /** Runs after a dry run, whose events are never stored. */
  rollback?: (message: Message<unknown, Event>, state: State) => void | Promise<void>;
  /** Rebuilds state from its persisted JSON (a snapshot, or a state-based save); default: as is. */
  setState?: (persisted: Json) => State;
  /** Turns state into JSON to persist; default: the state itself, which must then be JSON. */
  stateToJson?: (state: State) => Json;
  /** Snapshot every `every` events; a snapshot of another `schema` number is ignored on load. */
  snapshot?: { every: number; schema?: number };
  /** `"events"` (default) or `"state"`. */
  persistence?: Persistence;
  /** Metadata added to every event the message produces (besides ids and service name). */
  eventMetadata?: (message: Message<unknown, Event>) => JsonObject;
  /**
   * Runs before events are stored, after the decision: may react to them or filter which ones
   * are stored (the response stays as decided).
   */
  beforeAppend?: (message: Message<unknown, Event>, state: State) => Message<unknown, Event> | Promise<Message<unknown, Event>>;
  /** When to drop in-memory state. */
  unload?: UnloadRules<State, Event>;
  /**
   * How long a command's record is kept so that a retry with its message id is answered as the
   * first time instead of running again (see {@link IdempotencyRetention}).
   */
  idempotency?: IdempotencyRetention;
  /**
   * How long one command (decision, hooks, storage) may take before the instance answers
   * `service_timeout` and moves on to the next one (default 30 s); a late result is discarded.
   */
  commandTimeoutMs?: number;
};

/** The request type of a command with schema `S`: the schema's input, any JSON object without one. */
type RequestOf<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferInput<S> : JsonObject;

/** The validated request a decision gets with schema `S`: the schema's output, the raw object without one. */
type ParsedOf<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : JsonObject;

/**
 * An event-sourced (or state-based) aggregate: its state, how events change it, and the commands
 * it decides — each named once, with how it treats a missing aggregate and where its id comes
 * from. Expose its commands as services with `aggregateRouter`.
 *
 * ```ts
 * type Opened = { type: "Opened"; data: { owner: string } };
 * type Deposited = { type: "Deposited"; data: { amount: number } };
 *
 * const account = new Aggregate<{ balance: number }, Opened | Deposited>({
 *   stream: "account",
 *   id: "account_id",
 *   initialState: () => ({ balance: 0 }),
 *   apply: (state, event) => (event.type === "Deposited" ? { balance: state.balance + event.data.amount } : state),
 * })
 *   .command("open", { creates: true, schema: OpenRequest }, (request) => ({ type: "Opened", data: { owner: request.owner } }))
 *   .command("deposit", { schema: DepositRequest }, (request) => ({ type: "Deposited", data: { amount: request.amount } }));
 * ```
 */
export class Aggregate<State, Event extends DomainEvent, Commands extends CommandSpecs = {}> implements AggregateDefinition<State, Event> {
  /** The definition's options. */
  readonly options: AggregateOptions<State, Event>;
  /**
   * The commands this aggregate declares, as its type knows them (for `aggregateRouter` and typed
   * clients). A type-level marker only: it has no value at run time.
   */
  declare readonly "~commands": Commands;
  readonly #commands = new Map<string, CommandDefinition<State, Event>>();

  /** An aggregate with no commands yet. */
  constructor(options: AggregateOptions<State, Event>) {
    if (!/^[A-Za-z0-9_.]{1,64}$/.test(options.stream)) {
      throw new Error(`stream ${JSON.stringify(options.stream)}: use 1-64 letters, digits, _ or .`);
    }
    if (options.snapshot !== undefined && !(Number.isInteger(options.snapshot.every) && options.snapshot.every > 0)) {
      throw new Error("snapshot.every must be a positive integer");
    }
    this.options = options;
  }

  /** The stream name prefix. */
  get stream(): string {
    return this.options.stream;
  }

  /** The names of the declared commands, in declaration order. */
  get commandNames(): string[] {
    return [...this.#commands.keys()];
  }

  /**
   * Declares a command in the decider form: `decide(request, state, context)` returns what
   * happens — events, nothing, or a rejection — and the library builds the reply.
   */
  command<N extends string, S extends StandardSchemaV1 | undefined = undefined>(
    name: N,
    options: CommandOptions<S>,
    decide: Decide<State, Event, ParsedOf<S>>,
  ): Aggregate<State, Event, Commands & { [K in N]: CommandSpec<RequestOf<S>> }> {
    const mode = modeOf(options.creates);
    // The schema guarantees that the decision only ever sees a request of its output type.
    const typed = decide as Decide<State, Event, unknown>;
    // Without a schema the decision gets the raw request as it came.
    const requestOf = (message: ValidatedMessage<unknown, Event>) => (options.schema === undefined ? (message.rawRequest ?? {}) : message.request);
    return this.#declare(name, options, async (message, state, context) =>
      decidedMessage(message, await typed(requestOf(message), state, context), mode, context),
    );
  }

  /**
   * Declares a command in the message form (the escape hatch; see {@link HandleMessage}): the
   * decision gets the whole message and returns it with its events and response.
   */
  messageCommand<N extends string, S extends StandardSchemaV1 | undefined = undefined>(
    name: N,
    options: CommandOptions<S>,
    handle: HandleMessage<State, Event, ParsedOf<S>>,
  ): Aggregate<State, Event, Commands & { [K in N]: CommandSpec<RequestOf<S>> }> {
    const typed = handle as HandleMessage<State, Event, unknown>;
    return this.#declare(name, options, async (message, state) => ({ message: await typed(message, state), followUps: null }));
  }

  /** The definition of a command, or undefined. */
  commandNamed(name: string): CommandDefinition<State, Event> | undefined {
    return this.#commands.get(name);
  }

  #declare<N extends string, S extends StandardSchemaV1 | undefined, More extends CommandSpecs>(
    name: N,
    options: CommandOptions<S>,
    run: CommandDefinition<State, Event>["run"],
  ): Aggregate<State, Event, Commands & More> {
    if (name === "") throw new Error("a command needs a non-empty name");
    if (this.#commands.has(name)) throw new Error(`command ${name} is declared twice`);
    const mode = modeOf(options.creates);
    this.#commands.set(name, {
      name,
      schema: options.schema,
      mode,
      idField: options.id ?? this.options.id ?? "id",
      generateId: mode === "new" || options.generateId === true,
      run,
    });
    // The same object, whose type now knows one more command.
    return this as unknown as Aggregate<State, Event, Commands & More>;
  }
}

function modeOf(creates: Creates | undefined): CommandMode {
  if (creates === true) return "new";
  return creates === "if-missing" ? "maybe" : "existing";
}
