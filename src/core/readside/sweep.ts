import { mapBounded } from "../shared/bounded.js";
import { jsonLogger, type Logger } from "../shared/logger.js";
import { aggregateIdOf, ENVELOPE_FORMAT } from "./event-envelope.js";
import type { Subscriber } from "./subscriber.js";
import type { RunScope, SubscriptionRunner } from "./subscription-runner.js";

/** Options of {@link sweep}. */
export type SweepOptions = {
  /** Streams looked at per run, at most (default 1,000): the rest are the next run's. */
  streamsPerRun?: number;
  /**
   * Streams their outbox recorded less than this long ago are left to the queue, which is most
   * likely still delivering them (default 10 s).
   */
  quietMs?: number;
  /** Streams caught up at once (default 8). */
  concurrency?: number;
  /** Stops starting streams once aborted (those under way finish); the next run goes on. */
  signal?: AbortSignal;
  /** The clock (ms). */
  now?: () => number;
  logger?: Logger;
};

/** One subscriber's stream that a sweep worked on. */
export type SweptStream = { subscriber: string; streamName: string };

/** What one {@link sweep} did. */
export type SweepReport = {
  /** Streams looked at (recorded by their outboxes since the last run, and quiet since). */
  streams: number;
  /** Subscribers' streams that were behind and caught up, with the events applied. */
  caughtUp: (SweptStream & { applied: number })[];
  /** Subscribers' streams that failed (kept as dead letters, tried again by every sweep), with the error. */
  failed: (SweptStream & { error: string })[];
  /** Dead letters forgotten because their events are applied now. */
  resolved: number;
  /** Whether streams are left for the next run (it was full, or stopped). */
  more: boolean;
  /** Whether its `signal` stopped it. */
  stopped: boolean;
  elapsedMs: number;
};

/** How long a stream recorded by its outbox is left to the queue, by default; the cursor never passes a more recent one. */
const DEFAULT_QUIET_MS = 10_000;

/** Dead-lettered streams tried again per run, at most. */
const DEAD_LETTERED_PER_RUN = 100;

/**
 * The read side's sweep: what makes it converge without new commands. It looks at the streams
 * their outboxes recorded in the catalog since the last run (once quiet, so as not to race the
 * queue) and at the streams with dead letters, compares each stream's version with the
 * checkpoint of every subscriber that follows it — projections, process managers and any other
 * subscriber alike — and delivers what is missing, in order, through the same path as a catch-up
 * (same handlers, same guarded commits: a sweep beside the queue consumer applies nothing twice).
 * A queue message that was lost, an event dead-lettered whose cause was fixed, a dev server
 * stopped mid-way: the next sweep delivers it. Work per run is bounded; a cursor in the store
 * carries the rest to the next run. Run it from a Cron Trigger (`readSide(…).scheduled`).
 */
