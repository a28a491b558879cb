import type { ServiceResponse } from "../core/messaging/response.js";
import type { ScheduledSummary } from "../core/scheduling/scheduler.js";
import type { ScheduleOutcome } from "../core/scheduling/schedule-store.js";
import type {
  CallOptions,
  CallResult,
  CancelResult,
  ClientEnvelope,
  ClientFailure,
  FailureReason,
  PublicServices,
  Refused,
  RequestArgs,
  RequestOptions,
  ScheduleInput,
  ScheduleListResult,
  ScheduleOptions,
  ServiceName,
  ServicesResult,
} from "./types.js";

/** Options of {@link createClient}. */
export type ClientOptions = {
  /** Where the gateway is, e.g. `"https://api.example"` or `"http://localhost:8787"` (no trailing `/v1`). */
  baseUrl: string;
  /** The bearer token sent with every request (`Authorization: Bearer …`), unless a call says otherwise. */
  token?: string;
  /**
   * How requests are sent; default: the global `fetch`. Pass a service binding's or a test
   * Worker's fetch (`(request) => env.API.fetch(request)`, `(request) => SELF.fetch(request)`).
   */
  fetch?: (request: Request) => Promise<Response>;
  /**
   * Gives up on a request after this many ms (no limit by default; `Infinity` says so, and lifts
   * a client's limit for one call); a call may set its own. Not a number above 0: `bad_input`.
   */
  timeoutMs?: number;
  /** Headers sent with every request. */
  headers?: Readonly<Record<string, string>>;
  /**
   * The most bytes of an answer's body the client reads (default
   * {@link DEFAULT_MAX_ANSWER_BYTES}, 8 MiB); a call may set its own. A larger answer is a
   * failure with reason `too_large`: refused on its `Content-Length`, or as soon as its body
   * passes the limit (the rest is not read). `Infinity` reads any size.
   */
  maxAnswerBytes?: number;
};

/** How many bytes of an answer's body the client reads unless told otherwise: 8 MiB. */
export const DEFAULT_MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** A typed client of an x3m-system gateway: see {@link createClient}. */
export type Client<P> = {
  /** The gateway's base URL, as given. */
  readonly baseUrl: string;
  /** `POST /v1/services/:service`: calls a public service with its request. */
  call<K extends ServiceName<P>>(service: K, ...args: RequestArgs<P[K]>): Promise<CallResult<K>>;
  /** `POST /v1/validate/:service`: the same call as a dry run (verbose with `{ dryRun: "verbose" }`). */
  validate<K extends ServiceName<P>>(service: K, ...args: RequestArgs<P[K]>): Promise<CallResult<K>>;
  /** `GET /v1/services`: the public services the deployment offers (other nodes' included). */
  services(options?: RequestOptions): Promise<ServicesResult>;
  /** The scheduler's routes (`/v1/schedules`). */
  schedules: {
    /** `POST /v1/schedules`: calls `service` later (202 `ok` with `{ key, dispatchAt, alreadyScheduled }`). */
    create<K extends ServiceName<P>>(schedule: ScheduleInput<P, K>, options?: ScheduleOptions): Promise<CallResult<K>>;
    /** `GET /v1/schedules?key=`: the caller's pending scheduled messages for `key`. */
    list(key: string, options?: RequestOptions): Promise<ScheduleListResult>;
    /** `DELETE /v1/schedules/:messageId?key=`: cancels one of the caller's. */
    cancel(key: string, messageId: string, options?: RequestOptions): Promise<CancelResult>;
  };
};

/** What one request brought back: its status, headers and JSON body, or why there is none. */
type Received = { kind: "received"; status: number; headers: Headers; body: unknown } | ClientFailure;

const failure = (reason: FailureReason, message: string, status?: number): ClientFailure =>
  status === undefined ? { kind: "failure", reason, message } : { kind: "failure", reason, message, status };

