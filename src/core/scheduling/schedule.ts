import { Cron } from "croner";

/**
 * When a scheduled message is due: once, `inMs` from now or `at` an RFC 3339 date-time; or again and
 * again, at each minute a 5-field cron expression matches — in `timeZone` (an IANA name such as
 * `Europe/Berlin`; UTC by default), across daylight saving changes — or `everyMs` apart. A
 * recurring schedule says what becomes of the runs it `missed` while nothing ran (default
 * `"once"`, see {@link MissedRuns}).
 */
export type ScheduleSpec =
  | { inMs: number }
  | { at: string }
  | { cron: string; timeZone?: string; missed?: MissedRuns }
  | { everyMs: number; missed?: MissedRuns };

/**
 * What a recurring schedule does about the runs it missed while nothing ran (a deploy, an outage):
 * a run counts as missed when it comes due and is not delivered within the scheduler's lateness
 * threshold (`lateAfterMs`, 30 s by default). `"skip"`: none of them runs, the schedule goes on at
 * its next run after now; `"once"`: one run stands for them all (the most recent missed one);
 * `{ each: n }`: each of the `n` most recent missed runs (1 to 100), oldest first. Either way
 * every run is delivered at most once.
 */
export type MissedRuns = "skip" | "once" | { each: number };

/** The most missed runs a recurring schedule may catch up on (`{ each: n }`). */
export const MAX_MISSED_RUNS = 100;

/** How a recurring schedule repeats, and what it does about missed runs (unset: `"once"`). */
export type Recurrence = ({ cron: string; timeZone?: string } | { everyMs: number }) & { missed?: MissedRuns };

/** A schedule understood: when it is first due (epoch ms) and how it repeats. */
export type ParsedSchedule = { dueAt: number; recurrence: Recurrence | null };

/** The furthest ahead a message may be scheduled, and the longest interval: one year. */
export const MAX_SCHEDULE_AHEAD_MS = 366 * 24 * 60 * 60 * 1000;

/**
 * How far in the past an `at` may be: 24 hours. A date that recently passed (a client's clock
 * behind, a request retried late) is delivered at once, marked late; anything older is a mistake
 * (a date before 1970, a wrong year) and is refused rather than delivered years late.
 */
export const MAX_SCHEDULE_BEHIND_MS = 24 * 60 * 60 * 1000;

/**
 * The default shortest interval of a recurring schedule: one minute. A schedule is a standing
 * order or a periodic job, not a loop; and 5-field cron expressions cannot fire more often anyway.
 * A scheduler may be configured lower, never below {@link MIN_INTERVAL_FLOOR_MS}.
 */
export const MIN_INTERVAL_MS = 60_000;

/** The least a scheduler's minimum interval may be configured to: one second. */
export const MIN_INTERVAL_FLOOR_MS = 1000;

// RFC 3339 date-time (section 5.6): seconds required, a time zone required (Z or ±hh:mm; local
// times are ambiguous), upper-case T and Z. Up to 9 digits of a second; milliseconds are kept.
const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

const daysInMonth = (year: number, month: number) =>
  month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;

/**
 * Reads an RFC 3339 date-time with a time zone (`2030-01-31T09:00:00Z`,
 * `2030-01-31T10:00:00.250+01:00`) as epoch milliseconds, or says why it is not one. Every field
 * is checked: a date that does not exist (`2027-02-31`, month 13, hour 24, second 60 — leap
 * seconds are not taken) is refused, never rolled over as `Date.parse` would.
 */
export function parseDateTime(text: string): number | string {
  const match = rfc3339.exec(text);
  if (match === null) return "must be an RFC 3339 date-time with a time zone, such as 2030-01-31T09:00:00Z";
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fraction = match[7] ?? "";
  const sign = match[8] === "-" ? -1 : 1;
  const offsetHours = Number(match[9] ?? 0);
  const offsetMinutes = Number(match[10] ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) {
    return `${text} does not exist`;
  }
  const utc = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, Number(fraction.padEnd(3, "0").slice(0, 3)));
  return utc.getTime() - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
}

/**
 * Reads a {@link ScheduleSpec}: exactly one of `inMs`, `at`, `cron`, `everyMs` must be given (the
 * others undefined); `everyMs` must be at least `minIntervalMs`. Returns the parsed schedule, or
 * why it is not one.
 */
