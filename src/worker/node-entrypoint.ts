import { WorkerEntrypoint } from "cloudflare:workers";
import { Dispatcher } from "../core/messaging/dispatcher.js";
import type { Logger } from "../core/shared/logger.js";
import { wiring } from "../core/messaging/wiring.js";
import { messageProblem, type Message } from "../core/messaging/message.js";
import type { ServiceRouter } from "../core/messaging/contracts.js";
import { ServiceRegistry } from "../core/messaging/service-registry.js";
import type { TelemetryHandler } from "../core/messaging/telemetry.js";
import { MAX_NODE_TIMEOUT_MS, NODE_PATHS } from "./node-protocol.js";

/** Options of {@link nodeEntrypoint}. */
export type NodeEntrypointOptions<Env> = {
  /** The services this node offers; only the public ones are listed or callable. */
  services: ServiceRegistry<Env> | readonly ServiceRouter<Env>[];
  /** This node's name in telemetry and logs. */
  node: string;
  logger?: Logger;
  telemetry?: readonly TelemetryHandler[];
};

/** The instance type of a class made by {@link nodeEntrypoint}. */
export type NodeEntrypoint<Env> = WorkerEntrypoint<Env> & {
  /** Serves the node protocol. */
  fetch(request: Request): Promise<Response>;
};

/** The class type made by {@link nodeEntrypoint}: export it by name from the node's Worker. */
export type NodeEntrypointClass<Env> = new (ctx: ExecutionContext, env: Env) => NodeEntrypoint<Env>;

/**
 * The named entrypoint through which other Workers reach this node's public services. Export it
 * by name (`export const X3mNode = nodeEntrypoint({...})`); callers bind to it with a service
 * binding naming that entrypoint. It is not the Worker's default export, so the public internet
 * never reaches it. It lists the public services, dispatches a message to one of them
 * (`authorize` runs here, on the node that owns the service) and answers the reply; private
 * services are never listed and never callable through it.
 */
export function nodeEntrypoint<Env>(options: NodeEntrypointOptions<Env>): NodeEntrypointClass<Env> {
  const { registry, logger, telemetry } = wiring(options);

  return class extends WorkerEntrypoint<Env> implements NodeEntrypoint<Env> {
    override async fetch(request: Request): Promise<Response> {
      const path = new URL(request.url).pathname;
      if (request.method === "GET" && path === NODE_PATHS.services) {
        return Response.json({ node: options.node, services: registry.services("public") });
      }
      if (request.method !== "POST" || (path !== NODE_PATHS.dispatch && path !== NODE_PATHS.authorization)) {
        return Response.json({ error: `no route ${request.method} ${path}` }, { status: 404 });
      }
      const body = (await request.json().catch(() => null)) as { message?: unknown; timeoutMs?: unknown; callerNode?: unknown } | null;
      const problem = messageProblem(body?.message);
      if (body === null || problem !== null) return Response.json({ error: `message: ${problem ?? "missing"}` }, { status: 400 });
      const message = body.message as Message;
      // Only this node's own services: a node never forwards to further nodes.
      const dispatcher = new Dispatcher<Env>({
        services: registry,
        env: this.env,
        node: options.node,
        telemetry,
        logger,
        waitUntil: (promise) => this.ctx.waitUntil(promise),
      });
      if (path === NODE_PATHS.authorization) {
        return Response.json({ response: await dispatcher.authorization(message, { publicOnly: true }) });
      }
      const asked = typeof body.timeoutMs === "number" && body.timeoutMs > 0 ? body.timeoutMs : undefined;
      const reply = await dispatcher.serveForNode(message, {
        ...(asked === undefined ? {} : { timeoutMs: Math.min(asked, MAX_NODE_TIMEOUT_MS) }),
        ...(typeof body.callerNode === "string" ? { originNode: body.callerNode } : {}),
      });
      return Response.json({ message: reply });
    }
  };
}
