// What the library logs to the console while a workerd test runs. The demo Worker the tests call
// (test/support/test-worker.ts) logs with the library's default logger, which writes one JSON
// line per event with console.log: this module keeps those lines for the test instead of
// printing them. A test that provokes a warning or an error takes it (`libraryLog.take`) and
// asserts on it; what no test takes is printed after the test, as it came, if it is a warning or
// an error (a regression stays visible); debug and info lines that no test takes are dropped.
// Everything else written to the console (not a JSON log line) is printed as usual.
import { afterAll, afterEach, beforeEach } from "vitest";
import type { LogLevel } from "../../src/core/shared/logger.js";
import { sleep } from "./recorders.js";

/** One line of the library's JSON logger: its level, its message and its other fields. */
export type LoggedLine = { level: LogLevel; msg: string; fields: Record<string, unknown> };

/** Which lines a test expects: a level, a message (exact, or a pattern), and fields they have. */
export type LineMatch = { level: LogLevel; msg: string | RegExp; fields?: Record<string, unknown> };

const LEVELS: readonly string[] = ["debug", "info", "warn", "error"];

/**
 * The lines kept and the console's own log, shared by every copy of this module in the isolate
 * (the console is patched once; a test file's copy of the module reads what the patch kept).
 */
type Kept = { pending: { line: LoggedLine; text: string }[]; print: (...args: unknown[]) => void };
const shared = globalThis as unknown as Record<symbol, Kept | undefined>;
const KEPT = Symbol.for("x3m-test.libraryLog");
const kept = (): Kept => (shared[KEPT] ??= { pending: [], print: console.log.bind(console) });

/** The JSON log line `args` hold (one string, a JSON object with a level and a msg), or null. */
function logLine(args: unknown[]): { line: LoggedLine; text: string } | null {
  const [text] = args;
  if (args.length !== 1 || typeof text !== "string" || !text.startsWith("{")) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { level, msg, time: _time, ...fields } = value as Record<string, unknown>;
  if (typeof level !== "string" || !LEVELS.includes(level) || typeof msg !== "string") return null;
  return { line: { level: level as LogLevel, msg, fields }, text };
}

const matches = (line: LoggedLine, match: LineMatch): boolean =>
  line.level === match.level &&
  (typeof match.msg === "string" ? line.msg === match.msg : match.msg.test(line.msg)) &&
  Object.entries(match.fields ?? {}).every(([key, value]) => JSON.stringify(line.fields[key]) === JSON.stringify(value));

/** Prints the warnings and errors no test took, and forgets every line kept so far. */
function flush(): void {
  const { pending, print } = kept();
  for (const { line, text } of pending) if (line.level === "warn" || line.level === "error") print(text);
  pending.length = 0;
}

/**
 * Keeps the library's log lines from now on: the workerd project's setup file calls it for each
 * test file. Each test starts with none; after it, what it did not take is flushed.
 */
export function keepLibraryLog(): void {
  beforeEach(flush);
  afterEach(flush);
  afterAll(flush);
  // Once per isolate.
  if (shared[KEPT] !== undefined) return;
  const { pending, print } = kept();
  console.log = (...args: unknown[]) => {
    const line = logLine(args);
    if (line === null) print(...args);
    else pending.push(line);
  };
}

/** The library's log lines of the current test. */
export const libraryLog = {
  /** The lines logged so far in this test and not taken. */
  lines(): LoggedLine[] {
    return kept().pending.map(({ line }) => line);
  },

  /** Takes (and answers) every line logged so far in this test that `match` describes. */
  take(match: LineMatch): LoggedLine[] {
    const { pending } = kept();
    const taken = pending.filter(({ line }) => matches(line, match));
    const left = pending.filter((entry) => !taken.includes(entry));
    pending.splice(0, pending.length, ...left);
    return taken.map(({ line }) => line);
  },

  /**
   * Waits until `count` lines that `match` describes were logged (a line an object logs after
   * its answer, or a background job's), then takes them all; after `timeoutMs` takes what there is.
   */
  async takeWhenLogged(match: LineMatch, count = 1, timeoutMs = 5_000): Promise<LoggedLine[]> {
    const deadline = Date.now() + timeoutMs;
    while (kept().pending.filter(({ line }) => matches(line, match)).length < count && Date.now() < deadline) await sleep(10);
    return libraryLog.take(match);
  },
};
