import { isoTime } from "./iso-time.js";
import { LEVEL_RANK, oneLineJson } from "./log-text.js";
import { sameThreshold, withThreshold } from "./log-threshold.js";
import { prettyLogger } from "./pretty-logger.js";

import type { LogFields, Logger, LogLevel } from "./log-types.js";

export { prettyEvent, prettyLogger, type PrettyLoggerOptions } from "./pretty-logger.js";
export type { LogFields, Logger, LogLevel } from "./log-types.js";

/** Options of {@link jsonLogger}. */
export type JsonLoggerOptions = {
  /** The least severe level written; defaults to `"info"`. */
  level?: LogLevel;
  /** Where a line goes; defaults to `console.log` (Workers Logs, `wrangler tail`, a terminal). */
  write?: (line: string) => void;
};

/**
 * The default logger: one JSON object per line with `level`, `time`, `msg` and the fields.
 * Errors become `{name, message, stack}` so that a stack reaches the log, never a response.
 * One event is always one line: besides what JSON escapes, U+2028, U+2029, NEL, other C1
 * controls and bidi controls are written as `\u` escapes too (JSON.stringify leaves them raw,
 * and log readers split lines at them).
 */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  const threshold = LEVEL_RANK[options.level ?? "info"];
  const write = options.write ?? ((line: string) => console.log(line));
  const log = (level: LogLevel) => (message: string, fields: LogFields = {}) => {
    if (LEVEL_RANK[level] < threshold) return;
    const time = isoTime();
    // A field that cannot be serialised (a cycle) must not turn logging into a crash; the
    // fallback has only strings, which always serialise.
    write(oneLineJson({ level, time, msg: message, ...fields }) ?? oneLineJson({ level, time, msg: message, fields: "unserialisable" }) ?? "");
  };
  return withThreshold({ debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") }, options.level ?? "info");
}

/** How log events are written: JSON lines for machines, or pretty lines for people. */
export type LogFormat = "json" | "pretty";

/** Options of {@link consoleLogger}. */
export type ConsoleLoggerOptions = {
  /** The least severe level written; defaults to `"info"`. */
  level?: LogLevel;
  /**
   * The format, or a function asked at every event (the format may only be known once a request
   * brings the Worker's env: see {@link logFormatOf}). Default and fallback: `"json"`.
   */
  format?: LogFormat | (() => LogFormat | undefined);
};

/**
 * A console logger in the format `format` says: {@link jsonLogger} or {@link prettyLogger}. The
 * gateway's default, with the format from the `LOG_FORMAT` variable (`npm run dev` sets pretty).
 */
export function consoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const json = jsonLogger({ level: options.level });
  const pretty = prettyLogger({ level: options.level });
  const { format } = options;
  const formatOf = typeof format === "function" ? format : () => format;
  const log = (level: LogLevel) => (message: string, fields?: LogFields) =>
    (formatOf() === "pretty" ? pretty : json)[level](message, fields);
  return withThreshold({ debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") }, options.level ?? "info");
}

/**
 * The log format a Worker's env asks for in its `LOG_FORMAT` variable (`pretty` or `json`, any
 * case), or undefined when it says nothing usable.
 */
export function logFormatOf(env: unknown): LogFormat | undefined {
  if (typeof env !== "object" || env === null) return undefined;
  const value: unknown = (env as { LOG_FORMAT?: unknown }).LOG_FORMAT;
  if (typeof value !== "string") return undefined;
  const format = value.trim().toLowerCase();
  return format === "pretty" || format === "json" ? format : undefined;
}

/** A logger that says nothing (for tests and benchmarks). */
export const silentLogger: Logger = withThreshold({ debug() {}, info() {}, warn() {}, error() {} }, null);

/**
 * A logger that adds `fields` to every line of `logger` (for example a message's ids). Given a
 * function, the fields are worked out at the first line written, if any: a logger made for every
 * command or dispatch mostly writes nothing.
 */
export function withFields(logger: Logger, fields: LogFields | (() => LogFields)): Logger {
  const known: KnownFields = typeof fields === "function" ? { fields: null, workOut: fields } : { fields, workOut: null };
  return sameThreshold({ debug: writerOf(logger, "debug", known), info: writerOf(logger, "info", known), warn: writerOf(logger, "warn", known), error: writerOf(logger, "error", known) }, logger);
}

/** The fields of a {@link withFields} logger: given, or worked out once by `workOut`. */
type KnownFields = { fields: LogFields | null; workOut: (() => LogFields) | null };

/**
 * One level's writer of a {@link withFields} logger, returned from here rather than written as a
 * named arrow in `withFields`: such a logger is made for every command and every dispatch (see
 * ARCHITECTURE.md, "Hot paths").
 */
function writerOf(logger: Logger, level: LogLevel, known: KnownFields): (message: string, more?: LogFields) => void {
  return (message, more = {}) => {
    known.fields ??= known.workOut?.() ?? {};
    logger[level](message, { ...known.fields, ...more });
  };
}
