import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Json, JsonObject } from "../shared/json.js";
import type { DomainEvent, Message } from "../messaging/message.js";
import type { ValidatedMessage } from "../messaging/router.js";

/**
 * A decision: given a command message and the current state, the message with the events the
 * command produces (`addEvent`) and its response (`ok`, `created`, `error`…). Pure, may be async.
 * A decision may add events and still answer an error: a rejection event is stored and the caller
 * gets the error. Without a response, a decision that added events answers `ok`.
 */
export type Decide<State, Event extends DomainEvent, Request = unknown> = (
  message: ValidatedMessage<Request, Event>,
  state: State,
) => Message<unknown, Event> | Promise<Message<unknown, Event>>;

/** One command of an aggregate: an optional request schema and its decision. */
export type CommandDefinition<State, Event extends DomainEvent> = {
  schema: StandardSchemaV1 | undefined;
  decide: Decide<State, Event, unknown>;
};

/** What the unload rule on state answers: drop the in-memory state now, later, or keep it. */
export type UnloadDecision = "unload" | "skip" | { inMs: number };

/** When to drop an instance's in-memory state (the next command reloads it from storage). */
export type UnloadRules<State, Event extends DomainEvent> = {
  /** After a committed event of this type, unload after `inMs`. */
  events?: { [Type in Event["type"]]?: { inMs: number } };
  /** Evaluated on the state after each commit; a rule that throws counts as `"skip"`. */
  state?: (state: State) => UnloadDecision;
};

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
  /** The state of an aggregate that has no events yet. */
  initialState: () => State;
  /** Folds one event into the state. Pure; it runs before events are stored. */
  apply: (state: State, event: Event) => State;
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
   * How long one command (decision, hooks, storage) may take before the instance answers
   * `service_timeout` and moves on to the next one (default 30 s); a late result is discarded.
   */
  commandTimeoutMs?: number;
};

/**
 * An event-sourced (or state-based) aggregate: its state, the commands it decides, and how events
 * change the state. Declare commands with `.command(name, [{ schema }], decide)`.
 *
 * ```ts
 * const counter = new Aggregate<{ n: number }, { type: "Incremented"; data: { by: number } }>({
 *   stream: "counter",
 *   initialState: () => ({ n: 0 }),
 *   apply: (state, event) => ({ n: state.n + event.data.by }),
 * }).command("increment", (message) => ok(addEvent(message, { type: "Incremented", data: { by: 1 } })));
 * ```
 */
export class Aggregate<State, Event extends DomainEvent, Commands extends string = never> {
  /** The definition's options. */
  readonly options: AggregateOptions<State, Event>;
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

  /** The names of the declared commands. */
  get commandNames(): string[] {
    return [...this.#commands.keys()];
  }

  /** Declares a command whose request is not validated. */
  command<N extends string>(name: N, decide: Decide<State, Event>): Aggregate<State, Event, Commands | N>;
  /** Declares a command whose raw request is validated by `options.schema` before it is decided. */
  command<N extends string, S extends StandardSchemaV1>(
    name: N,
    options: { schema: S },
    decide: Decide<State, Event, StandardSchemaV1.InferOutput<S>>,
  ): Aggregate<State, Event, Commands | N>;
  command<N extends string, S extends StandardSchemaV1>(
    name: N,
    optionsOrDecide: { schema: S } | Decide<State, Event>,
    decide?: Decide<State, Event, StandardSchemaV1.InferOutput<S>>,
  ): Aggregate<State, Event, Commands | N> {
    if (this.#commands.has(name)) throw new Error(`command ${name} is declared twice`);
    if (typeof optionsOrDecide === "function") {
      this.#commands.set(name, { schema: undefined, decide: optionsOrDecide });
    } else {
      if (decide === undefined) throw new Error(`command ${name} needs a decision`);
      // The schema guarantees that the decision only ever sees a request of its output type.
      this.#commands.set(name, { schema: optionsOrDecide.schema, decide: decide as Decide<State, Event> });
    }
    // The same object, now known to have one more command.
    return this as unknown as Aggregate<State, Event, Commands | N>;
  }

  /** The definition of a command, or undefined. */
  commandNamed(name: string): CommandDefinition<State, Event> | undefined {
    return this.#commands.get(name);
  }
}
