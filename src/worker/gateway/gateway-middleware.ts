import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { JsonObject } from "../../core/shared/json.js";
import { halt, type Message } from "../../core/messaging/message.js";
import { response } from "../../core/messaging/response.js";
import { callerAssigns, messageFromHeaders, type Identify, type PrincipalOf } from "./caller.js";
import { answerWith, replyWith } from "./replies.js";

/** What the gateway's middleware computes once per request, for every route after it. */
export type GatewayVariables = {
  /** The request's message, from its headers: ids, dry run, expected version, trace. */
  message: Message;
  /** The caller's assigns: `{ identity, principal }`, or `{}` for an anonymous caller. */
  assigns: JsonObject;
  /** The request's body, read once by the body limit ({@link limitBody}); empty without one. */
  body: Uint8Array;
};

/** The gateway's Hono environment: the Worker's bindings and the per-request variables. */
export type GatewayEnv<Env extends object> = { Bindings: Env; Variables: GatewayVariables };

/**
 * Builds the request's message from its headers (`c.var.message`), for the service named by the
 * route's `:service` (or none yet: the schedule route names it from its body). A header that is
 * not acceptable is answered 400 `invalid_header` at once.
 */
export function requestMessage<Env extends object>(validateOnly: boolean): MiddlewareHandler<GatewayEnv<Env>> {
  return async (c, next) => {
    const message = messageFromHeaders(c.req.raw.headers, c.req.param("service") ?? "", validateOnly);
    if (message.halted) return replyWith(c, message);
    c.set("message", message);
    await next();
  };
}

/**
 * Identifies the caller once (`c.var.assigns`): from the credentials header (`Authorization`
 * unless the gateway names another) through the app's `identify` hook. Credentials that are
 * presented and refused are answered 401 at once; no credentials make an anonymous caller, whom
 * `authorize` judges.
 */
export function identifyCaller<Env extends object>(
  identify: Identify<Env> | undefined,
  principalOf: PrincipalOf | undefined,
  header = "Authorization",
): MiddlewareHandler<GatewayEnv<Env>> {
  return async (c, next) => {
    const assigns = await callerAssigns(c.req.header(header), identify, c.env, principalOf);
    if (assigns === null) return refuse(c, response.unauthorized("invalid credentials"));
    c.set("assigns", assigns);
    await next();
  };
}

/** Answers `r`, in the request message's envelope when there is one. */
function refuse<Env extends object>(c: Context<GatewayEnv<Env>>, r: Parameters<typeof answerWith>[1]): Response {
  const message = c.get("message");
  return message === undefined ? answerWith(c, r) : replyWith(c, halt(message, r));
}

/**
 * Every answer of the API says `Cache-Control: no-store`: answers carry one caller's data
 * (balances, schedules) and must never be kept by a browser or a shared cache.
 */
export const noStore: MiddlewareHandler = async (c, next) => {
  // Set before the route answers, so that its answer is made with the header: set after, Hono
  // copies the finished Response (body stream and headers) to change it — on every request.
  c.header("Cache-Control", "no-store");
  await next();
  // An answer made without the context (an HTTPException's, a Response of a route's own) lacks it.
  if (c.res.headers.get("Cache-Control") !== "no-store") c.header("Cache-Control", "no-store");
};

/**
 * Refuses (400 `invalid_request`) a URL whose path or query is not well-formed percent-encoded
 * UTF-8, such as `%ED%A0%80` (a lone surrogate) or a stray `%`. The router would otherwise keep
 * such a sequence as literal text: `?key=%ED%A0%80` would name the key "%ED%A0%80", the same key
 * as `?key=%25ED%25A0%2580` — one name spelt two ways, which ids and keys must never be.
 */
export const wellEncodedUrl: MiddlewareHandler = async (c, next) => {
  // Without a `%` there is nothing to decode (the common case: no URL parse per request).
  if (c.req.url.includes("%")) {
    const url = new URL(c.req.url);
    try {
      decodeURIComponent(url.pathname);
      decodeURIComponent(url.search.replace(/\+/g, " "));
    } catch {
      return answerWith(c, response.error("invalid_request", "the URL is not well-formed percent-encoded UTF-8"));
    }
  }
  await next();
};

/**
 * How much of an oversized request body the gateway still reads, and throws away, before it
 * answers 413, and for how long at most. An HTTP/1.1 client that is still sending when the answer
 * comes may never read it: a server (or `wrangler dev`'s proxy in front of the Worker) that closes
 * the connection with request bytes unread resets it, and the client sees a lost connection
 * instead of the 413. Reading the rest — up to these bounds — lets the exchange end cleanly; a
 * body larger still, or slower, is cancelled.
 */
