import type { Hono } from "hono";
import type { Dispatcher } from "../core/messaging/dispatcher.js";
import type { ServiceRegistry } from "../core/messaging/service-registry.js";
import type { SchedulerClient } from "../core/scheduling/scheduler.js";
import { waitUntilOf } from "../objects/hono-protocol.js";
import type { Identify } from "./caller.js";
import type { GatewayEnv } from "./gateway-middleware.js";
import { openApiGenerator, type OpenApiOptions } from "./openapi.js";
import type { AdminOptions } from "./stream-routes.js";

/** The gateway options that the browser pages read (a subset of the gateway's own). */
export type BrowserPagesOptions<Env> = {
  /** `GET /v1/openapi.json`: on by default, `false` turns it off. */
  openapi?: OpenApiOptions | false;
  identify?: Identify<Env>;
  admin?: AdminOptions<Env>;
  scheduler?: SchedulerClient<Env>;
};

/** What the gateway built once that the pages share: its registry and its dispatcher. */
export type BrowserPagesWiring<Env> = { registry: ServiceRegistry<Env>; dispatcher: Dispatcher<Env> };

/**
 * Mounts the browser side on the gateway: `GET /v1/openapi.json` (OpenAPI 3.1 of what this
 * gateway offers right now). Everything is served by the Worker itself, no CDN.
 */
export function mountBrowserPages<Env extends object>(app: Hono<GatewayEnv<Env>>, options: BrowserPagesOptions<Env>, wiring: BrowserPagesWiring<Env>): void {
  const { registry, dispatcher } = wiring;
  if (options.openapi !== false) {
    const generate = openApiGenerator(options.openapi ?? {});
    app.get("/v1/openapi.json", async (c) => {
      const localNames = registry.services("public");
      const local = localNames.flatMap((name) => registry.find(name, true)?.router.describe().filter((service) => service.name === name) ?? []);
      const reachable = await dispatcher.publicServices({ env: c.env, waitUntil: waitUntilOf(c) });
      const token = options.admin?.token(c.env);
      return c.json(
        generate({
          local,
          remote: reachable.filter((name) => !localNames.includes(name)),
          identify: options.identify !== undefined,
          scheduler: options.scheduler !== undefined,
          streams: token === undefined || token === "" ? null : (options.admin?.aggregates.map((access) => access.stream) ?? []),
        }),
      );
    });
  }
}
