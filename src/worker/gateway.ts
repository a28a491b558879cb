import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { Dispatcher } from "../core/messaging/dispatcher.js";
import { NodeDirectory, type NodeDirectoryOptions } from "../core/messaging/node-directory.js";
import type { Logger } from "../core/shared/logger.js";
import { wiring } from "../core/messaging/wiring.js";
import { halt, newMessage } from "../core/messaging/message.js";
import { response } from "../core/messaging/response.js";
import type { ServiceRouter } from "../core/messaging/contracts.js";
import type { SchedulerClient } from "../core/scheduling/scheduler.js";
import { ServiceRegistry } from "../core/messaging/service-registry.js";
import type { TelemetryHandler } from "../core/messaging/telemetry.js";
import { callerAssigns, messageFromHeaders, type Identify } from "./caller.js";
import { replyWith } from "./replies.js";
import { parseBody } from "./request-body.js";
import { mountScheduleRoutes } from "./schedule-routes.js";
import { remoteNodesOf, type NodeBindings } from "./service-binding-node.js";
import { mountStreamRoutes, type AdminOptions } from "./stream-routes.js";

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
  /** The scheduler behind `/v1/schedules`; without it those routes answer 404. */
  scheduler?: SchedulerClient<Env>;
  /** Other nodes (Workers) whose public services this gateway also reaches: name → binding. */
  nodes?: NodeBindings<Env>;
  /** How service lists of other nodes are cached and failing nodes avoided. */
  directory?: NodeDirectoryOptions;
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
  const { registry, logger, telemetry } = wiring(options);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  // Kept for the isolate's life: what is known of other nodes outlives a request.
  const directory = new NodeDirectory(options.directory);
  const app = new Hono<GatewayEnv<Env>>();

  const dispatcherFor = (c: Context<GatewayEnv<Env>>) =>
    new Dispatcher<Env>({
      services: registry,
      env: c.env,
      node: options.node,
      nodes: remoteNodesOf(options.nodes, c.env),
      directory,
      telemetry,
      logger,
      waitUntil: waitUntilOf(c),
      defaultTimeoutMs: options.timeoutMs,
    });

  const serviceCall = (validateOnly: boolean) => async (c: Context<GatewayEnv<Env>>) => {
    const message = messageFromHeaders(c.req.raw.headers, c.req.param("service") ?? "", validateOnly);
    if (message.halted) return replyWith(c, message);
    const body = parseBody(await c.req.text());
    if (!body.ok) return replyWith(c, halt(message, body.error));
    const assigns = await callerAssigns(c.req.header("Authorization"), options.identify, c.env);
    if (assigns === null) return replyWith(c, halt(message, response.unauthorized("invalid credentials")));
    const answer = await dispatcherFor(c).dispatch({ ...message, rawRequest: body.value, assigns }, { publicOnly: true });
    return replyWith(c, answer);
  };

  const tooLarge = bodyLimit({
    maxSize: maxBodyBytes,
    onError: (c) => {
      const message = halt(newMessage(c.req.param("service") ?? ""), response.error("payload_too_large", { maxBytes: maxBodyBytes }));
      return replyWith(c, message);
    },
  });

  app.use("/v1/schedules", tooLarge);
  app.post("/v1/services/:service", tooLarge, serviceCall(false));
  app.post("/v1/validate/:service", tooLarge, serviceCall(true));
  app.get("/v1/services", async (c) => c.json({ services: await dispatcherFor(c).publicServices() }));
  app.get("/v1/health", (c) => c.json({ status: "ok" }));
  mountStreamRoutes(app, options.admin);
  mountScheduleRoutes(app, {
    scheduler: options.scheduler,
    identify: options.identify,
    adminToken: options.admin?.token,
    dispatcherFor,
  });
  app.notFound((c) => c.json({ response: response.error("not_found") }, 404));
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    logger.error("gateway failed", { method: c.req.method, path: c.req.path, error });
    return c.json({ response: response.error("internal_error") }, 500);
  });
  return app;
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
