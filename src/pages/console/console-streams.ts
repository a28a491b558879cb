import type { StreamAccess } from "../../core/aggregates/aggregate-router.js";
import { aggregateIdOf } from "../../core/readside/event-envelope.js";
import type { SeenStream, SweepCursor } from "../../core/readside/read-store.js";
import type { PendingFollowUp } from "../../core/scheduling/follow-up.js";
import { withTimeout } from "../../core/shared/timeout.js";
import type { ConsoleReadSide } from "./console-read-side.js";
import { justBefore, problemText } from "./console-read-side.js";

/*
 * How the console finds streams without knowing an id: from the read side's catalog, where every
 * outbox records the streams it publishes (ReadStore.streams in name order, recentStreams by when
 * they were last written). A Durable Object namespace cannot be listed, so without a read side
 * only an exact id finds a stream. Scheduler shards cannot be listed either: what can be shown
 * without a key is the aggregates' own follow-ups, read from the most recently written streams.
 */

/** Streams per page of a listing. */
export const STREAMS_LISTED = 25;

/** How many of the most recently written streams the schedules page reads follow-ups from. */
export const FOLLOW_UP_STREAMS = 10;

/** How long the schedules page waits for one stream's read. */
const STREAM_READ_TIMEOUT_MS = 2000;

/** A stream name given to start a listing at, longer than any stream name could be, is ignored. */
const MAX_NAME = 1024;

/** One stream of a listing: its aggregate type and id, and whether the console can read it. */
export type ListedStream = {
  /** The aggregate type. */
  stream: string;
  id: string;
  /** The highest version the catalog recorded. */
  version: number;
  /** When its outbox last recorded it (ISO 8601); in listings of the most recent streams. */
  seenAt: string | null;
  /** The console reads streams of the gateway's admin aggregates only. */
  readable: boolean;
};

/** A listing of streams: the most recently written, or those of a type whose id starts with a prefix. */
export type StreamListing =
  | {
      kind: "recent";
      entries: readonly ListedStream[];
      /** The `before` of the next page (older streams), or null on the last. */
      older: string | null;
      /** Whether this page starts at the newest stream. */
      newest: boolean;
    }
  | {
      kind: "prefix";
      stream: string;
      prefix: string;
      entries: readonly ListedStream[];
      /** The `start` of the next page, or null on the last. */
      next: string | null;
      /** Whether this page starts at the first match. */
      first: boolean;
    }
  /** Streams cannot be listed here, and why (a sentence of the console's own). */
  | { kind: "unavailable"; reason: string };

/** A `before` cursor as it travels in a URL: `<seenAt>,<stream name>`. */
const cursorText = (cursor: SweepCursor) => `${cursor.seenAt},${cursor.streamName}`;

/** A `before` cursor from a URL, or null when absent or not one. */
export function readCursor(text: string | undefined): SweepCursor | null {
  if (text === undefined || text.length > MAX_NAME + 40) return null;
  const match = /^(\d{4}-\d\d-\d\dT[\d:.]+Z),(.*)$/s.exec(text);
  return match === null ? null : { seenAt: match[1] ?? "", streamName: match[2] ?? "" };
}

const NO_READ_SIDE: StreamListing = {
  kind: "unavailable",
  reason: "Streams are listed from the read side's catalog, and this console has no read side (browserPages({ console: { readSide } })): give an exact id.",
};

function listed(entry: Pick<SeenStream, "stream" | "streamName" | "version"> & { seenAt?: string }, readable: ReadonlySet<string>): ListedStream {
  return {
    stream: entry.stream,
    id: aggregateIdOf(entry.stream, entry.streamName),
    version: entry.version,
    seenAt: entry.seenAt ?? null,
    readable: readable.has(entry.stream),
  };
}

/** The most recently written streams of every aggregate type, newest first, from `before` on. */
export async function recentStreams<Env>(
  readSide: ConsoleReadSide<Env> | undefined,
  aggregates: readonly StreamAccess<Env>[],
  env: Env,
  before: SweepCursor | null,
): Promise<StreamListing> {
  if (readSide === undefined) return NO_READ_SIDE;
  try {
    const found = await readSide.store(env).recentStreams({ before, limit: STREAMS_LISTED + 1 });
    const readable = new Set(aggregates.map((access) => access.stream));
    const shown = found.slice(0, STREAMS_LISTED);
    const last = shown[shown.length - 1];
    return {
      kind: "recent",
      entries: shown.map((entry) => listed(entry, readable)),
      older: found.length > STREAMS_LISTED && last !== undefined ? cursorText(last) : null,
      newest: before === null,
    };
  } catch (error) {
    return { kind: "unavailable", reason: `Could not read the catalog: ${problemText(error)}` };
  }
}

