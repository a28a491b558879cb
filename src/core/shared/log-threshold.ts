import { LEVEL_RANK } from "./log-text.js";
import type { Logger, LogLevel } from "./log-types.js";

/*
 * Which levels a logger of this library writes at all, known without calling it: a hot path (a
 * scheduled delivery, ten thousand in a drain) builds a line's fields only when they will be
 * written. Loggers made elsewhere (an app's own) are taken to write every level.
 */

const thresholds = new WeakMap<Logger, number>();

/** Records that `logger` writes `level` and the levels after it only (null: nothing at all). Answers it. */
export function withThreshold<L extends Logger>(logger: L, level: LogLevel | null): L {
  thresholds.set(logger, level === null ? Number.POSITIVE_INFINITY : LEVEL_RANK[level]);
  return logger;
}

/** The threshold `from` was recorded with, recorded for `logger` too (a logger that adds fields to `from`'s lines). */
export function sameThreshold<L extends Logger>(logger: L, from: Logger): L {
  const rank = thresholds.get(from);
  if (rank !== undefined) thresholds.set(logger, rank);
  return logger;
}

/** Whether `logger` may write a line at `level` (false only when it is known not to). */
export function writesAt(logger: Logger, level: LogLevel): boolean {
  const rank = thresholds.get(logger);
  return rank === undefined || LEVEL_RANK[level] >= rank;
}