/**
 * A typed client of an x3m-system gateway, made from the TYPES of the app's routers:
 *
 * ```ts
 * import { createClient } from "x3m-system/client";
 * import type { bank } from "../worker/bank.js"; // types only: no server code is bundled
 *
 * const api = createClient<typeof greeter | typeof bank>({ baseUrl: "https://api.example", token });
 * const result = await api.call("deposit", { account_id: "ada-1", amount: 100 }, { messageId: "pay-1" });
 * if (result.kind === "answer" && result.response.status === "ok") console.log(result.response.version);
 * ```
 *
 * Only public services can be named; a private or misspelt one, or a request of the wrong
 * shape, does not compile. Without a type argument every name and JSON object is accepted.
 *
 * Errors are values, never exceptions: a call resolves with `kind: "answer"` (the envelope and
 * the HTTP status — a 409 or 422 is an answer too), `"refused"` (the gateway answered a bare
 * `{ response }`, before any message existed) or `"failure"` (no usable answer: network, timeout,
 * aborted, not the gateway's JSON, a redirect, an answer over `maxAnswerBytes`, or a request that
 * could not be built). It uses nothing but `fetch`, so it runs in browsers, Workers, Node, Deno
 * and Bun.
 *
 * It follows no redirect: requests say `redirect: "manual"`, and a redirect is a failure with
 * reason `redirect`, so a request's body and token go nowhere but `baseUrl` (with a custom `fetch`,
 * as long as it honours the request's redirect mode; an answer it reached by following a redirect
 * anyway is refused too). The gateway itself never redirects.
 */
export function createClient<R = unknown>(options: ClientOptions): Client<PublicServices<R>> {
  type P = PublicServices<R>;
  const base = options.baseUrl.replace(/\/+$/, "");

  const send = async (method: string, path: string, body: unknown, call: CallOptions): Promise<Received> => {
    const maxBytes = call.maxAnswerBytes ?? options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    if (typeof maxBytes !== "number" || !(maxBytes >= 0)) return failure("bad_input", `maxAnswerBytes must be a number from 0 (got ${String(maxBytes)})`);
    const timeoutMs = call.timeoutMs ?? options.timeoutMs;
    if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !(timeoutMs > 0))) {
      return failure("bad_input", `timeoutMs must be a number above 0, or Infinity for no limit (got ${String(timeoutMs)})`);
    }
    const controller = new AbortController();
    let request: Request;
    try {
      // "manual": a redirect comes back as it is (in a browser, as an opaque redirect) and is refused.
      const init = { method, headers: headersOf(options, call, body !== undefined), signal: controller.signal, redirect: "manual" as const };
      request = new Request(`${base}${path}`, body === undefined ? init : { ...init, body: JSON.stringify(body) });
    } catch (error) {
      // A header value with a line break, a request that JSON cannot encode (a BigInt, a cycle)…
      return failure("bad_input", messageOf(error));
    }
    return exchange(options.fetch ?? ((r: Request) => fetch(r)), request, controller, {
      signal: call.signal,
      timeoutMs,
      maxBytes,
    });
  };

  const serviceCall = async <K extends string>(route: "services" | "validate", service: K, request: unknown, call: CallOptions = {}): Promise<CallResult<K>> => {
    const received = await send("POST", `/v1/${route}/${encodeURIComponent(service)}`, request ?? {}, call);
    return envelopeResult<K>(received);
  };

  const schedules: Client<P>["schedules"] = {
    create: async (schedule, call = {}) => {
      const { at, ...rest } = schedule as { at?: string | Date } & Record<string, unknown>;
      if (at instanceof Date && Number.isNaN(at.getTime())) return failure("bad_input", "at is an invalid Date");
      const body = at === undefined ? rest : { ...rest, at: at instanceof Date ? at.toISOString() : at };
      return envelopeResult(await send("POST", "/v1/schedules", body, call));
    },
    list: async (key, call = {}) => {
      const received = await send("GET", `/v1/schedules?key=${encodeURIComponent(key)}`, undefined, call);
      if (received.kind === "failure") return received;
      const body = received.body as { key?: unknown; schedules?: unknown; outcomes?: unknown };
      if (received.status === 200 && typeof body.key === "string" && Array.isArray(body.schedules)) {
        const outcomes = Array.isArray(body.outcomes) ? (body.outcomes as ScheduleOutcome[]) : [];
        return { kind: "answer", status: received.status, headers: received.headers, key: body.key, schedules: body.schedules as ScheduledSummary[], outcomes };
      }
      return refusedOrUnexpected(received);
    },
    cancel: async (key, messageId, call = {}) => {
      const path = `/v1/schedules/${encodeURIComponent(messageId)}?key=${encodeURIComponent(key)}`;
      const received = await send("DELETE", path, undefined, call);
      if (received.kind === "failure") return received;
      const refused = refusedOrUnexpected(received);
      return refused.kind === "refused" ? { ...refused, kind: "answer" } : refused;
    },
  };

  return {
    baseUrl: options.baseUrl,
    call: (service, ...[request, call]) => serviceCall("services", service, request, call),
    validate: (service, ...[request, call]) => serviceCall("validate", service, request, call),
    services: async (call = {}) => {
      const received = await send("GET", "/v1/services", undefined, call);
      if (received.kind === "failure") return received;
      const services = (received.body as { services?: unknown }).services;
      if (received.status === 200 && Array.isArray(services) && services.every((name) => typeof name === "string")) {
        return { kind: "answer", status: received.status, headers: received.headers, services: services as string[] };
      }
      return refusedOrUnexpected(received);
    },
    schedules,
  };
}

