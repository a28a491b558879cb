import { Cron } from "croner";

/**
 * When a scheduled message is due: once, `inMs` from now or `at` an RFC 3339 date-time; or again and
 * again, at each minute a 5-field cron expression matches (UTC), or `everyMs` apart.
 */
export type ScheduleSpec = { inMs: number } | { at: string } | { cron: string } | { everyMs: number };

/** How a recurring schedule repeats. */
export type Recurrence = { cron: string } | { everyMs: number };

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
  const { inMs, at, cron, everyMs } = spec as { inMs?: unknown; at?: unknown; cron?: unknown; everyMs?: unknown };
  const given = [inMs, at, cron, everyMs].filter((value) => value !== undefined);
  if (given.length !== 1) return "give exactly one of in, at, cron or every";
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
  if (cron !== undefined) {
    const problem = cronProblem(cron);
    if (problem !== null) return problem;
    const recurrence = { cron: cron as string };
    const dueAt = nextOccurrence(recurrence, now);
    if (dueAt === null) return "cron never matches a future minute";
    return { dueAt, recurrence };
  }
  if (typeof everyMs !== "number" || !Number.isInteger(everyMs) || everyMs < minIntervalMs || everyMs > MAX_SCHEDULE_AHEAD_MS) {
    return `every must be a whole number of milliseconds from ${minIntervalMs} (the shortest interval) to one year`;
  }
  return { dueAt: now + everyMs, recurrence: { everyMs } };
}

/** When a recurring schedule is due next after `after` (epoch ms), or null if never (or not a time). */
export function nextOccurrence(recurrence: Recurrence, after: number): number | null {
  if (!Number.isFinite(after)) return null;
  if ("everyMs" in recurrence) return Number.isFinite(recurrence.everyMs) && recurrence.everyMs > 0 ? after + recurrence.everyMs : null;
  const next = cronOf(recurrence.cron).nextRun(new Date(after));
  return next === null || !Number.isFinite(next.getTime()) ? null : next.getTime();
}

function cronProblem(expression: unknown): string | null {
  if (typeof expression !== "string" || expression.trim().split(/\s+/).length !== 5) {
    return "cron must have 5 fields: minute hour day-of-month month day-of-week (UTC)";
  }
  try {
    cronOf(expression);
    return null;
  } catch (error) {
    return `cron: ${error instanceof Error ? error.message : "invalid expression"}`;
  }
}

function cronOf(expression: string): Cron {
  // No callback: croner only evaluates the pattern and starts no timer.
  return new Cron(expression, { utcOffset: 0, mode: "5-part" });
}
