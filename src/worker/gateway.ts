import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { Dispatcher } from "../core/dispatcher.js";
import { isJsonObject, type JsonObject } from "../core/json.js";
import { jsonLogger, type Logger } from "../core/logger.js";
import { halt, newMessage, type Message } from "../core/message.js";
import { httpStatus, response, type ServiceResponse } from "../core/response.js";
import type { ServiceRouter } from "../core/router.js";
import { ServiceRegistry } from "../core/service-registry.js";
import { Telemetry, type TelemetryHandler } from "../core/telemetry.js";
import { envelopeOf } from "./envelope.js";
import { parseRequestHeaders } from "./request-headers.js";
import { mountStreamRoutes, type AdminOptions } from "./stream-routes.js";

/**
 * Turns the `Authorization` header into the caller's identity (stored in `assigns.identity`).
 * Return null when the credentials are not valid: the gateway answers 401 without calling
 * anything. It is only called when the header is present; without it the caller is anonymous
 * and `authorize` decides.
 */
export type Identify<Env> = (authorization: string, env: Env) => JsonObject | null | Promise<JsonObject | null>;

/** Options of {@link createGateway}. */
export type GatewayOptions<Env> = {
  /** The services this Worker offers: its routers, or a registry built from them. */
  services: ServiceRegistry<Env> | readonly ServiceRouter<Env>[];
  /** Identifies callers from `Authorization`; without it the header is ignored. */
  identify?: Identify<Env>;
  /** Largest accepted request body in bytes (default 1 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /** How long a service call may take before the caller gets 504 (default 5000 ms). */
  timeoutMs?: number;
  /** This Worker's node name in telemetry and logs (default `"local"`). */
  node?: string;
  /** Telemetry subscribers. */
  telemetry?: readonly TelemetryHandler[];
  /** Structured logger (default: JSON lines at info level). */
  logger?: Logger;
  /** Admin routes over aggregate streams (`/v1/streams/...`); off unless a token is configured. */
  admin?: AdminOptions<Env>;
};

/** Default largest request body: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

type GatewayEnv<Env extends object> = { Bindings: Env };

/**
 * The HTTP gateway (Hono) of DESIGN §3: `POST /v1/services/:service`, `POST /v1/validate/:service`,
 * `GET /v1/services`, `GET /v1/health`. Export it as the Worker's default export, or mount more
 * routes on it. Every answer is JSON; bad input gets a clear error and never reaches a service.
 */
export function createGateway<Env extends object = Record<string, unknown>>(options: GatewayOptions<Env>): Hono<GatewayEnv<Env>> {
  const registry = options.services instanceof ServiceRegistry ? options.services : new ServiceRegistry(options.services);
  const logger = options.logger ?? jsonLogger();
  const telemetry = new Telemetry(options.telemetry ?? [], logger);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const app = new Hono<GatewayEnv<Env>>();

  const dispatcherFor = (c: Context<GatewayEnv<Env>>) =>
    new Dispatcher<Env>({
      services: registry,
      env: c.env,
      node: options.node,
      telemetry,
      logger,
      waitUntil: waitUntilOf(c),
      defaultTimeoutMs: options.timeoutMs,
    });

  const serviceCall = (validateOnly: boolean) => async (c: Context<GatewayEnv<Env>>) => {
    const service = c.req.param("service") ?? "";
    const headers = parseRequestHeaders(c.req.raw.headers);
    if (!headers.ok) {
      const details = { header: headers.header, problem: headers.problem };
      return reply(c, halt(newMessage(service), response.error("invalid_header", details)));
    }
    const { dryRun, expectedVersion, ...ids } = headers.fields;
    const message = newMessage(service, {
      ...ids,
      dryRun: validateOnly && dryRun === false ? true : dryRun,
      aggregateMeta: expectedVersion === undefined ? {} : { expectedVersion },
    });

    const body = parseBody(await c.req.text());
    if (!body.ok) return reply(c, halt(message, body.error));

    let assigns: JsonObject = {};
    const authorization = c.req.header("Authorization");
    if (authorization !== undefined && options.identify !== undefined) {
      const identity = await options.identify(authorization, c.env);
      if (identity === null) return reply(c, halt(message, response.unauthorized("invalid credentials")));
      assigns = { identity };
    }
    const answer = await dispatcherFor(c).dispatch({ ...message, rawRequest: body.value, assigns }, { publicOnly: true });
    return reply(c, answer);
  };

  const tooLarge = bodyLimit({
    maxSize: maxBodyBytes,
    onError: (c) => {
      const message = halt(newMessage(c.req.param("service") ?? ""), response.error("payload_too_large", { maxBytes: maxBodyBytes }));
      return reply(c, message);
    },
  });

  app.post("/v1/services/:service", tooLarge, serviceCall(false));
  app.post("/v1/validate/:service", tooLarge, serviceCall(true));
  app.get("/v1/services", (c) => c.json({ services: dispatcherFor(c).publicServices() }));
  app.get("/v1/health", (c) => c.json({ status: "ok" }));
  mountStreamRoutes(app, options.admin);
  app.notFound((c) => c.json({ response: response.error("not_found") }, 404));
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    logger.error("gateway failed", { method: c.req.method, path: c.req.path, error });
    return c.json({ response: response.error("internal_error") }, 500);
  });
  return app;
}

type BodyParse = { ok: true; value: JsonObject } | { ok: false; error: ServiceResponse };

/** An empty body is `{}`; anything else must be a JSON object. */
function parseBody(text: string): BodyParse {
  if (text.trim() === "") return { ok: true, value: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: response.error("invalid_json", error instanceof Error ? error.message : "malformed JSON") };
  }
  if (!isJsonObject(value)) return { ok: false, error: response.error("invalid_request", "the body must be a JSON object") };
  return { ok: true, value };
}

function reply(c: Context, message: Message): globalThis.Response {
  const fallback = response.error("internal_error");
  const envelope = envelopeOf(message, fallback);
  c.header("X-Message-Id", message.id);
  c.header("X-Correlation-Id", message.correlationId);
  c.header("X-Causation-Id", message.causationId);
  return c.json(envelope, httpStatus(envelope.response) as ContentfulStatusCode);
}

/** The request's `waitUntil`, or a stand-in when there is no execution context (plain `app.fetch`). */
function waitUntilOf(c: Context): (promise: Promise<unknown>) => void {
  try {
    const executionCtx = c.executionCtx;
    return (promise) => executionCtx.waitUntil(promise);
  } catch {
    return (promise) => void promise.catch(() => {});
  }
}
