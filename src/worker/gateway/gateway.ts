import { DEFAULT_MAX_BODY_BYTES } from "./request-body.js";
import { Hono, type Context } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import type { ServiceRouter } from "../../core/messaging/contracts.js";
import { Dispatcher, type CallScope } from "../../core/messaging/dispatcher.js";
import type { JsonObject } from "../../core/shared/json.js";
import { halt, newMessage, type Message } from "../../core/messaging/message.js";
import { NodeDirectory, type NodeDirectoryOptions } from "../../core/messaging/node-directory.js";
import { response } from "../../core/messaging/response.js";
import type { ServiceRegistry } from "../../core/messaging/service-registry.js";
import type { TelemetryHandler } from "../../core/messaging/telemetry.js";
import { wiring } from "../../core/messaging/wiring.js";
import type { SchedulerClient } from "../../core/scheduling/scheduler.js";
import type { LogFormat, Logger } from "../../core/shared/logger.js";
import { waitUntilFrom, waitUntilOf } from "../../protocol/hono-protocol.js";
import type { Identify, PrincipalOf } from "./caller.js";
import { identifyCaller, limitBody, noStore, readWithin, requestMessage, wellEncodedUrl, type GatewayEnv } from "./gateway-middleware.js";
import { answerWith, envelopeReply, replyWith } from "./replies.js";
import { directServiceCalls, type ServeServiceCall } from "./direct-service-calls.js";
import { callerAssigns, messageFromHeaders } from "./caller.js";
import { readBody } from "./request-body.js";
import { mountScheduleRoutes } from "./schedule-routes.js";
import { remoteNodesOf, type NodeBindings } from "../nodes/service-binding-node.js";
import { AdminThrottle } from "./admin-throttle.js";
import { mountStreamRoutes, type AdminOptions } from "./stream-routes.js";

/** Options of {@link createGateway}. */
export type GatewayOptions<Env extends object> = {
  /** The services this Worker offers: its routers, or a registry built from them. */
  services: ServiceRegistry<Env> | readonly ServiceRouter<Env>[];
  /** Identifies callers from their credentials header (`identityHeader`); without it the header is ignored. */
  identify?: Identify<Env>;
  /**
   * The request header whose value `identify` is given (default `Authorization`);
   * `accessIdentity` names `Cf-Access-Jwt-Assertion`. The admin token is always read from
   * `Authorization`.
   */
  identityHeader?: string;
  /** Who an identity is for good (see {@link PrincipalOf}); default: the identity's canonical JSON. */
  principalOf?: PrincipalOf;
  /** Largest accepted request body in bytes (default 1 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /**
   * How long a service call may take before the caller gets 504 (default 5000 ms) — per try: a
   * call that fails over to another node gives each node tried this long (and a margin), so a
   * caller may wait a multiple of it when nodes hang (see the distribution guide's Failover).
   */
  timeoutMs?: number;
  /** This Worker's node name in telemetry and logs (default `"local"`). */
  node?: string;
  /** Telemetry subscribers. */
  telemetry?: readonly TelemetryHandler[];
  /**
   * Structured logger. Default: the console at info level, in the format of `logFormat`, else of
   * the Worker's `LOG_FORMAT` variable (`pretty` or `json`; `npm run dev` sets pretty), else JSON
   * lines.
   */
  logger?: Logger;
  /** The default logger's format, whatever `LOG_FORMAT` says (ignored when `logger` is given). */
  logFormat?: LogFormat;
  /** Admin routes over aggregate streams (`/v1/streams/...`); off unless a token is configured. */
  admin?: AdminOptions<Env>;
  /** The scheduler behind `/v1/schedules`; without it those routes answer 404. */
  scheduler?: SchedulerClient<Env>;
  /** Other nodes (Workers) whose public services this gateway also reaches: name → binding. */
  nodes?: NodeBindings<Env>;
  /** How service lists of other nodes are cached and failing nodes avoided. */
  directory?: NodeDirectoryOptions;
  /**
   * Cross-origin requests from browsers: Hono's CORS middleware options, e.g.
   * `{ origin: "https://app.example" }` (or a list, or a function of the request's origin). Off
   * by default: browsers on other origins are refused. Unless given, the allowed methods are
   * GET, POST and DELETE, the allowed request headers those of the API
   * ({@link CORS_ALLOW_HEADERS}, and `identityHeader`), and the message id headers are exposed to scripts
   * ({@link CORS_EXPOSE_HEADERS}).
   */
  cors?: Parameters<typeof cors>[0];
  /**
   * The browser pages — `GET /v1/openapi.json`, the API reference at `/docs` and the operations
   * console at `/console` — as `browserPages(…)` from `x3m-system/pages` makes them. Without it
   * none of them is served, and none of their code is bundled.
   */
  pages?: GatewayPages<Env>;
};

