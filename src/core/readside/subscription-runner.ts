import { backoffDelay, type BackoffOptions } from "../shared/backoff.js";
import { isoTime } from "../shared/iso-time.js";
import type { Json } from "../shared/json.js";
import { jsonLogger, type Logger } from "../shared/logger.js";
import { mapBounded } from "../shared/bounded.js";
import { planDelivery } from "./delivery-plan.js";
import { readEnvelope, referenceOf, type EventEnvelope, type EventReference, type ProjectedEvent } from "./event-envelope.js";
import type { EventSource } from "./event-source.js";
import type { CatalogEntry, CommitUnit, DeadLetter, ReadStore } from "./read-store.js";
import type { ReadStatement } from "./read-statement.js";
import type { Subscriber } from "./subscriber.js";
import { traceFields } from "../messaging/trace.js";

/** One queue message as the runner sees it: its id, how many times it was delivered, its body. */
export type Delivery = { id: string; attempts: number; body: unknown };

/**
 * What to do with a delivered message: acknowledge it (every subscriber applied its event, or
 * had applied it before); deliver it again later; or give up on it — its dead letters are kept
 * in the store, and the message is acknowledged.
 */
export type DeliveryOutcome =
  | { kind: "ack" }
  | { kind: "retry"; delaySeconds: number; errors: string[] }
  | { kind: "dead_letter"; letters: DeadLetter[] };

/** Where one call of the runner reads streams from, and the bindings handlers get. */
export type RunScope = { env: unknown; source: EventSource };

/** Options of a {@link SubscriptionRunner}. */
export type SubscriptionRunnerOptions = {
  subscribers: readonly Subscriber[];
  store: ReadStore;
  logger?: Logger;
  /** Deliveries of one message before an event a subscriber keeps failing is dead-lettered (default 5). */
  maxAttempts?: number;
  /** The delay before a message is delivered again (default from 1 s, doubling, at most 5 min). */
  retry?: BackoffOptions;
  /** Streams worked on at once (gap reads, handlers) per subscriber (default 16). */
  concurrency?: number;
};

/** How far one subscriber got on one stream, and why it stopped short when it did. */
type StreamProgress = { checkpoint: number; failure?: { version: number; error: string } };

/** The delivered events of one stream. */
type StreamGroup = { stream: string; streamName: string; envelopes: Map<number, EventEnvelope> };

/** One subscriber's part of a delivery: the events of one stream. */
type Work = { subscriber: Subscriber; group: StreamGroup };

/** One stream's prepared work: units to commit in order, and where handling stopped, if it did. */
type Prepared = { units: CommitUnit[]; checkpoint: number; failure?: { version: number; error: string } };

/** Events committed together (with their checkpoint) at most. */
const EVENTS_PER_UNIT = 100;

/** Events read per page when catching up. */
const CATCH_UP_PAGE = 1000;

/** Times a stream is redone after its checkpoint moved under it, within one delivery. */
const CONFLICT_ROUNDS = 3;

const DEFAULT_RETRY: BackoffOptions = { baseMs: 1000, maxMs: 300_000 };

/**
 * Delivers committed events to subscribers — at least once from the queue, exactly once in effect:
 * per subscriber and stream it reads the checkpoint, skips duplicates, reads missing versions back
 * from the stream (queues do not keep order), runs the handlers in version order, and commits
 * their statements with the new checkpoint in one transaction guarded by the old one. A handler
 * that keeps failing has its event dead-lettered after `maxAttempts` deliveries.
 *
 * The Worker side (`readSideConsumer`) and the in-memory queue drive the same runner.
 */
export class SubscriptionRunner {
  readonly #subscribers: readonly Subscriber[];
  readonly #store: ReadStore;
  readonly #logger: Logger;
  readonly #maxAttempts: number;
  readonly #retry: BackoffOptions;
  readonly #concurrency: number;

