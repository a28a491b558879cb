import { describe, expect, it } from "vitest";
import { childTrace, isTraceparent, traceFields, traceIdOf } from "../../../src/core/messaging/trace.js";

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const SPAN_ID = "b7ad6b7169203331";
const VALID = `00-${TRACE_ID}-${SPAN_ID}-01`;
const W3C = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

describe("trace context (W3C traceparent)", () => {
  it("a child of a valid traceparent keeps its trace id and flags, with a new span id of 16 lowercase hex digits", () => {
    const child = childTrace({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-00`, tenant: "t1" });
    expect(child["traceparent"]).toMatch(W3C);
    expect(child["traceparent"]?.slice(0, 36)).toBe(`00-${TRACE_ID}-`);
    expect(child["traceparent"]?.slice(52)).toBe("-00");
    expect(child["traceparent"]?.slice(36, 52)).not.toBe(SPAN_ID);
    expect(child["tenant"]).toBe("t1");
  });

  it("span ids drawn for children are spread over all hex digits and do not repeat", () => {
    const spans = new Set(Array.from({ length: 2000 }, () => childTrace({ traceparent: VALID })["traceparent"]?.slice(36, 52)));
    expect(spans.size).toBe(2000);
    const digits = new Set([...spans].join(""));
    expect([...digits].sort().join("")).toBe("0123456789abcdef");
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

  it("a valid traceparent's ids are read back for log lines, with the context's other keys", () => {
    expect(isTraceparent(VALID)).toBe(true);
    expect(traceIdOf(VALID)).toBe(TRACE_ID);
    expect(traceFields({ traceparent: VALID, requestId: "r1" })).toEqual({ requestId: "r1", traceId: TRACE_ID, spanId: SPAN_ID });
    expect(traceFields({ traceparent: "garbage", requestId: "r1" })).toEqual({ requestId: "r1" });
  });
});
