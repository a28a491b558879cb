import type { DomainEvent } from "../messaging/message.js";
import { response, type ErrorResponse } from "../messaging/response.js";
import { parseDateTime } from "../scheduling/schedule.js";
import { jsonProblem, type Json } from "../shared/json.js";
import type { AggregateOptions } from "./aggregate.js";
import type { PastPoint, PastState } from "./aggregate-protocol.js";
import type { StreamStore } from "./stream-store.js";
import { upcast } from "./upcasting.js";

/*
 * Looking back at a stream (the admin's "state at version N or time T"): a replay of its events
 * from the first one through today's upcasters and `apply`. Snapshots are left alone: the one kept
 * is the newest (a state after the point, usually), and one of an older schema is no state today's
 * code can read. A replay from the start is always right, and an admin's look back can afford it.
 */

/** Events read per page of a replay (a load's and a look back's). */
export const REPLAY_PAGE = 500;

/** The state at a point of a stream's past, before it is shown as JSON. */
export type Replayed<State> = Omit<PastState, "stream" | "state" | "dryRun"> & { state: State };

/** Where a replay stops: after a version, or at the last event recorded at or before a time. */
type Until = { version: number } | { atMs: number; at: string };

/**
 * A point from the `version` and `at` parameters of a URL — exactly one of them, a whole version
 * or an RFC 3339 date-time with a time zone — or why they are not one.
 */
export function readPastPoint(version: string | undefined, at: string | undefined): PastPoint | string {
  if ((version === undefined) === (at === undefined)) return "give exactly one of version or at";
  if (version !== undefined) return /^\d{1,15}$/.test(version) ? { version: Number(version) } : "version must be a whole number >= 0";
  const problem = untilOf({ at: at ?? "" });
  return typeof problem === "string" ? problem : { at: at ?? "" };
}

/** Where a replay to `point` stops, or why `point` is not one (it may come from JSON). */
function untilOf(point: PastPoint): Until | string {
  if ("version" in point) {
    const { version } = point;
    return Number.isSafeInteger(version) && version >= 0 ? { version } : "version must be a whole number >= 0";
  }
  const atMs = typeof point.at === "string" ? parseDateTime(point.at) : "must be a string";
  return typeof atMs === "string" ? `at ${atMs}` : { atMs, at: point.at };
}

/**
 * The most events one look back replays. The replay holds the object (its reads are synchronous,
 * and commands wait behind it): a point further from the stream's start is refused, so that an
 * operator's click cannot stall an aggregate or run past the platform's CPU limit.
 */
const MAX_LOOK_BACK_EVENTS = 10_000;

/**
 * The state of `store`'s stream at `point`: its events replayed from the first through today's
 * upcasters and `apply`, stopping after the version asked for, or before the first event recorded
 * after the time asked for. Refused: `invalid_request` for a point that is not one or that the
 * stream does not have (beyond its last version, before its first event, or any point of a
 * state-based aggregate, which keeps no events); `not_found` for a stream that holds nothing.
 * Reads only. An `apply` that throws rejects (the caller logs it).
 */
export async function replayTo<State, Event extends DomainEvent>(
  options: AggregateOptions<State, Event>,
  store: StreamStore,
  point: PastPoint,
): Promise<Replayed<State> | ErrorResponse> {
  const until = untilOf(point);
  if (typeof until === "string") return response.error("invalid_request", until);
  const now = await store.streamState();
  if (now.status === "missing") return response.error("not_found");
  if (options.persistence === "state") return response.error("invalid_request", "this aggregate keeps its current state only, no events: it has no past to look back at");
  if ("version" in until && until.version > now.version) {
    return response.error("invalid_request", `version ${until.version} is beyond the stream's last, ${now.version}`);
  }
  if ("version" in until && until.version >= MAX_LOOK_BACK_EVENTS) {
    return response.error("invalid_request", `looking back replays at most ${MAX_LOOK_BACK_EVENTS} events from the stream's start: version ${until.version} is further`);
  }
  let state = options.initialState();
  let version = -1;
  let recordedAt = "";
  let upcastEvents = 0;
  let firstRecordedAt: string | null = null;
  replay: for (;;) {
    // A replay to a version reads no further than that version.
    const wanted = "version" in until ? Math.min(REPLAY_PAGE, until.version - version) : REPLAY_PAGE;
    const page = await store.readEvents(version + 1, wanted);
    for (const event of page) {
      firstRecordedAt ??= event.recordedAt;
      if ("atMs" in until && Date.parse(event.recordedAt) > until.atMs) break replay;
      if (event.version >= MAX_LOOK_BACK_EVENTS) {
        return response.error("invalid_request", `looking back replays at most ${MAX_LOOK_BACK_EVENTS} events from the stream's start: that time is further`);
      }
      const current = upcast(options.upcasters, event);
      if (current !== event) upcastEvents += 1;
      state = options.apply(state, { type: current.type, data: current.data } as Event);
      version = event.version;
      recordedAt = event.recordedAt;
    }
    if (page.length < wanted || ("version" in until && version >= until.version)) break;
  }
  if (version < 0) {
    const first = firstRecordedAt === null ? "" : `: its first event was recorded at ${firstRecordedAt}`;
    return response.error("invalid_request", `nothing was recorded in this stream at or before ${"at" in until ? until.at : "that point"}${first}`);
  }
  return { version, recordedAt, state, upcastEvents, now: { status: now.status, version: now.version } };
}

/** The state as a look back shows it: JSON, through `stateToJson` when the aggregate has one; null when it is not JSON. */
export function pastStateJson<State, Event extends DomainEvent>(options: AggregateOptions<State, Event>, state: State): Json | null {
  const json = options.stateToJson === undefined ? (state as Json) : options.stateToJson(state);
  return jsonProblem(json, "state") === null ? json : null;
}

/** Whether a look back answered a past state (not a refusal). */
export function isPastState<T extends object>(answer: T | ErrorResponse): answer is T {
  return !("status" in answer && answer.status === "error");
}
