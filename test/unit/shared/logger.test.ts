import { describe, expect, it } from "vitest";
import { jsonLogger, silentLogger } from "../../../src/core/index.js";
import { writesAt } from "../../../src/core/shared/log-threshold.js";
import { consoleLogger, logFormatOf, withFields, type LogLevel } from "../../../src/core/shared/logger.js";
import { prettyEvent, prettyLogger } from "../../../src/core/shared/pretty-logger.js";

/** A JSON logger whose lines are kept. */
function recorded(level: "debug" | "info" = "info") {
  const lines: string[] = [];
  return { logger: jsonLogger({ level, write: (line) => lines.push(line) }), lines };
}

// Every character that some reader of a log (a terminal, `wrangler tail`, a log shipper, a
// JavaScript line splitter) treats as the end of a line.
const lineBreaks = ["\n", "\r", "\u000b", "\u000c", "\u0085", "\u2028", "\u2029"];

describe("jsonLogger: one event is one line", () => {
  it("JSON.stringify alone leaves U+2028 and U+2029 raw (why the logger escapes them itself)", () => {
    expect(JSON.stringify("a\u2028b\u2029c")).toBe('"a\u2028b\u2029c"');
  });

  it("escapes every line break in fields, nested values and the message, and the line still parses back", () => {
    const { logger, lines } = recorded();
    const odd = `x${lineBreaks.join("y")}z`;
    logger.info(`msg${odd}`, { field: odd, nested: { list: [odd], [`key${odd}`]: 1 } });
    expect(lines).toHaveLength(1);
    const line = lines[0] ?? "";
    for (const lineBreak of lineBreaks) expect(line.includes(lineBreak), JSON.stringify(lineBreak)).toBe(false);
    expect(line.split(/\r\n|[\n\r\u000b\u000c\u0085\u2028\u2029]/u)).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ level: "info", msg: `msg${odd}`, field: odd, nested: { list: [odd], [`key${odd}`]: 1 } });
  });

  it("an error's stack, message and name stay on the one line", () => {
    const { logger, lines } = recorded();
    const error = new Error("broke\u2028here");
    logger.error("handler failed", { error });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/[\n\u2028]/u);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ error: { name: "Error", message: "broke\u2028here", stack: expect.stringContaining("broke") } });
  });

  it("a lone surrogate in a field is written as an escape, not as invalid text", () => {
    const { logger, lines } = recorded();
    logger.warn("odd", { id: "a\ud800b" });
    expect(lines[0]).toContain("a\\ud800b");
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ id: "a\ud800b" });
  });
});

describe("prettyLogger: readable at a glance", () => {
  const at = Date.parse("2026-11-27T12:04:05.123Z");

  function recordedPretty(level: LogLevel = "info") {
    const events: { text: string; level: LogLevel }[] = [];
    const logger = prettyLogger({ level, now: () => at, write: (text, written) => events.push({ text, level: written }) });
    return { logger, events };
  }

  it("writes time, level, message and then the main fields first, as key=value on one line", () => {
    const { logger, events } = recordedPretty();
    logger.warn("node did not answer in time", { timeoutMs: 100, messageId: "m-1", node: "fx", service: "convert" });
    expect(events).toEqual([
      { text: "12:04:05.123 WARN  node did not answer in time  service=convert  messageId=m-1  node=fx  timeoutMs=100", level: "warn" },
    ]);
  });

  it("quotes strings with spaces or quotes, writes objects as JSON, skips undefined, honours the level", () => {
    const { logger, events } = recordedPretty("info");
    logger.debug("hidden");
    logger.info("hello", { name: "Ada Lovelace", detail: { a: [1, "b"] }, empty: "", none: undefined, nothing: null, big: 10n });
    expect(events.map((e) => e.text)).toEqual(['12:04:05.123 INFO  hello  name="Ada Lovelace"  detail={"a":[1,"b"]}  empty=""  nothing=null  big=10n']);
  });

  it("escapes line breaks, control and bidi characters in the message, keys and values: one event, one line", () => {
    const { logger, events } = recordedPretty();
    const odd = `x${lineBreaks.join("y")}\u001b[31m\u202ez`;
    logger.info(`msg${odd}`, { [`k${odd}`]: odd, nested: { v: odd } });
    const text = events[0]?.text ?? "";
    expect(text.split(/\r\n|[\n\r\u000b\u000c\u0085\u2028\u2029]/u)).toHaveLength(1);
    expect(text).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/u);
    expect(text).toContain("\\u2028");
    expect(text).toContain("\\n");
  });

  it("puts an error's stack, and its cause's, on indented lines after the event, and writes errors to console.error's level", () => {
    const { logger, events } = recordedPretty();
    const error = new TypeError("bad input", { cause: new Error("deeper") });
    logger.error("gateway failed", { path: "/v1/services/x", error });
    const [line, ...stack] = (events[0]?.text ?? "").split("\n");
    expect(line).toBe('12:04:05.123 ERROR gateway failed  path=/v1/services/x  error="TypeError: bad input"');
    expect(stack[0]).toBe("    TypeError: bad input");
    expect(stack.slice(1).some((frame) => /^ {6}at /.test(frame))).toBe(true);
    expect(stack).toContain("    caused by: Error: deeper");
    // wrangler dev source-maps stack frames in logged strings: lines that start with spaces and "at ".
    expect(stack.filter((frame) => frame.trimStart().startsWith("at ")).every((frame) => /^\s+at \S/.test(frame))).toBe(true);
    expect(events[0]?.level).toBe("error");
  });

  it("prettyEvent is the same text, for apps that write elsewhere", () => {
    expect(prettyEvent("info", "ready", { port: 8787 }, at)).toBe("12:04:05.123 INFO  ready  port=8787");
  });
});

