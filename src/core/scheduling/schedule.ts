import { Cron } from "croner";

/**
 * When a scheduled message is due: once, `inMs` from now or `at` an ISO 8601 date; or again and
 * again, at each minute a 5-field cron expression matches (UTC), or `everyMs` apart.
 */
export type ScheduleSpec = { inMs: number } | { at: string } | { cron: string } | { everyMs: number };

/** How a recurring schedule repeats. */
export type Recurrence = { cron: string } | { everyMs: number };

/** A schedule understood: when it is first due (epoch ms) and how it repeats. */
export type ParsedSchedule = { dueAt: number; recurrence: Recurrence | null };

/** The furthest ahead a message may be scheduled, and the longest interval: one year. */
export const MAX_SCHEDULE_AHEAD_MS = 366 * 24 * 60 * 60 * 1000;

/** The shortest interval of a recurring schedule: one second. */
export const MIN_INTERVAL_MS = 1000;

// Date-time with a time zone (Z or ±hh:mm), as RFC 3339 requires; local times are ambiguous.
const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Reads a {@link ScheduleSpec}: exactly one of `inMs`, `at`, `cron`, `everyMs` must be given (the
 * others undefined). Returns the parsed schedule, or why it is not one.
 */
export function parseSchedule(spec: ScheduleSpec, now: number): ParsedSchedule | string {
  const { inMs, at, cron, everyMs } = spec as { inMs?: unknown; at?: unknown; cron?: unknown; everyMs?: unknown };
  const given = [inMs, at, cron, everyMs].filter((value) => value !== undefined);
  if (given.length !== 1) return "give exactly one of in, at, cron or every";
  if (inMs !== undefined) {
    if (typeof inMs !== "number" || !Number.isInteger(inMs) || inMs < 0) return "in must be a whole number of milliseconds >= 0";
    if (inMs > MAX_SCHEDULE_AHEAD_MS) return "in must be at most one year";
    return { dueAt: now + inMs, recurrence: null };
  }
  if (at !== undefined) {
    const dueAt = typeof at === "string" && isoDateTime.test(at) ? Date.parse(at) : Number.NaN;
    if (Number.isNaN(dueAt)) return "at must be an ISO 8601 date-time with a time zone, such as 2030-01-31T09:00:00Z";
    if (dueAt - now > MAX_SCHEDULE_AHEAD_MS) return "at must be at most one year ahead";
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
  if (typeof everyMs !== "number" || !Number.isInteger(everyMs) || everyMs < MIN_INTERVAL_MS || everyMs > MAX_SCHEDULE_AHEAD_MS) {
    return "every must be a whole number of milliseconds from 1000 to one year";
  }
  return { dueAt: now + everyMs, recurrence: { everyMs } };
}

/** When a recurring schedule is due next after `after` (epoch ms), or null if never. */
export function nextOccurrence(recurrence: Recurrence, after: number): number | null {
  if ("everyMs" in recurrence) return after + recurrence.everyMs;
  const next = cronOf(recurrence.cron).nextRun(new Date(after));
  return next === null ? null : next.getTime();
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
