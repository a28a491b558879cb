import type { RebuildProgress } from "../../core/readside/rebuild.js";
import type { SweepReport } from "../../core/readside/sweep.js";
import type { ReadStore } from "../../core/readside/read-store.js";
import type { Subscriber } from "../../core/readside/subscriber.js";
import type { Logger } from "../../core/shared/logger.js";
import type { ReadSide } from "../../worker/readside/read-side.js";
import type { CatalogPage, ReadSideView, ReplayReport, SubscriberKind, SubscriberRow, SweepNotice } from "./console-pages.js";

/*
 * What the console's read side page reads, and what its rebuild and catch-up buttons do. The
 * routes themselves, and the guards every change passes, are in console-routes.ts.
 */

/** What the console needs of the read side: a {@link ReadSide} has all of it. */
export type ConsoleReadSide<Env> = Pick<ReadSide<Env>, "store" | "runner" | "rebuild" | "catchUp" | "sweep">;

/** Streams of the catalog per page of checkpoints: the catalog can hold millions. */
export const STREAMS_PER_PAGE = 25;

/** Dead letters shown at most, newest first. */
export const DEAD_LETTERS_SHOWN = 50;

/**
 * How long a rebuild or catch-up runs in the request before it stops and reports how far it got:
 * well inside what a browser and the platform wait for an answer. A catch-up goes on from there.
 */
export const REPLAY_BUDGET_MS = 20_000;

/** A stream name to start at, longer than any stream name could be, is ignored. */
const MAX_NAME = 1024;

/** The console's two replays: a rebuild (projections only) and a catch-up (any subscriber). */
export type ReplayAction = "rebuild" | "catch_up";

/** A failure in a few words for a page: its message, at most 200 characters. */
export const problemText = (error: unknown): string => (error instanceof Error ? error.message : String(error)).slice(0, 200);

/** A subscriber's kind: `projection()` and `processManager()` say theirs; any other is "other". */
function kindOf(subscriber: Subscriber): SubscriberKind {
  const kind: unknown = (subscriber as Subscriber & { kind?: unknown }).kind;
  return kind === "projection" || kind === "process" ? kind : "other";
}

/**
 * A name that sorts just before `name`, so that a store paging *after* a name starts *at* it: its
 * last character one lower, then the highest code point. Only a name with that prefix followed by
 * U+10FFFF and more sorts between the two (it would be shown first: harmless).
 */
export function justBefore(name: string): string | null {
  const chars = Array.from(name);
  const last = chars.pop()?.codePointAt(0);
  if (last === undefined) return null;
  if (last === 0) return chars.join("");
  // One lower, stepping over the surrogates (no character has their code points).
  const lower = last - 1 >= 0xd800 && last - 1 <= 0xdfff ? 0xd7ff : last - 1;
  return chars.join("") + String.fromCodePoint(lower, 0x10ffff);
}

/** One page of the catalog's `stream` streams from `from` on, with the checkpoints of `subscribers` there. */
async function catalogPage(store: ReadStore, stream: string, from: string, subscribers: readonly string[]): Promise<CatalogPage> {
  // One stream more than shown: the first of the next page, if there is one.
  const [found, total] = await Promise.all([store.streams(stream, { after: justBefore(from), limit: STREAMS_PER_PAGE + 1 }), store.countStreams(stream)]);
  const entries = found.slice(0, STREAMS_PER_PAGE);
  const checkpoints = await store.checkpoints(subscribers, entries.map((entry) => entry.streamName));
  return { stream, from, total, entries, checkpoints, next: found[STREAMS_PER_PAGE]?.streamName ?? null };
}

/** `work`'s value, or the problem that stopped it (one failed read leaves the rest of the page). */
async function settled<T>(work: Promise<T>, what: string): Promise<{ value: T | null; problem: string | null }> {
  return work.then(
    (value) => ({ value, problem: null }),
    (error: unknown) => ({ value: null, problem: `Could not read ${what}: ${problemText(error)}` }),
  );
}

/**
 * What the read side page shows for `query` (`stream`: the aggregate type, `from`: the stream to
 * start at, and what a replay reported through its redirect); null without a read side.
 */
export async function readSideView<Env>(readSide: ConsoleReadSide<Env> | undefined, env: Env, query: Record<string, string>): Promise<ReadSideView | null> {
  if (readSide === undefined) return null;
  const subscribers: SubscriberRow[] = readSide.runner(env).subscribers.map((s) => ({ name: s.name, kind: kindOf(s), streams: s.streams }));
  const streams = [...new Set(subscribers.flatMap((row) => row.streams))];
  const stream = streams.find((name) => name === query["stream"]) ?? streams[0];
  const from = (query["from"] ?? "").length > MAX_NAME ? "" : (query["from"] ?? "");
  const following = subscribers.filter((row) => stream !== undefined && row.streams.includes(stream)).map((row) => row.name);
  const store = readSide.store(env);
  const [catalog, deadLetters] = await Promise.all([
    stream === undefined ? { value: null, problem: null } : settled(catalogPage(store, stream, from, following), "the catalog"),
    settled(store.deadLetters(DEAD_LETTERS_SHOWN), "the dead letters"),
  ]);
  return {
    subscribers,
    streams,
    catalog: catalog.value,
    deadLetters: deadLetters.value,
    deadLetterLimit: DEAD_LETTERS_SHOWN,
    replayBudgetMs: REPLAY_BUDGET_MS,
    report: reportOf(query),
    sweep: sweepOf(query),
    refused: query["refused"] ?? null,
    failed: query["failed"] ?? null,
    problem: [catalog.problem, deadLetters.problem].filter((problem) => problem !== null).join(" ") || null,
  };
}

