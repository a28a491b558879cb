import type { TraceContext } from "./message.js";

/*
 * W3C Trace Context (`traceparent: 00-<trace id>-<parent span id>-<flags>`) as a message carries it
 * in `trace.traceparent`. The trace id is the whole request's, from the HTTP call through the
 * aggregate, its outbox and queue, the projections, the process steps and the scheduled
 * deliveries it causes; each of those hops is a span of its own (a new span id, the same trace
 * id), so that log lines — which carry both ids — tell the hops apart and join them.
 */

// Tested without capture groups, the parts then cut out by position: cheaper on every hop. After
// the flags, the end — or, in a version after 00, a dash and the fields that version adds.
const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}(?:$|-)/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/** Every byte as two lowercase hex digits, by value. */
const HEX_BYTES = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/**
 * `bytes` random bytes as lowercase hex. Ids that tell spans apart need not be unguessable:
 * `Math.random` spares every hop a call into the runtime's CSPRNG, and two bytes a draw read from
 * a table spare it `toString(16)` of a number too large to be a small integer (V8's slow path).
 */
function randomHex(bytes: number): string {
  let hex = "";
  for (let i = 0; i < bytes; i += 2) {
    const draw = (Math.random() * 0x10000) | 0;
    hex += (HEX_BYTES[draw >> 8] as string) + (HEX_BYTES[draw & 0xff] as string);
  }
  return hex === ZERO_SPAN || hex === ZERO_TRACE ? randomHex(bytes) : hex;
}

/**
 * The parts of a valid `traceparent`, or null. As W3C says to read one: version 00 is exactly its
 * four fields; any later version but ff is read by its first four, whatever fields it adds after
 * them (a hop's child is version 00 again); all-zero ids are invalid.
 */
function partsOf(traceparent: string | undefined): { traceId: string; spanId: string; flags: string } | null {
  if (traceparent === undefined || !TRACEPARENT.test(traceparent)) return null;
  if (traceparent.length !== 55 && traceparent.startsWith("00")) return null;
  const traceId = traceparent.slice(3, 35);
  const spanId = traceparent.slice(36, 52);
  if (traceparent.startsWith("ff") || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, flags: traceparent.slice(53, 55) };
}

/** Whether `traceparent` is one the library keeps (W3C: an invalid one is dropped, not refused). */
export function isTraceparent(traceparent: string | undefined): traceparent is string {
  return partsOf(traceparent) !== null;
}

/** A new trace: a random trace id and span id, sampled. */
function newTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-01`;
}

/**
 * The context of a hop caused by `trace`: the same trace id and sampled flag, a new span id. A
 * trace without a valid `traceparent` starts a new trace (every hop has one).
 */
export function childTrace(trace: TraceContext): TraceContext {
  const parts = partsOf(trace["traceparent"]);
  // Only the sampled flag is kept: W3C asks that flags this version does not define be sent as zero.
  const traceparent = parts === null ? newTraceparent() : `00-${parts.traceId}-${randomHex(8)}-${(parseInt(parts.flags, 16) & 1) === 1 ? "01" : "00"}`;
  return { ...trace, traceparent };
}

/**
 * The log fields of a trace context: `traceId` and `spanId` from its `traceparent`, and its other
 * keys (a request id, a tenant…) as they are.
 */
export function traceFields(trace: TraceContext): Record<string, string> {
  const { traceparent, ...others } = trace;
  const parts = partsOf(traceparent);
  return parts === null ? others : { ...others, traceId: parts.traceId, spanId: parts.spanId };
}

/** The trace id of a `traceparent`, or null when it is not a valid one. */
export function traceIdOf(traceparent: string | undefined): string | null {
  return partsOf(traceparent)?.traceId ?? null;
}
