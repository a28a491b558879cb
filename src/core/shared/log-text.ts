import type { LogLevel } from "./log-types.js";

/*
 * What the JSON and the pretty log formats share: level order, and the escaping that keeps one
 * event on one line whatever its values contain.
 */

/** The order of the levels: a logger writes its threshold level and those after it. */
export const LEVEL_RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

// Characters that some reader of a log ends a line at, or that rewrite what a terminal shows:
// C0 and C1 controls (line feed, carriage return, vertical tab, form feed, NEL, escape…), the
// Unicode line and paragraph separators, and bidirectional controls (which reorder the text
// around them). JSON.stringify escapes only the C0 ones: U+2028, U+2029, NEL and the bidi
// controls would pass through raw.
const unsafe = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
const named: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * `text` with every line break, control and bidi character written as a JSON-style escape
 * (`\n`, `\u2028`…). Safe inside a JSON string literal too: the escapes mean the same there.
 */
export function escapeUnsafe(text: string): string {
  return text.replace(unsafe, (char) => named[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Errors as `{name, message, stack}` (and their cause) for JSON: a bare Error serialises as `{}`. */
export function errorReplacer(_key: string, value: unknown): unknown {
  if (!(value instanceof Error)) return typeof value === "bigint" ? `${value}n` : value;
  const shown: { [key: string]: unknown } = { name: value.name, message: value.message, stack: value.stack };
  if (value.cause !== undefined) shown["cause"] = value.cause;
  return shown;
}

/**
 * `value` as JSON on one line, errors included, or null when it cannot be serialised (a cycle).
 * Lone surrogates come out escaped (JSON.stringify is well-formed since ES2019).
 */
export function oneLineJson(value: unknown): string | null {
  try {
    const text = JSON.stringify(value, errorReplacer);
    return text === undefined ? null : escapeUnsafe(text);
  } catch {
    return null;
  }
}
