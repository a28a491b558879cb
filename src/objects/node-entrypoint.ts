import { WorkerEntrypoint } from "cloudflare:workers";
import type { ServiceRouter } from "../core/messaging/contracts.js";
import { Dispatcher } from "../core/messaging/dispatcher.js";
import type { ServiceRegistry } from "../core/messaging/service-registry.js";
import type { TelemetryHandler } from "../core/messaging/telemetry.js";
import { wiring } from "../core/messaging/wiring.js";
import type { Logger } from "../core/shared/logger.js";
import { nodeRoutes } from "../protocol/node-routes.js";

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
 * by name (`export class X3mNode extends nodeEntrypoint({...}) {}`); callers bind to it with a
 * service binding naming that entrypoint. It is not the Worker's default export, so the public
 * internet never reaches it. It serves the node protocol ({@link nodeRoutes}): it lists the
 * public services, dispatches a message to one of them (`authorize` runs here, on the node that
 * owns the service) and answers the reply; private services are never listed and never
 * callable through it.
 */
export function nodeEntrypoint<Env extends object>(options: NodeEntrypointOptions<Env>): NodeEntrypointClass<Env> {
  const { registry, logger, telemetry, useEnv } = wiring(options);
  // Only this node's own services: a node never forwards to further nodes.
  const dispatcher = new Dispatcher<Env>({ services: registry, node: options.node, telemetry, logger });
  const app = nodeRoutes<Env>({ node: options.node, registry, dispatcher, logger });

  return class extends WorkerEntrypoint<Env> implements NodeEntrypoint<Env> {
    override fetch(request: Request): Promise<Response> {
      useEnv(this.env);
      return Promise.resolve(app.fetch(request, this.env, this.ctx));
    }
  };
}