/**
 * Rebuilds projection `name`, or catches up subscriber `name`, for at most
 * {@link REPLAY_BUDGET_MS}, and answers the query the redirect back carries: the progress, or why
 * nothing was done. A catch-up applies only what a subscriber missed, so any subscriber may be
 * caught up (a process manager starts only the processes it has not started: their ids are
 * derived from their events); a rebuild replays everything, so it is refused for anything but a
 * projection — a process manager's processes would start again, and an app's own subscriber may
 * have effects the console cannot know.
 */
export async function replay<Env>(readSide: ConsoleReadSide<Env>, env: Env, action: ReplayAction, name: string, logger: Logger): Promise<string> {
  const subscriber = readSide.runner(env).subscriber(name);
  if (subscriber === undefined || (action === "rebuild" && kindOf(subscriber) !== "projection")) return `refused=${encodeURIComponent(name)}`;
  const options = { signal: AbortSignal.timeout(REPLAY_BUDGET_MS) };
  try {
    const progress = action === "rebuild" ? await readSide.rebuild(env, name, options) : await readSide.catchUp(env, name, options);
    if (progress.failed.length > 0) logger.warn(`console ${action}: streams failed`, { subscriber: name, failed: progress.failed.slice(0, 20) });
    return reportQuery(action, progress);
  } catch (error) {
    logger.error(`console ${action} failed`, { subscriber: name, error });
    return `failed=${encodeURIComponent(name)}`;
  }
}

/**
 * Sweeps now — without waiting for the streams to be quiet — for at most
 * {@link REPLAY_BUDGET_MS}, and answers the query the redirect back carries (read by `sweepOf`).
 */
export async function sweepNow<Env>(readSide: ConsoleReadSide<Env>, env: Env, logger: Logger): Promise<string> {
  try {
    const report = await readSide.sweep(env, { quietMs: 0, signal: AbortSignal.timeout(REPLAY_BUDGET_MS) });
    return sweepQuery(report);
  } catch (error) {
    logger.error("console sweep failed", { error });
    return "sweep_failed=1";
  }
}

function sweepQuery(report: SweepReport): string {
  const first = report.failed[0];
  const fields: Record<string, string | number> = {
    swept: report.streams,
    caught_up: report.caughtUp.length,
    events: report.caughtUp.reduce((sum, item) => sum + item.applied, 0),
    failed_streams: report.failed.length,
    resolved: report.resolved,
    ...(report.more ? { more: 1 } : {}),
    ...(first === undefined ? {} : { failed_stream: first.streamName, failed_subscriber: first.subscriber, failed_error: first.error.slice(0, 200) }),
  };
  return new URLSearchParams(Object.entries(fields).map(([key, value]) => [key, String(value)])).toString();
}

/** The sweep a redirect's notice reports, or null when it reports none. */
function sweepOf(query: Record<string, string>): SweepNotice | null {
  if (query["sweep_failed"] === "1") return { failed: true };
  if (query["swept"] === undefined) return null;
  const stream = query["failed_stream"];
  return {
    failed: false,
    streams: count(query["swept"]),
    caughtUp: count(query["caught_up"]),
    events: count(query["events"]),
    failedCount: count(query["failed_streams"]),
    resolved: count(query["resolved"]),
    more: query["more"] === "1",
    firstFailure: stream === undefined ? null : { streamName: stream, subscriber: query["failed_subscriber"] ?? "", error: query["failed_error"] ?? "" },
  };
}

/** The progress as the query of the redirect back to the page (read by {@link reportOf}). */
function reportQuery(action: ReplayAction, progress: RebuildProgress): string {
  const first = progress.failed[0];
  const fields: Record<string, string | number> = {
    done: action,
    subscriber: progress.subscriber,
    streams: progress.streamsDone,
    of: progress.streamsTotal,
    events: progress.events,
    ms: Math.round(progress.elapsedMs),
    failed_streams: progress.failed.length,
    ...(progress.stopped ? { stopped: 1 } : {}),
    ...(first === undefined ? {} : { failed_stream: first.streamName, failed_error: first.error.slice(0, 200) }),
  };
  return new URLSearchParams(Object.entries(fields).map(([key, value]) => [key, String(value)])).toString();
}

/** A count from the query (0 when absent or not one). */
const count = (value: string | undefined) => (value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : 0);

/** The report a replay's redirect carries, or null when the query carries none. */
function reportOf(query: Record<string, string>): ReplayReport | null {
  const action = query["done"];
  const subscriber = query["subscriber"];
  if ((action !== "rebuild" && action !== "catch_up") || subscriber === undefined) return null;
  const failedStream = query["failed_stream"];
  return {
    action,
    subscriber,
    streamsDone: count(query["streams"]),
    streamsTotal: count(query["of"]),
    events: count(query["events"]),
    elapsedMs: count(query["ms"]),
    stopped: query["stopped"] === "1",
    failedCount: count(query["failed_streams"]),
    firstFailure: failedStream === undefined ? null : { streamName: failedStream, error: query["failed_error"] ?? "" },
  };
}
