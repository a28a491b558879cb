import { afterEach, describe, expect, it, vi } from "vitest";
import { childTrace, isTraceparent, traceFields, traceIdOf } from "../../../src/core/messaging/trace.js";

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const SPAN_ID = "b7ad6b7169203331";
const VALID = `00-${TRACE_ID}-${SPAN_ID}-01`;
const W3C = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

describe("trace context (W3C traceparent)", () => {
  afterEach(() => vi.restoreAllMocks());

  it("a child of a valid traceparent keeps its trace id and sampled flag, with a new span id of 16 lowercase hex digits", () => {
    const child = childTrace({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-00`, tenant: "t1" });
    expect(child["traceparent"]).toMatch(W3C);
    expect(child["traceparent"]?.slice(0, 36)).toBe(`00-${TRACE_ID}-`);
    expect(child["traceparent"]?.slice(52)).toBe("-00");
    expect(child["traceparent"]?.slice(36, 52)).not.toBe(SPAN_ID);
    expect(child["tenant"]).toBe("t1");
  });

  it("a child keeps only the sampled flag: flags W3C does not define are sent as zero", () => {
    const flagsOfChild = (flags: string) => childTrace({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-${flags}` })["traceparent"]?.slice(53);
    expect(["00", "01", "02", "03", "ff", "fe"].map(flagsOfChild)).toEqual(["00", "01", "00", "01", "01", "00"]);
  });

  it("span ids drawn for children are spread over all hex digits and do not repeat", () => {
    const spans = new Set(Array.from({ length: 2000 }, () => childTrace({ traceparent: VALID })["traceparent"]?.slice(36, 52)));
    expect(spans.size).toBe(2000);
    const digits = new Set([...spans].join(""));
    expect([...digits].sort().join("")).toBe("0123456789abcdef");
  });

  it("every byte value is drawn: no value of the 256 is left out of the ids", () => {
    const bytes = new Set<string>();
    for (let i = 0; i < 4000; i += 1) {
      const span = childTrace({ traceparent: VALID })["traceparent"]?.slice(36, 52) ?? "";
      for (let at = 0; at < span.length; at += 2) bytes.add(span.slice(at, at + 2));
    }
    expect(bytes.size).toBe(256);
  });

  it("an all-zero id is never drawn: it is drawn again (W3C: all zeros is invalid)", () => {
    // The first draws give zeros only: a whole span id of them, which must not be kept.
    let draws = 0;
    vi.spyOn(Math, "random").mockImplementation(() => (draws++ < 4 ? 0 : 0.5));
    const traceparent = childTrace({ traceparent: VALID })["traceparent"];
    expect(traceparent?.slice(36, 52)).toBe("8000800080008000");
    expect(isTraceparent(traceparent)).toBe(true);
  });

  it("an invalid traceparent is dropped: its child starts a new trace (W3C: never refused)", () => {
    const invalid = [
      undefined,
      "garbage",
      `ff-${TRACE_ID}-${SPAN_ID}-01`, // version ff is forbidden
      `00-${"0".repeat(32)}-${SPAN_ID}-01`, // an all-zero trace id
      `00-${TRACE_ID}-${"0".repeat(16)}-01`, // an all-zero span id
      `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`, // upper case
      `00-${TRACE_ID}-${SPAN_ID}-01-extra`,
      ` ${VALID}`,
    ];
    for (const traceparent of invalid) {
      expect(isTraceparent(traceparent)).toBe(false);
      expect(traceIdOf(traceparent)).toBeNull();
      const child = childTrace(traceparent === undefined ? {} : { traceparent });
      expect(child["traceparent"]).toMatch(W3C);
      expect(child["traceparent"]?.slice(3, 35)).not.toBe(TRACE_ID);
    }
  });

  it("a later version's traceparent is read by its first four fields, whatever it adds after them; its child is version 00", () => {
    const later = `cc-${TRACE_ID}-${SPAN_ID}-01-what-the-next-version-adds`;
    expect(isTraceparent(later)).toBe(true);
    expect(traceIdOf(later)).toBe(TRACE_ID);
    expect(traceFields({ traceparent: later })).toEqual({ traceId: TRACE_ID, spanId: SPAN_ID });
    const child = childTrace({ traceparent: later })["traceparent"];
    expect(child).toMatch(W3C);
    expect([child?.slice(0, 36), child?.slice(52)]).toEqual([`00-${TRACE_ID}-`, "-01"]);
    // The flags must end the header or be followed by a dash; version 00 has nothing after them.
    for (const invalid of [`cc-${TRACE_ID}-${SPAN_ID}-01x`, `cc-${TRACE_ID}-${SPAN_ID}-0`, `00-${TRACE_ID}-${SPAN_ID}-01-`]) expect(isTraceparent(invalid)).toBe(false);
  });

  it("a valid traceparent's ids are read back for log lines, with the context's other keys", () => {
    expect(isTraceparent(VALID)).toBe(true);
    expect(traceIdOf(VALID)).toBe(TRACE_ID);
    expect(traceFields({ traceparent: VALID, requestId: "r1" })).toEqual({ requestId: "r1", traceId: TRACE_ID, spanId: SPAN_ID });
    expect(traceFields({ traceparent: "garbage", requestId: "r1" })).toEqual({ requestId: "r1" });
  });
});