export type BodyDiscard = {
  /** Bytes beyond the limit read and thrown away at most (default 16 MiB). */
  bytes: number;
  /** Milliseconds spent on it at most (default 5000). */
  ms: number;
};

/** The default {@link BodyDiscard}: 16 MiB, 5 s. */
export const BODY_DISCARD: BodyDiscard = { bytes: 16 * 1024 * 1024, ms: 5000 };

/**
 * Refuses a request body larger than `maxBytes` with `tooLarge`'s answer — without reading it
 * when its `Content-Length` says so, else as soon as the bytes read pass the limit (a chunked
 * body, or one whose `Content-Length` understates it) — and never leaves the body's stream
 * hanging: the rest is read and thrown away within `discard`'s bounds (so that the client gets to
 * read the 413), or cancelled, which tells the runtime to stop receiving it. A body within the
 * limit is read once and handed on as bytes in `c.var.body`; a form's also as the request's body,
 * for Hono's `parseBody` (building a new Request for every call would cost the hot path).
 */
export function limitBody<Env extends object>(
  maxBytes: number,
  tooLarge: (c: Context<GatewayEnv<Env>>) => Response | Promise<Response>,
  discard: BodyDiscard = BODY_DISCARD,
): MiddlewareHandler<GatewayEnv<Env>> {
  return async (c, next) => {
    const bytes = await readWithin(c.req.raw, maxBytes, discard);
    if (bytes === null) return tooLarge(c);
    c.set("body", bytes);
    if (FORM.test(c.req.header("Content-Type") ?? "")) c.req.raw = new Request(c.req.raw, { body: bytes });
    await next();
  };
}

/**
 * A request's body read whole when it has at most `maxBytes` (empty without a body), or null when
 * it has more — refused by its `Content-Length` without reading, or as soon as the bytes read
 * pass the limit, the rest read away within `discard`'s bounds or cancelled ({@link limitBody}).
 */
export async function readWithin(request: Request, maxBytes: number, discard: BodyDiscard = BODY_DISCARD): Promise<Uint8Array | null> {
  const body = request.body;
  if (body === null) return NO_BYTES;
  const declared = (request.headers.get("Content-Length") ?? "").trim();
  const declaredBytes = /^\d{1,16}$/.test(declared) ? Number(declared) : null;
  const reader = body.getReader();
  if (declaredBytes !== null && declaredBytes > maxBytes) {
    // Announced too large: none of it is needed; read it away only if it is small enough to.
    if (declaredBytes - maxBytes > discard.bytes) cancel(reader);
    else await readAway(reader, discard.bytes + maxBytes, discard.ms);
    return null;
  }
  const bytes = await readAtMost(reader, maxBytes);
  if (bytes === null) await readAway(reader, discard.bytes, discard.ms);
  return bytes;
}

const NO_BYTES = new Uint8Array(0);
/** The content types Hono's `parseBody` reads as a form. */
const FORM = /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)\b/i;

/** Tells the sender to stop: nothing more of this body will be read. Not awaited: the answer need not wait for the sender. */
function cancel(reader: ReadableStreamDefaultReader<Uint8Array>): void {
  reader.cancel("the request body is too large").catch(() => undefined);
}

/** Reads what `reader` has left and throws it away: to its end, or cancelled past `maxBytes` bytes or `ms` milliseconds. */
async function readAway(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes: number, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), ms);
  });
  try {
    let size = 0;
    for (;;) {
      const chunk = await Promise.race([reader.read(), late]);
      if (chunk === "late") return cancel(reader);
      if (chunk.done) return;
      size += chunk.value.byteLength;
      if (size > maxBytes) return cancel(reader);
    }
  } catch {
    // The sender went away: nothing is left to read.
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * The whole body when it has at most `maxBytes`; otherwise null, the reader left just past the
 * limit. A body that stops arriving (the client went away) throws an `HTTPException`: 400, which
 * the gateway answers as it is — no failure of the app is logged for a client that left.
 */
async function readAtMost(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes: number): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      size += chunk.value.byteLength;
      if (size > maxBytes) return null;
      chunks.push(chunk.value);
    }
  } catch (cause) {
    const refusal = { response: response.error("invalid_request", "the request body was not received in full") };
    throw new HTTPException(400, { res: Response.json(refusal, { status: 400, headers: { "Cache-Control": "no-store" } }), cause });
  }
  // Most bodies arrive in one chunk: no copy.
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