/** The request headers: JSON, the bearer token, and what the call's options ask for. */
function headersOf(options: ClientOptions, call: CallOptions, hasBody: boolean): Headers {
  const headers = new Headers(options.headers);
  headers.set("Accept", "application/json");
  if (hasBody) headers.set("Content-Type", "application/json");
  const token = call.token === undefined ? options.token : call.token;
  if (token !== undefined && token !== null) headers.set("Authorization", `Bearer ${token}`);
  const named: [string, string | number | boolean | undefined][] = [
    ["X-Message-Id", call.messageId],
    ["X-Correlation-Id", call.correlationId],
    ["X-Causation-Id", call.causationId],
    ["X-Expected-Version", call.expectedVersion],
    ["X-Dry-Run", call.dryRun === false ? undefined : call.dryRun],
    ["traceparent", call.traceparent],
  ];
  for (const [name, value] of named) if (value !== undefined) headers.set(name, String(value));
  for (const [name, value] of Object.entries(call.headers ?? {})) headers.set(name, value);
  return headers;
}

/** What bounds one exchange: the caller's signal, the timeout, the size of the answer. */
type Bounds = { signal: AbortSignal | undefined; timeoutMs: number | undefined; maxBytes: number };

/** The longest delay a timer takes as it is (2³¹ − 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Sends `request` and reads its JSON answer, within the timeout, the caller's signal and the size
 * limit. The race with the abort does not rely on `fetch` honouring the signal (a test Worker's
 * fetch may not); the abort also cancels the reading of the body.
 */