export async function sweep(runner: SubscriptionRunner, scope: RunScope, options: SweepOptions = {}): Promise<SweepReport> {
  const store = runner.store;
  const now = options.now ?? Date.now;
  const logger = options.logger ?? jsonLogger();
  const started = now();
  const limit = options.streamsPerRun ?? 1000;
  // The subscribers it delivers to name its cursor: another read side over the database keeps its own.
  const sweeper = runner.subscribers.map((subscriber) => subscriber.name).sort().join(",");
  const seen = await store.seenSince(await store.sweepCursor(sweeper), new Date(started - (options.quietMs ?? DEFAULT_QUIET_MS)).toISOString(), limit);

  // Every subscriber's streams that are behind the version their outbox recorded.
  const followers = (stream: string) => runner.subscribers.filter((subscriber) => subscriber.streams.includes(stream));
  const names = [...new Set(seen.flatMap((entry) => followers(entry.stream).map((subscriber) => subscriber.name)))];
  const checkpoints = await store.checkpoints(names, seen.map((entry) => entry.streamName));
  // `lettered`: the lowest version of the pair's dead letters, when the sweep found it by them.
  const work = new Map<string, { subscriber: Subscriber; stream: string; streamName: string; lettered?: number }>();
  for (const entry of seen) {
    for (const subscriber of followers(entry.stream)) {
      const checkpoint = checkpoints.get(subscriber.name)?.get(entry.streamName) ?? -1;
      if (checkpoint < entry.version) work.set(`${subscriber.name}\u0000${entry.streamName}`, { subscriber, stream: entry.stream, streamName: entry.streamName });
    }
  }
  // And those a subscriber gave up on: tried again until their cause is fixed.
  for (const letter of await store.deadLetteredStreams(DEAD_LETTERED_PER_RUN, runner.subscribers)) {
    const subscriber = runner.subscriber(letter.subscriber);
    const stream = letter.streamName.slice(0, Math.max(0, letter.streamName.indexOf("-")));
    if (subscriber === undefined || !subscriber.streams.includes(stream)) continue;
    work.set(`${subscriber.name}\u0000${letter.streamName}`, { subscriber, stream, streamName: letter.streamName, lettered: letter.version });
  }

  const report: SweepReport = { streams: seen.length, caughtUp: [], failed: [], resolved: 0, more: seen.length === limit, stopped: false, elapsedMs: 0 };
  await mapBounded([...work.values()], options.concurrency ?? 8, async ({ subscriber, stream, streamName, lettered }) => {
    if (options.signal?.aborted === true) {
      report.stopped = true;
      return;
    }
    try {
      const { applied, checkpoint } = await runner.catchUpStream(subscriber, stream, streamName, scope);
      if (applied > 0) report.caughtUp.push({ subscriber: subscriber.name, streamName, applied });
      // Caught up, the subscriber is at the stream's end. Letters past it name events the stream
      // no longer has (it was hard-deleted, and perhaps opened again shorter): nothing can apply
      // them, and kept as they are they would stay first in line for every sweep. A letter of an
      // event committed since the catch-up read is dropped too — its catalog row brings the stream
      // back to the next sweep, which keeps it again if it still fails.
      const upTo = lettered !== undefined && lettered > checkpoint ? Number.MAX_SAFE_INTEGER : checkpoint;
      // Awaited before the sum: `report.resolved += await …` would read the total before the
      // wait and lose what the other streams under way added meanwhile.
      const resolved = await store.resolveDeadLetters(subscriber.name, streamName, upTo);
      report.resolved += resolved;
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      report.failed.push({ subscriber: subscriber.name, streamName, error: text });
      await keepDeadLetter(runner, subscriber.name, stream, streamName, text, logger);
    }
  });
  // The cursor passes only what was recorded a quiet time ago, whatever this run's `quietMs`: a
  // catalog write is stamped before it lands, so one still on its way may land behind streams
  // recorded just now — a run at once ("Sweep now", quietMs 0) that moved the cursor past those
  // would leave it behind for good. The next run looks at the recent ones again (a compare each).
  // A full run moves on all the same, or a backlog of recent streams would hold it in place.
  const settledBy = new Date(started - DEFAULT_QUIET_MS).toISOString();
  const last = report.more ? seen.at(-1) : seen.findLast((entry) => entry.seenAt <= settledBy);
  // A run that stopped early looks at the same streams again (those it caught up cost a compare).
  if (!report.stopped && last !== undefined) await store.saveSweepCursor(sweeper, { seenAt: last.seenAt, streamName: last.streamName });
  report.more ||= report.stopped;
  report.elapsedMs = now() - started;
  if (report.caughtUp.length > 0 || report.failed.length > 0) {
    logger.info("read side swept: subscribers that missed events have them now", {
      streams: report.streams,
      caughtUp: report.caughtUp.length,
      events: report.caughtUp.reduce((sum, item) => sum + item.applied, 0),
      failed: report.failed.length,
      resolved: report.resolved,
      more: report.more,
    });
  }
  return report;
}

/**
 * A stream a subscriber still fails on is kept as a dead letter of the event it stopped at — for
 * operators, and so that every sweep tries it again even though its outbox will not record it.
 */
async function keepDeadLetter(runner: SubscriptionRunner, subscriber: string, stream: string, streamName: string, error: string, logger: Logger): Promise<void> {
  try {
    const checkpoint = (await runner.store.checkpoints([subscriber], [streamName])).get(subscriber)?.get(streamName) ?? -1;
    const version = checkpoint + 1;
    logger.warn("the sweep could not deliver an event: kept as a dead letter, tried again by the next sweep", { subscriber, streamName, version, error });
    await runner.store.deadLetter({
      subscriber,
      streamName,
      version,
      error,
      attempts: 1,
      envelope: { format: ENVELOPE_FORMAT, kind: "reference", publishedAt: new Date().toISOString(), ref: { stream, streamName, aggregateId: aggregateIdOf(stream, streamName), version } },
      recordedAt: new Date().toISOString(),
    });
  } catch (failure) {
    logger.error("could not keep a dead letter of the sweep", { subscriber, streamName, error: failure });
  }
}
