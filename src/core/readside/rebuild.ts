import { mapBounded } from "../shared/bounded.js";
import type { RunScope, SubscriptionRunner } from "./subscription-runner.js";

/** How far a catch-up or rebuild is (see `stopped` for one that did not finish). */
export type RebuildProgress = {
  subscriber: string;
  /** Streams done so far, of the catalog's streams of the subscriber's aggregate types. */
  streamsDone: number;
  streamsTotal: number;
  /** Events applied so far. */
  events: number;
  /** Streams that failed (a handler or the store), with the error; the others went on. */
  failed: { streamName: string; error: string }[];
  /** Milliseconds since the start. */
  elapsedMs: number;
  /**
   * True when its `signal` stopped it before every stream was done (`streamsDone` is then below
   * the streams there are): a {@link catchUp} goes on from where it stopped.
   */
  stopped: boolean;
};

/** Dead-lettered streams a catch-up looks out for, at most (more are left to the sweep, which forgets them too). */
const MAX_LETTERED = 10_000;

/** Options of {@link catchUp} and {@link rebuild}. */
export type CatchUpOptions = {
  /** Called after each stream with the progress so far. */
  onProgress?: (progress: RebuildProgress) => void;
  /** Streams worked on at once (default 8). */
  concurrency?: number;
  /** Streams read from the catalog per page (default 100). */
  pageSize?: number;
  /** The clock (ms), for `elapsedMs`. */
  now?: () => number;
  /**
   * Stops the work once aborted — e.g. `AbortSignal.timeout(20_000)` in a request that must
   * answer in time: no stream is started after that (those under way finish) and the progress
   * says `stopped`. Stopping anywhere is safe: every stream done is committed with its checkpoints.
   */
  signal?: AbortSignal;
};

/**
 * Brings subscriber `name` up to date with every stream in the catalog of its aggregate types:
 * each stream is read from its checkpoint to its end and applied as live events are (same
 * handlers, same guarded commits), so it is safe while the queue keeps delivering. How a
 * subscriber added later catches up, and the second half of a {@link rebuild}. The dead letters of
 * the events it applies are forgotten, as a sweep forgets them.
 */
export async function catchUp(runner: SubscriptionRunner, name: string, scope: RunScope, options: CatchUpOptions = {}): Promise<RebuildProgress> {
  const subscriber = runner.subscriber(name);
  if (subscriber === undefined) throw new Error(`no subscriber ${name}`);
  const now = options.now ?? Date.now;
  const started = now();
  const store = runner.store;
  let total = 0;
  for (const stream of subscriber.streams) total += await store.countStreams(stream);
  const progress: RebuildProgress = { subscriber: name, streamsDone: 0, streamsTotal: total, events: 0, failed: [], elapsedMs: 0, stopped: false };
  // Its dead-lettered streams: a letter whose event this catch-up applies is forgotten, as a sweep does.
  const lettered = new Set((await store.deadLetteredStreams(MAX_LETTERED, [subscriber])).map((letter) => letter.streamName));
  for (const stream of subscriber.streams) {
    let after: string | null = null;
    // Stopped only on a stream it then skips: a signal aborted after the last stream stops nothing.
    while (!progress.stopped) {
      const page = await store.streams(stream, { after, limit: options.pageSize ?? 100 });
      if (page.length === 0) break;
      await mapBounded(page, options.concurrency ?? 8, async (entry) => {
        if (options.signal?.aborted === true) {
          progress.stopped = true;
          return;
        }
        try {
          // Awaited first: `events += await …` would read `events` before the await and lose updates.
          const { applied, checkpoint } = await runner.catchUpStream(subscriber, stream, entry.streamName, scope);
          progress.events += applied;
          if (lettered.has(entry.streamName)) await store.resolveDeadLetters(subscriber.name, entry.streamName, checkpoint);
        } catch (error) {
          progress.failed.push({ streamName: entry.streamName, error: error instanceof Error ? error.message : String(error) });
        }
        progress.streamsDone += 1;
        progress.elapsedMs = now() - started;
        options.onProgress?.({ ...progress, failed: [...progress.failed] });
      });
      after = page.at(-1)?.streamName ?? null;
    }
  }
  progress.elapsedMs = now() - started;
  progress.streamsTotal = Math.max(progress.streamsTotal, progress.streamsDone);
  return progress;
}

/**
 * Rebuilds subscriber `name` from scratch: empties its read model and forgets its checkpoints
 * (its `reset` statements, in one transaction), then {@link catchUp} replays every stream from
 * the aggregates' own objects. Events delivered meanwhile by the queue are applied in order too —
 * the checkpoints guard both — so the queue need not stop. A process manager is refused: replaying
 * its events would start its processes again.
 */
export async function rebuild(runner: SubscriptionRunner, name: string, scope: RunScope, options: CatchUpOptions = {}): Promise<RebuildProgress> {
  const subscriber = runner.subscriber(name);
  if (subscriber === undefined) throw new Error(`no subscriber ${name}`);
  if ("kind" in subscriber && subscriber.kind === "process") throw new Error(`${name} is a process manager: rebuilding it would start its processes again`);
  await runner.store.reset(subscriber.name, subscriber.reset());
  return catchUp(runner, name, scope, options);
}