export function parseSchedule(spec: ScheduleSpec, now: number, minIntervalMs: number = MIN_INTERVAL_MS): ParsedSchedule | string {
  const { inMs, at, cron, everyMs, timeZone, missed } = spec as { inMs?: unknown; at?: unknown; cron?: unknown; everyMs?: unknown; timeZone?: unknown; missed?: unknown };
  const given = [inMs, at, cron, everyMs].filter((value) => value !== undefined);
  if (given.length !== 1) return "give exactly one of in, at, cron or every";
  if ((inMs !== undefined || at !== undefined) && (timeZone !== undefined || missed !== undefined)) {
    return "timeZone and missed go with a recurring schedule (cron; missed with every too)";
  }
  if (inMs !== undefined) {
    if (typeof inMs !== "number" || !Number.isInteger(inMs) || inMs < 0) return "in must be a whole number of milliseconds >= 0";
    if (inMs > MAX_SCHEDULE_AHEAD_MS) return "in must be at most one year";
    return { dueAt: now + inMs, recurrence: null };
  }
  if (at !== undefined) {
    const dueAt = typeof at === "string" ? parseDateTime(at) : "must be a string";
    if (typeof dueAt === "string") return `at ${dueAt}`;
    if (dueAt - now > MAX_SCHEDULE_AHEAD_MS) return "at must be at most one year ahead";
    if (now - dueAt > MAX_SCHEDULE_BEHIND_MS) return "at must not be more than 24 hours in the past";
    return { dueAt, recurrence: null };
  }
  const missedProblem = missed === undefined ? null : missedRunsProblem(missed);
  if (missedProblem !== null) return missedProblem;
  const policy = missed === undefined ? {} : { missed: missed as MissedRuns };
  if (cron !== undefined) {
    const zoneProblem = timeZone === undefined ? null : timeZoneProblem(timeZone);
    if (zoneProblem !== null) return zoneProblem;
    const problem = cronProblem(cron, timeZone as string | undefined);
    if (problem !== null) return problem;
    const recurrence: Recurrence = { cron: cron as string, ...(timeZone === undefined ? {} : { timeZone: timeZone as string }), ...policy };
    const dueAt = nextOccurrence(recurrence, now);
    if (dueAt === null) return "cron never matches a future minute";
    return { dueAt, recurrence };
  }
  if (timeZone !== undefined) return "timeZone goes with cron only";
  if (typeof everyMs !== "number" || !Number.isInteger(everyMs) || everyMs < minIntervalMs || everyMs > MAX_SCHEDULE_AHEAD_MS) {
    return `every must be a whole number of milliseconds from ${minIntervalMs} (the shortest interval) to one year`;
  }
  return { dueAt: now + everyMs, recurrence: { everyMs, ...policy } };
}

/**
 * A late run of a recurring schedule (due at `dueAt`, delivered at `now`, past the lateness
 * threshold): whether it runs, and when the schedule is due next. The runs to deliver are the most
 * recent missed ones its {@link MissedRuns} allows (none, one, or up to `n`), counted from the
 * schedule itself, so nothing needs to be remembered between deliveries: an older run is passed
 * over for the oldest of them (due already: delivered at once), the last of them is followed by
 * the first run after now.
 */
export function missedRun(recurrence: Recurrence, dueAt: number, now: number): { deliver: boolean; next: number | null } {
  const missed = recurrence.missed ?? "once";
  const keep = missed === "skip" ? 0 : missed === "once" ? 1 : missed.each;
  const recent = keep === 0 ? [] : latestRuns(recurrence, keep, dueAt, now);
  const afterNow = () => nextOccurrence(recurrence, now);
  const oldest = recent[0];
  if (oldest === undefined) return { deliver: false, next: afterNow() };
  if (dueAt < oldest) return { deliver: false, next: oldest };
  const later = recent.find((run) => run > dueAt);
  return { deliver: true, next: later ?? afterNow() };
}

/** The latest `count` runs from `from` to `now` (both included), oldest first. */
function latestRuns(recurrence: Recurrence, count: number, from: number, now: number): number[] {
  if ("everyMs" in recurrence) {
    const last = Math.floor((now - from) / recurrence.everyMs);
    const first = Math.max(0, last - count + 1);
    return Array.from({ length: last - first + 1 }, (_, i) => from + (first + i) * recurrence.everyMs);
  }
  // croner's previous runs are before the reference time: a millisecond after now includes now.
  return cronOf(recurrence.cron, recurrence.timeZone)
    .previousRuns(count, new Date(now + 1))
    .map((date) => date.getTime())
    .filter((run) => run >= from)
    .sort((a, b) => a - b);
}

