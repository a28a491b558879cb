import { escapeUnsafe, LEVEL_RANK, oneLineJson } from "./log-text.js";
import type { LogFields, Logger, LogLevel } from "./log-types.js";
import { withThreshold } from "./log-threshold.js";

/** Options of {@link prettyLogger}. */
export type PrettyLoggerOptions = {
  /** The least severe level written; defaults to `"info"`. */
  level?: LogLevel;
  /**
   * Where an event goes; defaults to `console.error` for errors and `console.log` for the rest
   * (the two levels whose stack traces `wrangler dev` maps back to source files).
   */
  write?: (text: string, level: LogLevel) => void;
  /** The clock (for tests); defaults to `Date.now`. */
  now?: () => number;
};

/** Fields shown first, in this order, when present: what a reader looks for at a glance. */
const MAIN_FIELDS = ["service", "messageId", "correlationId", "stream", "node"];

// A string shown without quotes: no spaces, quotes, `=`, backslashes, or anything invisible.
const bare = /^[^\s"'=\\\p{C}\p{Z}]+$/u;

/**
 * A logger for people reading a terminal (`wrangler dev`): one line per event —
 * `12:04:05.123 WARN  message  service=deposit messageId=… key=value` — with the main fields
 * first. An error's stack follows on indented lines, where `wrangler dev` finds it and maps it
 * to source files. Line breaks and control characters inside values are escaped, so a value can
 * never forge a line. Use {@link jsonLogger} in production: machines read JSON.
 */
export function prettyLogger(options: PrettyLoggerOptions = {}): Logger {
  const threshold = LEVEL_RANK[options.level ?? "info"];
  const write = options.write ?? defaultWrite;
  const now = options.now ?? Date.now;
  const log = (level: LogLevel) => (message: string, fields: LogFields = {}) => {
    if (LEVEL_RANK[level] < threshold) return;
    write(prettyEvent(level, message, fields, now()), level);
  };
  return withThreshold({ debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") }, options.level ?? "info");
}

function defaultWrite(text: string, level: LogLevel): void {
  if (level === "error") console.error(text);
  else console.log(text);
}

/**
 * One event in the pretty format: the line, then the stacks of the errors among its fields on
 * indented lines. Exported for tests and for apps that write somewhere else.
 */
export function prettyEvent(level: LogLevel, message: string, fields: LogFields, time: number): string {
  const keys = [...MAIN_FIELDS.filter((key) => Object.hasOwn(fields, key)), ...Object.keys(fields).filter((key) => !MAIN_FIELDS.includes(key))];
  const shown = keys.filter((key) => fields[key] !== undefined).map((key) => `${escapeUnsafe(key)}=${prettyValue(fields[key])}`);
  const clock = new Date(time).toISOString().slice(11, 23);
  const line = [`${clock} ${level.toUpperCase().padEnd(5)} ${escapeUnsafe(message)}`, ...shown].join("  ");
  const stacks = keys.flatMap((key) => {
    const value = fields[key];
    return value instanceof Error ? stackLines(value, 0) : [];
  });
  return [line, ...stacks].join("\n");
}

function prettyValue(value: unknown): string {
  if (typeof value === "string") return bare.test(value) ? value : (oneLineJson(value) ?? '"?"');
  if (value instanceof Error) return prettyValue(`${value.name}: ${value.message}`);
  if (typeof value === "object" && value !== null) return oneLineJson(value) ?? "[unserialisable]";
  if (typeof value === "bigint") return `${value}n`;
  return escapeUnsafe(String(value));
}

/** An error's stack (its first line names it) indented under the event, then its causes'. */
function stackLines(error: Error, depth: number): string[] {
  const stack = typeof error.stack === "string" && error.stack !== "" ? error.stack : `${error.name}: ${error.message}`;
  // V8 separates frames with \n; anything else inside a line (a message with U+2028…) is escaped.
  const lines = stack.split("\n").map((line) => `    ${escapeUnsafe(line.trimStart().startsWith("at ") ? `  ${line.trimStart()}` : line)}`);
  if (depth > 0) lines[0] = `    caused by: ${lines[0]?.trimStart() ?? ""}`;
  return error.cause instanceof Error && depth < 5 ? [...lines, ...stackLines(error.cause, depth + 1)] : lines;
}