  /** A runner over `subscribers`, keeping their state in `store`. */
  constructor(options: SubscriptionRunnerOptions) {
    const names = new Set<string>();
    for (const subscriber of options.subscribers) {
      if (names.has(subscriber.name)) throw new Error(`subscriber ${subscriber.name} is declared twice`);
      names.add(subscriber.name);
    }
    this.#subscribers = options.subscribers;
    this.#store = options.store;
    this.#logger = options.logger ?? jsonLogger();
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#retry = options.retry ?? DEFAULT_RETRY;
    this.#concurrency = options.concurrency ?? 16;
  }

  /** The subscribers, in the order they were given. */
  get subscribers(): readonly Subscriber[] {
    return this.#subscribers;
  }

  /** The store the subscribers' state is kept in. */
  get store(): ReadStore {
    return this.#store;
  }

  /** The subscriber named `name`, or undefined. */
  subscriber(name: string): Subscriber | undefined {
    return this.#subscribers.find((subscriber) => subscriber.name === name);
  }

  /**
   * Delivers a batch of queue messages to every subscriber and answers, per message and in the
   * same order, whether to acknowledge it, deliver it again, or give up on it.
   */
  async deliver(deliveries: readonly Delivery[], scope: RunScope): Promise<DeliveryOutcome[]> {
    const outcomes: (DeliveryOutcome | undefined)[] = deliveries.map(() => undefined);
    const refs = new Map<number, EventReference>();
    /** When each delivered event was recorded (its reference: when it was published), against an erasure. */
    const instants = new Map<number, string>();
    const groups = new Map<string, StreamGroup>();
    const now = isoTime();
    for (const [index, delivery] of deliveries.entries()) {
      const read = readEnvelope(delivery.body);
      if (!read.ok) {
        // Nothing will ever make it an event: kept for operators, never delivered again.
        this.#logger.error("queue message is not an event envelope: dead-lettered", { messageId: delivery.id, problem: read.problem });
        const letter = { subscriber: "*", streamName: "", version: -1, error: read.problem, attempts: delivery.attempts, envelope: asJson(delivery.body), recordedAt: now };
        outcomes[index] = { kind: "dead_letter", letters: [letter] };
        continue;
      }
      const ref = referenceOf(read.envelope);
      refs.set(index, ref);
      instants.set(index, instantOf(read.envelope));
      let group = groups.get(ref.streamName);
      if (group === undefined) {
        group = { stream: ref.stream, streamName: ref.streamName, envelopes: new Map() };
        groups.set(ref.streamName, group);
      }
      // Of two copies of one version, the one with its event is the more useful.
      const known = group.envelopes.get(ref.version);
      if (known === undefined || known.kind === "reference") group.envelopes.set(ref.version, read.envelope);
    }

    const progress = new Map<string, Map<string, StreamProgress>>();
    let erasedAt: ReadonlyMap<string, string> = new Map();
    try {
      const work = this.#subscribers.flatMap((subscriber) =>
        [...groups.values()].filter((group) => subscriber.streams.includes(group.stream)).map((group) => ({ subscriber, group })),
      );
      const advanced = await this.#advance(work, [...groups.values()], scope);
      erasedAt = advanced.erasedAt;
      for (const { subscriber, streamName, reached } of advanced.progress) {
        let mine = progress.get(subscriber);
        if (mine === undefined) progress.set(subscriber, (mine = new Map()));
        mine.set(streamName, reached);
      }
    } catch (error) {
      // The store itself failed (D1 unreachable…): every event is delivered again later.
      this.#logger.error("read store failed: the batch will be delivered again", { error });
      const problem = errorText(error);
      return deliveries.map((delivery, index) => outcomes[index] ?? this.#retryOutcome(delivery, [problem]));
    }

    const letters: DeadLetter[] = [];
    const result = deliveries.map((delivery, index): DeliveryOutcome => {
      const done = outcomes[index];
      if (done !== undefined) return done;
      const ref = refs.get(index) as EventReference;
      // An event of an erased stream, still in flight: it is gone, and nothing of it is applied.
      if (isErased(erasedAt.get(ref.streamName), instants.get(index))) return { kind: "ack" };
      const failing = this.#subscribers.flatMap((subscriber) => {
        if (!subscriber.streams.includes(ref.stream)) return [];
        const reached = progress.get(subscriber.name)?.get(ref.streamName);
        if (reached !== undefined && reached.checkpoint >= ref.version) return [];
        const error = reached?.failure?.error ?? "the checkpoint kept moving under this delivery";
        return [{ subscriber: subscriber.name, error }];
      });
      if (failing.length === 0) return { kind: "ack" };
      if (delivery.attempts < this.#maxAttempts) return this.#retryOutcome(delivery, failing.map((f) => `${f.subscriber}: ${f.error}`));
      const mine = failing.map((f) => ({
        subscriber: f.subscriber,
        streamName: ref.streamName,
        version: ref.version,
        error: f.error,
        attempts: delivery.attempts,
        envelope: asJson(delivery.body),
        recordedAt: now,
      }));
      letters.push(...mine);
      return { kind: "dead_letter", letters: mine };
    });
    for (const outcome of outcomes) if (outcome?.kind === "dead_letter") letters.push(...outcome.letters);

