/** How much a logger says; each level includes the ones after it. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Fields added to a log line; values are serialised as JSON. */
export type LogFields = { [key: string]: unknown };

/** A structured logger: one method per level, a message and fields. */
export type Logger = { [L in LogLevel]: (message: string, fields?: LogFields) => void };

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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
 */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  const threshold = rank[options.level ?? "info"];
  const write = options.write ?? ((line: string) => console.log(line));
  const log = (level: LogLevel) => (message: string, fields: LogFields = {}) => {
    if (rank[level] < threshold) return;
    const line = { level, time: new Date().toISOString(), msg: message, ...fields };
    let text: string;
    try {
      text = JSON.stringify(line, errorReplacer);
    } catch {
      // A field that cannot be serialised (a cycle, a BigInt) must not turn logging into a crash.
      text = JSON.stringify({ level, time: line.time, msg: message, fields: "unserialisable" });
    }
    write(text);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

/** A logger that says nothing (for tests and benchmarks). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A logger that adds `fields` to every line of `logger` (for example a message's ids). */
export function withFields(logger: Logger, fields: LogFields): Logger {
  const log = (level: LogLevel) => (message: string, more: LogFields = {}) =>
    logger[level](message, { ...fields, ...more });
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}