/**
 * What the gateway built once and shares with what is mounted on it: its registry, dispatcher
 * and logger, its count of failed admin-token checks, and its options.
 */
export type GatewayParts<Env extends object> = {
  registry: ServiceRegistry<Env>;
  dispatcher: Dispatcher<Env>;
  logger: Logger;
  throttle: AdminThrottle<Env>;
  options: GatewayOptions<Env>;
};

/** Routes mounted on the gateway by the browser pages (`browserPages` from `x3m-system/pages`). */
export type GatewayPages<Env extends object> = (app: Hono<GatewayEnv<Env>>, parts: GatewayParts<Env>) => void;

/** The request headers the API reads, allowed in cross-origin requests when `cors` is on. */
export const CORS_ALLOW_HEADERS: readonly string[] = [
  "Authorization",
  "Content-Type",
  "X-Message-Id",
  "X-Correlation-Id",
  "X-Causation-Id",
  "X-Dry-Run",
  "X-Expected-Version",
  "traceparent",
];

/** The answer headers a browser script may read when `cors` is on: the message's ids. */
export const CORS_EXPOSE_HEADERS: readonly string[] = ["X-Message-Id", "X-Correlation-Id", "X-Causation-Id"];

/**
 * The HTTP gateway (Hono): `POST /v1/services/:service`, `POST /v1/validate/:service`,
 * `GET /v1/services`, `GET /v1/health`, and the schedule and admin stream routes when configured.
 * One middleware chain per request: the body's size, the message from the headers, the caller's
 * identity — each computed once and used by every route after it (service calls take the same
 * steps without Hono's router and context, unless the app is extended after this: see
 * `directServiceCalls`). Export it as the Worker's
 * default export, or mount more routes on it. Every answer is JSON; bad input gets a clear error
 * and never reaches a service.
 */
