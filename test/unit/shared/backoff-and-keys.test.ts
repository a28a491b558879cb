import { describe, expect, it } from "vitest";
import { readKey } from "../../../src/core/index.js";
import { backoffDelay } from "../../../src/core/shared/backoff.js";

describe("backoffDelay", () => {
  it("doubles from the base for each attempt and stops at the cap", () => {
    const delays = [1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, { baseMs: 100, maxMs: 1000, jitter: 0 }));
    expect(delays).toEqual([100, 200, 400, 800, 1000]);
  });

  it("takes at most the jitter share off each delay, at random", () => {
    expect(backoffDelay(3, { baseMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0.999 })).toBe(200);
    expect(backoffDelay(3, { baseMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0 })).toBe(400);
    for (let i = 0; i < 100; i += 1) {
      const delay = backoffDelay(2, { baseMs: 1000, maxMs: 60_000 });
      expect(delay).toBeGreaterThan(1599);
      expect(delay).toBeLessThanOrEqual(2000);
    }
  });

  it("never overflows for absurd attempt counts", () => {
    expect(backoffDelay(10_000, { baseMs: 1000, maxMs: 60_000, jitter: 0 })).toBe(60_000);
  });
});

describe("readKey: the rule for aggregate ids and scheduling keys", () => {
  it("normalises to NFC, so that one name typed two ways is one key", () => {
    const decomposed = "Zoe\u0301";
    expect(readKey(decomposed)).toEqual({ ok: true, key: "Zoé" });
  });

  it.each([
    ["", "empty"],
    [" ada-1", "leading space"],
    ["ada-1 ", "trailing space"],
    ["ada\u00a0", "trailing no-break space"],
    ["ada\u202e1-", "right-to-left override"],
    ["ada\u2066x", "bidi isolate"],
    ["ada\u200b1", "zero-width space"],
    ["ada\u2028x", "line separator"],
    ["ada\nx", "newline"],
    ["ada\u0000", "NUL"],
    ["ada\tx", "tab"],
    ["ada\u007f", "DEL"],
    ["ad\u007fa", "DEL inside"],
    ["ada\ud800", "lone high surrogate"],
    ["\udc00ada", "lone low surrogate"],
    ["x".repeat(201), "too long"],
  ])("refuses %j (%s)", (raw) => {
    expect(readKey(raw).ok).toBe(false);
  });

  it("accepts ordinary names, including non-Latin letters and emoji", () => {
    for (const key of ["ada-1", "acct_42.eu", "Åsa", "東京", "💶-wallet", "a b", "~!", "x".repeat(200)]) expect(readKey(key)).toEqual({ ok: true, key });
  });

  it("refuses what is not a string", () => {
    expect(readKey(42).ok).toBe(false);
    expect(readKey(undefined).ok).toBe(false);
  });
});
