import type { Context, Env as HonoEnv } from "hono";
import * as v from "valibot";
import type { Message } from "../core/messaging/message.js";
import { isJsonObject } from "../core/shared/json.js";

/*
 * What the library's own fetch protocols share — between a Worker and its Durable Objects, and
 * between Workers (the node protocol): each side is a small Hono app whose requests are checked
 * by schema, and each caller reaches it with Hono's typed client over the stub's or binding's
 * `fetch`.
 */

/**
 * The base URL of requests to a Durable Object stub or a service binding. Both ignore the
 * origin and route on the path alone; a URL needs one all the same.
 */
export const PROTOCOL_BASE_URL = "https://x3m.internal";

/** Something with a `fetch`: a Durable Object stub or a service binding (`Fetcher`). */
export type FetchTarget = { fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> };

/**
 * The options of one call of Hono's typed client (`hc`) that send its request through
 * `target.fetch`. The clients are made once per module and given the target per call: a stub
 * belongs to the request that made it.
 */
export function through(target: FetchTarget): { fetch: FetchTarget["fetch"] } {
  return { fetch: (input, init) => target.fetch(input, init) };
}

/** What the typed client answers, as far as the protocol clients read it. */
export type ProtocolAnswer = { ok: boolean; status: number; text(): Promise<string>; json(): Promise<unknown> };

/**
 * The JSON of an answer from this Worker's own code (a Durable Object of its own), as the type
 * the route sent: it is trusted as it is, not validated again. A refusal (not 2xx) rejects.
 * Hono's client types a JSON answer in its own, looser JSON types; this is where they become the
 * library's again.
 */
export async function trustedAnswer<T>(answer: ProtocolAnswer, from: string): Promise<T> {
  if (!answer.ok) throw new Error(`${from} answered ${answer.status}: ${(await answer.text()).slice(0, 200)}`);
  return (await answer.json()) as T;
}

/**
 * The answer of a protocol route whose request failed its schema: 400 with the first problem.
 * Protocol routes are called by this library's own clients, so a refusal means a bug or a
 * foreign caller; the problem is said plainly either way.
 */
export function refuseInvalid<E extends HonoEnv>(result: ValidationResult, c: Context<E>): Response | undefined {
  if (result.success) return undefined;
  return c.json({ error: firstProblem(result.error) }, 400);
}

/** What a Standard Schema validator middleware hands its hook. */
export type ValidationResult = { success: true } | { success: false; error: readonly ValidationProblem[] };

/** One Standard Schema issue, as far as a refusal reads it. */
export type ValidationProblem = { message: string; path?: readonly unknown[] };

/** The first issue as `path: message` ("request" when it concerns the whole request). */
export function firstProblem(issues: readonly ValidationProblem[]): string {
  const [issue] = issues;
  const path = (issue?.path ?? [])
    .map((segment) => (typeof segment === "object" && segment !== null && "key" in segment ? String(segment.key) : String(segment)))
    .join(".");
  return `${path === "" ? "request" : path}: ${issue?.message ?? "invalid"}`;
}

/**
 * The request's `waitUntil`, or undefined when there is no execution context (plain `app.fetch`):
 * then the dispatcher's own stand-in keeps the work going and logs its failure.
 */
export function waitUntilOf(c: Context): ((promise: Promise<unknown>) => void) | undefined {
  let executionCtx: { waitUntil(promise: Promise<unknown>): void } | undefined;
  try {
    executionCtx = c.executionCtx;
  } catch {
    // Hono's context throws when the request came without one.
  }
  return waitUntilFrom(executionCtx);
}

/** `executionCtx.waitUntil`, or undefined without a context (see {@link waitUntilOf}). */
export function waitUntilFrom(executionCtx: { waitUntil(promise: Promise<unknown>): void } | undefined): ((promise: Promise<unknown>) => void) | undefined {
  return executionCtx === undefined ? undefined : (promise) => executionCtx.waitUntil(promise);
}

/**
 * A message from this Worker's own code (an object is reachable only through its namespace
 * binding), checked for what the object relies on — an object with an id, a service and assigns
 * — not field by field again: a message is validated in full once, where it crosses a trust
 * boundary (the HTTP edge, another Worker), or by the code that takes it in (the scheduler's
 * runner checks every message it stores).
 */
export const ownMessage = v.custom<Message>(
  (value) => isJsonObject(value) && typeof value["id"] === "string" && value["id"] !== "" && typeof value["serviceName"] === "string" && isJsonObject(value["assigns"]),
  "must be a message",
);