export function createGateway<Env extends object = Record<string, unknown>>(options: GatewayOptions<Env>): Hono<GatewayEnv<Env>> {
  const { registry, logger, telemetry, useEnv } = wiring(options);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  // Built once per isolate: the registry and what is known of other nodes outlive a request.
  const dispatcher = new Dispatcher<Env>({
    services: registry,
    node: options.node,
    nodes: (env) => remoteNodesOf(options.nodes, env),
    directory: new NodeDirectory(options.directory),
    telemetry,
    logger,
    defaultTimeoutMs: options.timeoutMs,
  });
  const scopeOf = (c: Context<GatewayEnv<Env>>) => ({ env: c.env, waitUntil: waitUntilOf(c) });
  const app = new Hono<GatewayEnv<Env>>();

  const bodyLimit = limitBody<Env>(maxBodyBytes, (c) => replyWith(c, tooLarge(c.req.param("service") ?? "")));
  const identityHeader = options.identityHeader ?? "Authorization";
  const caller = identifyCaller<Env>(options.identify, options.principalOf, identityHeader);
  // One count of failed admin-token checks for every route that checks the token.
  const throttle = new AdminThrottle<Env>(options.admin?.rateLimit);

  /** A service call with its body, message and caller: the request's body parsed, then dispatched. */
  const callService = async (message: Message, bytes: Uint8Array, assigns: JsonObject, scope: CallScope<Env>): Promise<Message> => {
    const body = readBody(bytes);
    if (!body.ok) return halt(message, body.error);
    return dispatcher.dispatch({ ...message, rawRequest: body.value, assigns }, { publicOnly: true, ...scope });
  };
  const serviceCall = async (c: Context<GatewayEnv<Env>>) =>
    replyWith(c, await callService(c.get("message"), c.get("body"), c.get("assigns"), scopeOf(c)));
  const defaultLogger = options.logger === undefined && options.logFormat === undefined;
  const tooLarge = (service: string) => halt(newMessage(service), response.error("payload_too_large", { maxBytes: maxBodyBytes }));

  // `POST /v1/services/:service` without Hono's chain (directServiceCalls): the chain's steps, in its order.
  const serveServiceCall: ServeServiceCall<Env> = async (request, service, env, executionCtx) => {
    let message: Message | undefined;
    try {
      if (defaultLogger) useEnv(env);
      const bytes = await readWithin(request, maxBodyBytes);
      if (bytes === null) return envelopeReply(tooLarge(service));
      message = messageFromHeaders(request.headers, service);
      if (message.halted) return envelopeReply(message);
      const assigns = await callerAssigns(request.headers.get(identityHeader) ?? undefined, options.identify, env, options.principalOf);
      if (assigns === null) return envelopeReply(halt(message, response.unauthorized("invalid credentials")));
      return envelopeReply(await callService(message, bytes, assigns, { env, waitUntil: waitUntilFrom(executionCtx) }));
    } catch (error) {
      return failed(error, request, message);
    }
  };
  /** As the app's error handler (below) answers. */
  const failed = (error: unknown, request: Request, message: Message | undefined): Response => {
    if (error instanceof HTTPException) {
      // Copied: the exception's Response may have come from a fetch, whose headers are immutable.
      const thrown = error.getResponse();
      const answer = new Response(thrown.body, thrown);
      answer.headers.set("Cache-Control", "no-store");
      return answer;
    }
    logger.error("gateway failed", { method: request.method, path: new URL(request.url).pathname, error });
    return message === undefined ? Response.json({ response: response.error("internal_error") }, { status: 500, headers: { "Cache-Control": "no-store" } }) : envelopeReply(halt(message, response.error("internal_error")));
  };

  if (defaultLogger) {
    // The default logger's format may come from the env (LOG_FORMAT), known once a request brings it.
    app.use("*", async (c, next) => {
      useEnv(c.env);
      await next();
    });
  }
  if (options.cors !== undefined) {
    // The API only: the console's pages carry a session cookie, and no other origin may read them.
    const allowHeaders = CORS_ALLOW_HEADERS.some((name) => name.toLowerCase() === identityHeader.toLowerCase()) ? CORS_ALLOW_HEADERS : [...CORS_ALLOW_HEADERS, identityHeader];
    app.use("/v1/*", cors({ allowMethods: ["GET", "POST", "DELETE"], allowHeaders: [...allowHeaders], exposeHeaders: [...CORS_EXPOSE_HEADERS], maxAge: 600, ...options.cors }));
  }
  app.use("/v1/*", noStore, wellEncodedUrl);
  app.post("/v1/services/:service", bodyLimit, requestMessage(false), caller, serviceCall);
  app.post("/v1/validate/:service", bodyLimit, requestMessage(true), caller, serviceCall);
  app.get("/v1/services", async (c) => c.json({ services: await dispatcher.publicServices(scopeOf(c)) }));
  app.get("/v1/health", (c) => c.json({ status: "ok" }));
  mountStreamRoutes(app, options.admin, throttle, { ...options, maxBodyBytes });
  mountScheduleRoutes(app, {
    scheduler: options.scheduler,
    dispatcher,
    adminToken: options.admin?.token,
    limitBody: bodyLimit,
    caller,
    identify: options.identify,
    principalOf: options.principalOf,
    identityHeader,
    throttle,
  });
  options.pages?.(app, { registry, dispatcher, logger, throttle, options });
  app.notFound((c) => {
    // A service called with another method (a GET in a browser's address bar, a client's default)
    // is told so: a 404 `not_found` reads as "no such aggregate". Here, not as a route: a route of
    // the app's own on these paths, mounted later, still wins.
    if (c.req.method !== "POST" && c.req.method !== "OPTIONS" && SERVICE_PATH.test(c.req.path)) {
      c.header("Allow", "POST");
      return c.json({ response: response.error("method_not_allowed", "call a service with POST") }, 405);
    }
    return answerWith(c, response.error("not_found"));
  });
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    logger.error("gateway failed", { method: c.req.method, path: c.req.path, error });
    // In the envelope when the request already has its message: a service call is always
    // answered with the envelope, even when the app's identify hook throws.
    const message = c.get("message");
    const failed = response.error("internal_error");
    return message === undefined ? answerWith(c, failed) : replyWith(c, halt(message, failed));
  });
  // Without CORS (whose middleware answers preflights and adds headers), service calls skip the chain.
  if (options.cors === undefined) directServiceCalls(app, serveServiceCall);
  return app;
}

/** A service's call or dry-run path (`/v1/services/:service`, `/v1/validate/:service`). */
const SERVICE_PATH = /^\/v1\/(?:services|validate)\/[^/]+$/;