/**
 * An instant as RFC 3339 in `timeZone`, with its offset (`2026-03-29T03:00:00+02:00`), or in UTC
 * (`…Z`) without one: when a schedule in a time zone is due, said in its own local time.
 */
export function dateTimeIn(ms: number, timeZone: string | undefined): string {
  const utc = new Date(ms).toISOString();
  if (timeZone === undefined || timeZone === "UTC") return utc;
  const parts = Object.fromEntries(
    zoneFormat(timeZone)
      .formatToParts(new Date(ms))
      .map((part) => [part.type, part.value]),
  );
  const wall = Date.UTC(Number(parts["year"]), Number(parts["month"]) - 1, Number(parts["day"]), Number(parts["hour"]) % 24, Number(parts["minute"]), Number(parts["second"]));
  const offset = Math.round((wall - Math.floor(ms / 1000) * 1000) / 60_000);
  if (offset === 0) return utc;
  const sign = offset < 0 ? "-" : "+";
  const hhmm = `${String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0")}:${String(Math.abs(offset) % 60).padStart(2, "0")}`;
  return `${new Date(ms + offset * 60_000).toISOString().slice(0, -1)}${sign}${hhmm}`;
}

/** When a scheduled message's run is due, as its `dispatchAt` says it: in the schedule's time zone. */
export function dispatchAtOf(dueAt: number, recurrence: Recurrence | null): string {
  return dateTimeIn(dueAt, recurrence !== null && "cron" in recurrence ? recurrence.timeZone : undefined);
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

function zoneFormat(timeZone: string): Intl.DateTimeFormat {
  let format = zoneFormats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    // Bounded by the zones in use: a scheduler takes only names the runtime knows.
    if (zoneFormats.size < 1000) zoneFormats.set(timeZone, format);
  }
  return format;
}

function timeZoneProblem(timeZone: unknown): string | null {
  if (typeof timeZone !== "string" || timeZone === "" || timeZone.length > 64) return "timeZone must be an IANA time zone name, such as Europe/Berlin";
  try {
    zoneFormat(timeZone);
    return null;
  } catch {
    return `timeZone ${timeZone} is not a time zone this runtime knows (an IANA name, such as Europe/Berlin)`;
  }
}

function missedRunsProblem(missed: unknown): string | null {
  if (missed === "skip" || missed === "once") return null;
  const each = typeof missed === "object" && missed !== null && Object.keys(missed).length === 1 ? (missed as { each?: unknown }).each : undefined;
  if (typeof each === "number" && Number.isInteger(each) && each >= 1 && each <= MAX_MISSED_RUNS) return null;
  return `missed must be "skip", "once" or { "each": n } with n from 1 to ${MAX_MISSED_RUNS}`;
}

/** When a recurring schedule is due next after `after` (epoch ms), or null if never (or not a time). */
export function nextOccurrence(recurrence: Recurrence, after: number): number | null {
  if (!Number.isFinite(after)) return null;
  if ("everyMs" in recurrence) return Number.isFinite(recurrence.everyMs) && recurrence.everyMs > 0 ? after + recurrence.everyMs : null;
  const next = cronOf(recurrence.cron, recurrence.timeZone).nextRun(new Date(after));
  return next === null || !Number.isFinite(next.getTime()) ? null : next.getTime();
}

function cronProblem(expression: unknown, timeZone: string | undefined): string | null {
  if (typeof expression !== "string" || expression.trim().split(/\s+/).length !== 5) {
    return "cron must have 5 fields: minute hour day-of-month month day-of-week (in timeZone, UTC by default)";
  }
  try {
    cronOf(expression, timeZone);
    return null;
  } catch (error) {
    return `cron: ${error instanceof Error ? error.message : "invalid expression"}`;
  }
}

function cronOf(expression: string, timeZone: string | undefined): Cron {
  // No callback: croner only evaluates the pattern and starts no timer. In a time zone, croner
  // follows Vixie cron across daylight saving changes: a time that occurs twice runs once (at its
  // first occurrence), a time that does not exist runs at the first valid time after the gap.
  return new Cron(expression, timeZone === undefined ? { utcOffset: 0, mode: "5-part" } : { timezone: timeZone, mode: "5-part" });
}