    for (const letter of letters) {
      this.#logger.error("event dead-lettered: a subscriber kept failing on it", { ...letter, envelope: undefined, ...traceOfEnvelope(letter.envelope) });
      try {
        await this.#store.deadLetter(letter);
      } catch (error) {
        this.#logger.error("could not keep a dead letter", { error, subscriber: letter.subscriber, stream: letter.streamName });
      }
    }
    return result;
  }

  /**
   * Applies to `subscriber` every event of one stream after its checkpoint, up to the stream's
   * end: how a subscriber catches up (added later, rebuilt, or after a dead letter was fixed).
   * Resolves with the events applied and the checkpoint reached; rejects when a handler or the
   * store fails.
   */
  async catchUpStream(subscriber: Subscriber, stream: string, streamName: string, scope: RunScope): Promise<{ applied: number; checkpoint: number }> {
    let applied = 0;
    let conflicts = 0;
    for (;;) {
      const checkpoint = (await this.#store.checkpoints([subscriber.name], [streamName])).get(subscriber.name)?.get(streamName) ?? -1;
      const events = await scope.source.read(stream, streamName, checkpoint + 1, checkpoint + CATCH_UP_PAGE);
      if (events.length === 0) return { applied, checkpoint };
      const prepared = await this.#prepare(subscriber, streamName, checkpoint, events, checkpoint + events.length, scope);
      const results = await this.#store.commit(prepared.units);
      let reached = checkpoint;
      for (const [index, result] of results.entries()) {
        if (result.ok) {
          applied += (prepared.units[index] as CommitUnit).version - reached;
          reached = (prepared.units[index] as CommitUnit).version;
        } else if (result.conflict) {
          conflicts += 1;
          if (conflicts > CONFLICT_ROUNDS * 10) throw new Error(`${subscriber.name} on ${streamName}: the checkpoint keeps moving`);
          break;
        } else {
          throw new Error(`${subscriber.name} on ${streamName} at version ${reached + 1}: ${result.error}`);
        }
      }
      if (prepared.failure !== undefined && reached + 1 >= prepared.failure.version) {
        throw new Error(`${subscriber.name} on ${streamName} at version ${prepared.failure.version}: ${prepared.failure.error}`);
      }
      if (events.length < CATCH_UP_PAGE && reached === checkpoint + events.length) return { applied, checkpoint: reached };
    }
  }

  /**
   * Every subscriber's work on the delivered streams, committed together (one read of the
   * checkpoints and erasures, one batch of writes, with the catalog); the streams whose checkpoint
   * moved under them (or that were erased meanwhile) are redone from what is there now. The events
   * of an erased stream recorded at or before its erasure are dropped: neither applied nor recorded
   * in the catalog. Answers each subscriber's progress, and the erasures it knew of last.
   */
  async #advance(
    work: readonly Work[],
    groups: readonly StreamGroup[],
    scope: RunScope,
  ): Promise<{ progress: { subscriber: string; streamName: string; reached: StreamProgress }[]; erasedAt: ReadonlyMap<string, string> }> {
    // By subscriber and stream: a stream redone after a conflict replaces its first result.
    const progress = new Map<string, { subscriber: string; streamName: string; reached: StreamProgress }>();
    let pending = work;
    let recording = groups.length > 0;
    let erasedAt: ReadonlyMap<string, string> = new Map();
    for (let round = 0; round < CONFLICT_ROUNDS && (pending.length > 0 || recording); round += 1) {
      const state = await this.#store.deliveryState(
        [...new Set(pending.map((item) => item.subscriber.name))],
        [...new Set([...pending.map((item) => item.group.streamName), ...(recording ? groups.map((group) => group.streamName) : [])])],
      );
      // Every erasure seen in any round: a later round reads only the streams it redoes.
      erasedAt = new Map([...erasedAt, ...state.erasedAt]);
      const live = (group: StreamGroup) => withoutErased(group, state.erasedAt.get(group.streamName));
      const recorded = recording ? groups.map(live).filter((group) => group.envelopes.size > 0).map(catalogEntryOf) : [];
      recording = false;
      const checkpoints = state.checkpoints;
      const prepared = await mapBounded(pending, this.#concurrency, ({ subscriber, group }) =>
        this.#prepareDelivered(subscriber, live(group), checkpoints.get(subscriber.name)?.get(group.streamName) ?? -1, scope),
      );
      const results = await this.#store.commit(
        prepared.flatMap((item) => item.units),
        recorded,
      );
      const conflicted: Work[] = [];
      let at = 0;
      for (const [index, item] of prepared.entries()) {
        const { subscriber, group } = pending[index] as Work;
        let checkpoint = item.checkpoint;
        let failure = item.failure;
        let conflict = false;
        for (const unit of item.units) {
          const result = results[at];
          at += 1;
          if (conflict || failure?.version === checkpoint + 1) continue;
          if (result === undefined || result.ok) checkpoint = unit.version;
          else if (result.conflict) conflict = true;
          else failure = { version: checkpoint + 1, error: result.error };
        }
        if (conflict) conflicted.push({ subscriber, group });
        const reached = failure === undefined ? { checkpoint } : { checkpoint, failure };
        progress.set(`${subscriber.name}\u0000${group.streamName}`, { subscriber: subscriber.name, streamName: group.streamName, reached });
      }
      pending = conflicted;
    }
    return { progress: [...progress.values()], erasedAt };
  }

  /** The work for one delivered stream: its plan, the events it needs (read back when missing), handled. */
  async #prepareDelivered(subscriber: Subscriber, group: StreamGroup, checkpoint: number, scope: RunScope): Promise<Prepared> {
    const withEvent: number[] = [];
    const referenced: number[] = [];
    for (const [version, envelope] of group.envelopes) (envelope.kind === "event" ? withEvent : referenced).push(version);
    const plan = planDelivery(checkpoint, withEvent, referenced);
    if (plan.target === checkpoint) return { units: [], checkpoint };
    const events = plan.fromEnvelopes.map((version) => (group.envelopes.get(version) as EventEnvelope & { kind: "event" }).event);
    if (plan.read !== null) {
      try {
        events.push(...(await scope.source.read(group.stream, group.streamName, plan.read.from, plan.read.to)));
      } catch (error) {
        return { units: [], checkpoint, failure: { version: plan.read.from, error: `could not read the stream: ${errorText(error)}` } };
      }
    }
    return this.#prepare(subscriber, group.streamName, checkpoint, events, plan.target, scope);
  }

  /**
   * Runs the handler on `events` — which must continue `checkpoint` without a gap, up to `target` —
   * and cuts the result into commit units. Stops at the first event that is missing or whose
   * handler throws.
   */
  async #prepare(subscriber: Subscriber, streamName: string, checkpoint: number, events: readonly ProjectedEvent[], target: number, scope: RunScope): Promise<Prepared> {
    const units: CommitUnit[] = [];
    let statements: ReadStatement[] = [];
    let unitStart = checkpoint;
    let version = checkpoint;
    let failure: Prepared["failure"];
    for (const event of events) {
      if (event.version !== version + 1) {
        failure = { version: version + 1, error: `version ${version + 1} is missing from the stream (was it deleted?)` };
        break;
      }
      try {
        statements.push(...(await subscriber.handle(event, { env: scope.env })));
      } catch (error) {
        failure = { version: event.version, error: `handler failed: ${errorText(error)}` };
        break;
      }
      version = event.version;
      if (version - unitStart >= EVENTS_PER_UNIT) {
        units.push({ subscriber: subscriber.name, streamName, expected: unitStart, version, statements });
        unitStart = version;
        statements = [];
      }
    }
    if (version > unitStart) units.push({ subscriber: subscriber.name, streamName, expected: unitStart, version, statements });
    // Each unit says when its first event was recorded: the store refuses it once an erasure overtook it.
    let next = 0;
    for (const unit of units) {
      const first = events[next];
      if (first !== undefined) unit.firstRecordedAt = first.recordedAt;
      next += unit.version - unit.expected;
    }
    if (failure === undefined && version < target) {
      failure = { version: version + 1, error: `version ${version + 1} is missing from the stream (was it deleted?)` };
    }
    return failure === undefined ? { units, checkpoint } : { units, checkpoint, failure };
  }

  #retryOutcome(delivery: Delivery, errors: string[]): DeliveryOutcome {
    return { kind: "retry", delaySeconds: Math.ceil(backoffDelay(delivery.attempts, this.#retry) / 1000), errors };
  }
}

/** When an envelope's event was recorded; for a reference (its event is not in it), when it was published — later still. */
function instantOf(envelope: EventEnvelope): string {
  return envelope.kind === "event" ? envelope.event.recordedAt : envelope.publishedAt;
}

/** Whether an event of this instant belongs to a stream erased at `erasedAt` (none: never erased). */
function isErased(erasedAt: string | undefined, instant: string | undefined): boolean {
  return erasedAt !== undefined && instant !== undefined && instant <= erasedAt;
}

/** The group without the events its stream's erasure (at `erasedAt`) removed. */
function withoutErased(group: StreamGroup, erasedAt: string | undefined): StreamGroup {
  if (erasedAt === undefined) return group;
  const envelopes = new Map([...group.envelopes].filter(([, envelope]) => !isErased(erasedAt, instantOf(envelope))));
  return envelopes.size === group.envelopes.size ? group : { ...group, envelopes };
}

function catalogEntryOf(group: StreamGroup): CatalogEntry {
  return { stream: group.stream, streamName: group.streamName, version: Math.max(...group.envelopes.keys()) };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function asJson(body: unknown): Json {
  try {
    return JSON.parse(JSON.stringify(body ?? null)) as Json;
  } catch {
    return String(body);
  }
}

/** The trace of the event an envelope carries (its metadata's `traceparent`), as log fields; none for a reference. */
function traceOfEnvelope(body: Json): Record<string, string> {
  const read = readEnvelope(body);
  if (!read.ok || read.envelope.kind !== "event") return {};
  const traceparent = read.envelope.event.metadata.traceparent;
  return traceparent === undefined ? {} : traceFields({ traceparent });
}
