import type { DryRun, TraceContext } from "../../core/messaging/message.js";

/** What the request headers contribute to a new message. */
export type HeaderFields = {
  id?: string;
  correlationId?: string;
  causationId?: string;
  dryRun: DryRun;
  /** The caller's `traceparent` as sent, not yet checked: the request's trace is a child of it (`childTrace`). */
  trace: TraceContext;
  /** `X-Expected-Version`: the aggregate version the caller requires (-1: must not exist). */
  expectedVersion?: number;
};

/** The headers read, or the first one whose value is not acceptable and why. */
export type HeaderParse =
  | { ok: true; fields: HeaderFields }
  | { ok: false; header: string; problem: string };

// Ids are idempotency keys and appear in logs: visible ASCII only, bounded length.
const idPattern = /^[!-~]{1,128}$/;

const idHeaders = [
  ["X-Message-Id", "id"],
  ["X-Correlation-Id", "correlationId"],
  ["X-Causation-Id", "causationId"],
] as const;

/**
 * Reads `X-Message-Id`, `X-Correlation-Id`, `X-Causation-Id`, `X-Dry-Run`, `X-Expected-Version`
 * and `traceparent`.
 */
export function parseRequestHeaders(headers: Headers): HeaderParse {
  const fields: HeaderFields = { dryRun: false, trace: {} };
  for (const [header, field] of idHeaders) {
    const value = headers.get(header);
    if (value === null) continue;
    if (!idPattern.test(value)) {
      return { ok: false, header, problem: "must be 1 to 128 visible ASCII characters" };
    }
    fields[field] = value;
  }
  const dryRun = headers.get("X-Dry-Run");
  if (dryRun !== null) {
    if (dryRun === "true") fields.dryRun = true;
    else if (dryRun === "verbose") fields.dryRun = "verbose";
    else if (dryRun !== "false") return { ok: false, header: "X-Dry-Run", problem: 'must be "true", "verbose" or "false"' };
  }
  const expectedVersion = headers.get("X-Expected-Version");
  if (expectedVersion !== null) {
    if (!/^(-1|0|[1-9]\d{0,14})$/.test(expectedVersion)) {
      return { ok: false, header: "X-Expected-Version", problem: "must be an integer >= -1" };
    }
    fields.expectedVersion = Number(expectedVersion);
  }
  // Taken as it is: the message's trace is a child of it (`childTrace`), which drops an unparsable
  // one — not refused, as the W3C Trace Context spec asks — and parses a good one once.
  const traceparent = headers.get("traceparent");
  if (traceparent !== null) fields.trace.traceparent = traceparent;
  return { ok: true, fields };
}
