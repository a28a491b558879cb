import type { Context, MiddlewareHandler } from "hono";
import type { JsonObject } from "../core/shared/json.js";
import { halt, type Message } from "../core/messaging/message.js";
import { response } from "../core/messaging/response.js";
import { callerAssigns, messageFromHeaders, type Identify, type PrincipalOf } from "./caller.js";
import { answerWith, replyWith } from "./replies.js";

/** What the gateway's middleware computes once per request, for every route after it. */
export type GatewayVariables = {
  /** The request's message, from its headers: ids, dry run, expected version, trace. */
  message: Message;
  /** The caller's assigns: `{ identity, principal }`, or `{}` for an anonymous caller. */
  assigns: JsonObject;
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
 * Identifies the caller once (`c.var.assigns`): from `Authorization` through the app's
 * `identify` hook. Credentials that are presented and refused are answered 401 at once; no
 * credentials make an anonymous caller, whom `authorize` judges.
 */
export function identifyCaller<Env extends object>(
  identify: Identify<Env> | undefined,
  principalOf: PrincipalOf | undefined,
): MiddlewareHandler<GatewayEnv<Env>> {
  return async (c, next) => {
    const assigns = await callerAssigns(c.req.header("Authorization"), identify, c.env, principalOf);
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
