import type { DomainEvent } from "../messaging/message.js";
import type { ProjectedEvent } from "./event-envelope.js";
import type { ErasureNotice } from "./erasure-receipt.js";
import type { ReadStatement } from "./read-statement.js";

/** What a subscriber's handler can reach besides the event: the bindings of the Worker it runs in. */
export type HandleContext = { env: unknown };

/**
 * Something that reacts to committed events, each (stream, version) once in effect, in version
 * order per stream: a projection (its handler returns the SQL that updates a read model) or a
 * process manager (its handler starts a process). The consumer keeps a checkpoint per subscriber
 * and stream, and commits the handler's statements and the new checkpoint together.
 */
export interface Subscriber {
  /** Its name: checkpoints and dead letters are kept under it. 1-64 letters, digits, `_`, `.` or `-`. */
  readonly name: string;
  /** The aggregate types (stream name prefixes) whose events it receives. */
  readonly streams: readonly string[];
  /**
   * Reacts to one event: the statements to commit with the checkpoint (none for an event it
   * ignores). It may run more than once for one event (a redelivery, a crash before the commit),
   * so any effect beyond its statements must be idempotent; a throw fails the event (retried,
   * then dead-lettered).
   */
  handle(event: ProjectedEvent, context: HandleContext): readonly ReadStatement[] | Promise<readonly ReadStatement[]>;
  /** The statements that empty its read model before a rebuild (none for a process manager). */
  reset(): readonly ReadStatement[];
  /**
   * An aggregate of a type it follows is being erased: the statements that remove what it keeps
   * of it (none when it keeps nothing). They run in one batch with the removal of its checkpoint;
   * the erased stream's events never reach it again. Without this hook the subscriber is named in
   * the erasure's receipt as not handling erasure, and what it keeps of the aggregate stays.
   */
  erase?(notice: ErasureNotice, context: HandleContext): readonly ReadStatement[] | Promise<readonly ReadStatement[]>;
}

/** The events of one type, by type name, in `Event`. */
type EventOfType<Event extends DomainEvent, Type> = Extract<Event, { type: Type }>;

/** What a projection's handler answers: statements, one statement, or nothing. */
export type ProjectionResult = ReadStatement | readonly ReadStatement[] | null | undefined;

/** A projection's handlers, by event type; events of other types only move its checkpoint. */
export type ProjectionHandlers<Event extends DomainEvent> = {
  [Type in Event["type"]]?: (event: ProjectedEvent<EventOfType<Event, Type>>) => ProjectionResult;
};

/** The definition of a {@link projection}. */
export type ProjectionDefinition<Event extends DomainEvent> = {
  /** Its name (see {@link Subscriber.name}). */
  name: string;
  /** The aggregate types it reads. */
  streams: readonly string[];
  /** Per event type, the SQL it writes. Pure: the same event always gives the same statements. */
  on: ProjectionHandlers<Event>;
  /** Statements that empty its tables before a rebuild (default: none). */
  reset?: readonly ReadStatement[];
  /**
   * What an erasure of one of its aggregates removes (see {@link Subscriber.erase}): the rows of
   * that aggregate, from the notice's `aggregateId`. Give it whenever the read model holds
   * anything of a single aggregate; an aggregate read model (a sum, a count) that holds nothing of
   * it answers none. Without it, the projection is named in the receipt as not handling erasure.
   */
  erase?: (notice: ErasureNotice) => ProjectionResult;
};

/** A {@link Subscriber} that keeps a read model: pure handlers from an event to SQL. */
export type Projection = Subscriber & { readonly kind: "projection" };

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Throws unless `name` may name a subscriber. */
export function checkSubscriberName(name: string): void {
  if (!NAME.test(name)) throw new Error(`subscriber ${JSON.stringify(name)}: use 1-64 letters, digits, _, . or -`);
}

/**
 * A projection: per event type, the SQL that keeps a read model current. The consumer commits a
 * handler's statements and the projection's checkpoint in one transaction (one D1 batch), so an
 * event is applied exactly once in effect however often it is delivered.
 *
 * ```ts
 * const balances = projection<AccountEvent>({
 *   name: "balances",
 *   streams: ["account"],
 *   on: {
 *     AccountOpened: (e) => statement`INSERT INTO balances (id, owner, balance) VALUES (${e.aggregateId}, ${e.data.owner}, 0)`,
 *     MoneyDeposited: (e) => statement`UPDATE balances SET balance = balance + ${e.data.amount} WHERE id = ${e.aggregateId}`,
 *   },
 *   reset: [statement`DELETE FROM balances`],
 * });
 * ```
 */
export function projection<Event extends DomainEvent>(definition: ProjectionDefinition<Event>): Projection {
  checkSubscriberName(definition.name);
  if (definition.streams.length === 0) throw new Error(`projection ${definition.name} reads no streams`);
  const handlers = definition.on as { [type: string]: ((event: ProjectedEvent) => ProjectionResult) | undefined };
  const reset = [...(definition.reset ?? [])];
  const erase = definition.erase;
  return {
    kind: "projection",
    name: definition.name,
    streams: [...definition.streams],
    handle(event) {
      const handler = Object.hasOwn(handlers, event.type) ? handlers[event.type] : undefined;
      return statementsOf(handler === undefined ? null : handler(event));
    },
    reset: () => reset,
    ...(erase === undefined ? {} : { erase: (notice: ErasureNotice) => statementsOf(erase(notice)) }),
  };
}

/** A projection handler's result as statements. */
function statementsOf(result: ProjectionResult): readonly ReadStatement[] {
  if (result === null || result === undefined) return [];
  return isStatement(result) ? [result] : result;
}

function isStatement(result: ReadStatement | readonly ReadStatement[]): result is ReadStatement {
  return !Array.isArray(result);
}