async function exchange(
  doFetch: (request: Request) => Promise<Response>,
  request: Request,
  controller: AbortController,
  { signal, timeoutMs, maxBytes }: Bounds,
): Promise<Received> {
  let stop: (reason: FailureReason) => void = () => {};
  const stopped = new Promise<FailureReason>((resolve) => {
    stop = resolve;
  });
  const onAbort = () => stop("aborted");
  if (signal?.aborted === true) return failure("aborted", "the request was aborted before it was sent");
  signal?.addEventListener("abort", onAbort, { once: true });
  // No timer for Infinity (no limit); at most a timer's largest delay (about 24.8 days), which
  // runtimes otherwise take for 1 ms (Node) or 0 (browsers).
  const timer = timeoutMs === undefined || timeoutMs === Infinity ? undefined : setTimeout(() => stop("timeout"), Math.min(timeoutMs, MAX_TIMER_MS));
  try {
    const exchanged = (async (): Promise<Received> => {
      const answer = await doFetch(request);
      const redirect = redirectOf(request, answer);
      if (redirect !== undefined) {
        discard(answer);
        return redirect;
      }
      const text = await readCapped(answer, maxBytes, controller.signal);
      return typeof text === "string" ? readJson(answer, text) : text;
    })();
    const outcome = await Promise.race([exchanged, stopped]);
    if (typeof outcome !== "string") return outcome;
    controller.abort();
    // The exchange may still settle later: its result is no longer wanted.
    exchanged.catch(() => {});
    return failure(outcome, outcome === "timeout" ? `no answer within ${timeoutMs} ms` : "the request was aborted");
  } catch (error) {
    return failure("network", messageOf(error));
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/** The statuses with which `fetch` would follow a `Location`. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A failure if `answer` is a redirect, or was reached by following one; `undefined` otherwise. */
function redirectOf(request: Request, answer: Response): ClientFailure | undefined {
  // A browser's fetch with redirect "manual" answers an opaque redirect: status 0, no headers.
  // (Workers' types know only "default" and "error".)
  const type: string = answer.type;
  if (type === "opaqueredirect") {
    return failure("redirect", `${request.method} ${clip(request.url)} answered a redirect (where to, the browser does not tell); the client follows none`);
  }
  if (REDIRECTS.has(answer.status)) {
    const location = answer.headers.get("Location");
    const target = location === null ? "nowhere (no Location)" : whereTo(location, request.url);
    return failure("redirect", `HTTP ${answer.status}: a redirect to ${target}, not followed; the client follows none`, answer.status);
  }
  // A custom fetch may have followed it itself, ignoring the request's redirect mode.
  if (answer.redirected) {
    return failure("redirect", `the fetch followed a redirect to ${whereTo(answer.url, request.url)}; the client takes no redirected answer`);
  }
  return undefined;
}

/** A redirect's target, resolved against the request's URL, saying whether it leaves its origin. */
function whereTo(location: string, from: string): string {
  try {
    const target = new URL(location, from);
    return `${clip(target.href)} (${target.origin === new URL(from).origin ? "the same origin" : "another origin"})`;
  } catch {
    return `${clip(location)} (not a URL)`;
  }
}

/**
 * The answer's body as text, if it has at most `maxBytes` bytes: refused at once when its
 * `Content-Length` says more, otherwise read as a stream and cancelled as soon as it passes the
 * limit — a large answer is never held in memory. `signal` (the exchange's) cancels the reading.
 */
async function readCapped(answer: Response, maxBytes: number, signal: AbortSignal): Promise<string | ClientFailure> {
  const tooLarge = (what: string) =>
    failure("too_large", `HTTP ${answer.status}: the answer ${what}, more than maxAnswerBytes (${maxBytes})`, answer.status);
  const declared = answer.headers.get("Content-Length");
  if (declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > maxBytes) {
    discard(answer);
    return tooLarge(`says Content-Length: ${declared.trim()}`);
  }
  if (answer.body === null) return "";
  const reader = answer.body.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  signal.addEventListener("abort", cancel, { once: true });
  try {
    const decoder = new TextDecoder();
    let text = "";
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      if (!ArrayBuffer.isView(value)) throw new TypeError("the answer's body is not bytes");
      size += value.byteLength;
      if (size > maxBytes) {
        cancel();
        return tooLarge(`passed ${size} bytes`);
      }
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    signal.removeEventListener("abort", cancel);
  }
}

/** Lets go of an answer's body without reading it. */
function discard(answer: Response): void {
  answer.body?.cancel().catch(() => {});
}

function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function readJson(answer: Response, text: string): Received {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return failure("unexpected_answer", `HTTP ${answer.status}, not JSON: ${text.slice(0, 200)}`, answer.status);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return failure("unexpected_answer", `HTTP ${answer.status}, not a JSON object`, answer.status);
  }
  return { kind: "received", status: answer.status, headers: answer.headers, body };
}

/** A service call's result: the envelope when there is one, a bare `{ response }`, or a failure. */
function envelopeResult<K extends string>(received: Received): CallResult<K> {
  if (received.kind === "failure") return received;
  const body = received.body as Partial<ClientEnvelope<K>>;
  if (typeof body.messageId === "string" && isResponse(body.response)) {
    const envelope = body as ClientEnvelope<K>;
    return { kind: "answer", status: received.status, headers: received.headers, envelope, response: envelope.response };
  }
  return refusedOrUnexpected(received);
}

function refusedOrUnexpected(received: Extract<Received, { kind: "received" }>): Refused | ClientFailure {
  const { response } = received.body as { response?: unknown };
  if (isResponse(response)) return { kind: "refused", status: received.status, headers: received.headers, response };
  return failure("unexpected_answer", `HTTP ${received.status}: not the gateway's answer`, received.status);
}

function isResponse(value: unknown): value is ServiceResponse {
  return typeof value === "object" && value !== null && typeof (value as { status?: unknown }).status === "string";
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