/** The streams of type `stream` whose id starts with `prefix`, in name order, from the stream `start` on. */
export async function streamsByPrefix<Env>(
  readSide: ConsoleReadSide<Env> | undefined,
  aggregates: readonly StreamAccess<Env>[],
  env: Env,
  stream: string,
  prefix: string,
  start: string | undefined,
): Promise<StreamListing> {
  if (readSide === undefined) return NO_READ_SIDE;
  const wanted = `${stream}-${prefix}`;
  // A start outside the prefix's streams (edited by hand) starts at the first of them.
  const from = start !== undefined && start.length <= MAX_NAME && start.startsWith(wanted) ? start : wanted;
  try {
    // Names sort, so a prefix's streams come one after another: the first that does not match ends them.
    const found = await readSide.store(env).streams(stream, { after: justBefore(from), limit: STREAMS_LISTED + 1 });
    const matching = found.filter((entry) => entry.streamName.startsWith(wanted));
    const readable = new Set(aggregates.map((access) => access.stream));
    return {
      kind: "prefix",
      stream,
      prefix,
      entries: matching.slice(0, STREAMS_LISTED).map((entry) => listed(entry, readable)),
      next: matching[STREAMS_LISTED]?.streamName ?? null,
      first: from === wanted,
    };
  } catch (error) {
    return { kind: "unavailable", reason: `Could not read the catalog: ${problemText(error)}` };
  }
}

/** A pending follow-up of one stream. */
export type StreamFollowUp = { stream: string; id: string; followUp: PendingFollowUp };

/** The follow-ups pending on the most recently written streams, and how far the page could look. */
export type RecentFollowUps =
  | {
      /** Streams looked at (readable ones among the most recently written). */
      streams: number;
      /** Their pending follow-ups, soonest first. */
      followUps: readonly StreamFollowUp[];
      /** Streams that could not be read (their follow-ups are missing from the list). */
      unread: number;
    }
  | { unavailable: string };

/**
 * The pending follow-ups of the {@link FOLLOW_UP_STREAMS} most recently written streams that the
 * console can read: each stream's object is asked for one page of one event, which lists them.
 */
export async function recentFollowUps<Env>(
  readSide: ConsoleReadSide<Env> | undefined,
  aggregates: readonly StreamAccess<Env>[],
  env: Env,
): Promise<RecentFollowUps> {
  if (readSide === undefined) return { unavailable: "Follow-ups are found through the read side's catalog, and this console has no read side (browserPages({ console: { readSide } }))." };
  let recent: SeenStream[];
  try {
    recent = await readSide.store(env).recentStreams({ before: null, limit: FOLLOW_UP_STREAMS * 4 });
  } catch (error) {
    return { unavailable: `Could not read the catalog: ${problemText(error)}` };
  }
  const access = new Map(aggregates.map((entry) => [entry.stream, entry]));
  const readable = recent.flatMap((entry) => {
    const reader = access.get(entry.stream);
    return reader === undefined ? [] : [{ entry, reader }];
  }).slice(0, FOLLOW_UP_STREAMS);
  const pages = await Promise.all(
    readable.map(async ({ entry, reader }) => {
      const id = aggregateIdOf(entry.stream, entry.streamName);
      const read = reader.readStream(env, id, { from: Math.max(0, entry.version), limit: 1 }).then(
        (page) => page.followUps.map((followUp): StreamFollowUp => ({ stream: entry.stream, id, followUp })),
        () => null,
      );
      return withTimeout(read, STREAM_READ_TIMEOUT_MS, () => null);
    }),
  );
  const followUps = pages.flatMap((page) => page ?? []).sort((a, b) => a.followUp.nextAttemptAt.localeCompare(b.followUp.nextAttemptAt));
  return { streams: readable.length, followUps, unread: pages.filter((page) => page === null).length };
}