describe("choosing the format", () => {
  it("logFormatOf reads LOG_FORMAT from an env: pretty or json, any case; anything else is undefined", () => {
    expect(logFormatOf({ LOG_FORMAT: "pretty" })).toBe("pretty");
    expect(logFormatOf({ LOG_FORMAT: " JSON " })).toBe("json");
    expect(logFormatOf({ LOG_FORMAT: "fancy" })).toBeUndefined();
    expect(logFormatOf({ LOG_FORMAT: 1 })).toBeUndefined();
    expect(logFormatOf({})).toBeUndefined();
    expect(logFormatOf(undefined)).toBeUndefined();
  });

  it("consoleLogger writes JSON by default and asks a format function at every event", () => {
    const printed: string[] = [];
    const original = console.log;
    console.log = (text: string) => void printed.push(text);
    try {
      let format: "json" | "pretty" | undefined;
      const logger = consoleLogger({ format: () => format });
      logger.info("first", { n: 1 });
      format = "pretty";
      logger.info("second", { n: 2 });
      format = "json";
      logger.info("third");
    } finally {
      console.log = original;
    }
    expect(JSON.parse(printed[0] ?? "")).toMatchObject({ level: "info", msg: "first", n: 1 });
    expect(printed[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  second  n=2$/);
    expect(JSON.parse(printed[2] ?? "")).toMatchObject({ msg: "third" });
  });
});

describe("writesAt: whether a logger writes a level, known without calling it", () => {
  it("knows the library's loggers' thresholds, passes them on to withFields loggers, and takes any other logger to write every level", () => {
    const lines: string[] = [];
    const warnings = jsonLogger({ level: "warn", write: (line) => lines.push(line) });
    expect([writesAt(warnings, "info"), writesAt(warnings, "warn"), writesAt(warnings, "error")]).toEqual([false, true, true]);
    expect(writesAt(jsonLogger(), "debug")).toBe(false);
    expect(writesAt(jsonLogger(), "info")).toBe(true);
    expect(writesAt(prettyLogger({ level: "error", write: () => {} }), "warn")).toBe(false);
    expect(writesAt(consoleLogger({ level: "debug" }), "debug")).toBe(true);
    expect((["debug", "info", "warn", "error"] as const).map((level) => writesAt(silentLogger, level))).toEqual([false, false, false, false]);
    const withIds = withFields(warnings, { messageId: "m-1" });
    expect([writesAt(withIds, "info"), writesAt(withIds, "error")]).toEqual([false, true]);
    const own = { debug() {}, info() {}, warn() {}, error() {} };
    expect(writesAt(own, "debug")).toBe(true);
    expect(writesAt(withFields(own, {}), "debug")).toBe(true);
    // What it says agrees with what the logger does.
    withIds.info("skipped");
    withIds.warn("written");
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(["written"]);
  });
});
