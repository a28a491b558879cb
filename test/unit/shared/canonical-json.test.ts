import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../../src/core/shared/canonical-json.js";

/** The definition canonical JSON had when fingerprints were first stored: its text must not change. */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${reference(item)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** A random JSON-like value: nested objects and arrays, odd keys, undefined members. */
function randomValue(depth: number): unknown {
  const pick = Math.floor(Math.random() * (depth > 3 ? 5 : 7));
  const text = () => String.fromCharCode(...Array.from({ length: Math.floor(Math.random() * 4) }, () => [65, 97, 122, 0x7f, 0xe9, 0x1f600 & 0xffff, 0xd83d, 49, 50][Math.floor(Math.random() * 9)] as number));
  switch (pick) {
    case 0: return null;
    case 1: return Math.random() < 0.5 ? Math.floor(Math.random() * 1e6) - 5e5 : Math.random();
    case 2: return text();
    case 3: return Math.random() < 0.5;
    case 4: return undefined;
    case 5: return Array.from({ length: Math.floor(Math.random() * 4) }, () => randomValue(depth + 1));
    default: return Object.fromEntries(Array.from({ length: Math.floor(Math.random() * 5) }, () => [text(), randomValue(depth + 1)]));
  }
}

describe("canonicalJson", () => {
  it("sorts keys at every depth and leaves out undefined members", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: undefined, x: "é" }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":"é","z":0}]},"b":1}');
  });

  it("writes values already in key order as it writes any other: integer-like keys, holes, dates, functions, prototypes", () => {
    class Point {
      constructor(readonly x: number) {}
    }
    const values: unknown[] = [
      { 1: "a", 2: "b" },
      { 10: "a", 9: "b" },
      { "2": 1, "10": 2, a: 3 },
      [1, , 3],
      { at: new Date(0) },
      { a: 1, f: () => 1 },
      [() => 1, Symbol("s"), undefined],
      { a: new Point(1) },
      Object.assign(Object.create(null) as object, { a: 1, b: [true] }),
      { a: -0, b: Number.NaN, c: Number.POSITIVE_INFINITY },
      { a: { b: { c: { d: { e: 1 } } } } },
      JSON.parse("[".repeat(40) + "1" + "]".repeat(40)) as unknown,
      { a: 1, s: Symbol("member") },
      { a: Object.assign([1, 2], { toJSON: () => "X" }) },
      Object.defineProperty({ a: 1 }, "toJSON", { value: () => "X", enumerable: false }),
    ];
    for (const value of values) expect(canonicalJson(value)).toBe(reference(value));
  });

  it("ignores a toJSON added to Object.prototype or Array.prototype, as its first definition did", () => {
    const prototypes = [Object.prototype, Array.prototype] as unknown as Record<string, unknown>[];
    for (const prototype of prototypes) {
      prototype["toJSON"] = () => "polluted";
      try {
        const value = { a: [1, { b: 2 }] };
        expect(canonicalJson(value)).toBe('{"a":[1,{"b":2}]}');
      } finally {
        delete prototype["toJSON"];
      }
    }
  });

  it("writes a deep value whose keys are out of order only at the bottom as its first definition did", () => {
    let value: unknown = { b: 1, a: 2 };
    for (let i = 0; i < 60; i += 1) value = { a: value, b: [i] };
    expect(canonicalJson(value)).toBe(reference(value));
  });

  it("writes every value as its first definition did: stored fingerprints stay valid", () => {
    for (let i = 0; i < 2000; i += 1) {
      const value = randomValue(0);
      expect(canonicalJson(value)).toBe(reference(value));
    }
  });
});
