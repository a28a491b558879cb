import type { Context, Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { Dispatcher } from "../core/messaging/dispatcher.js";
import type { AdminThrottle } from "./admin-throttle.js";
import type { ServiceRegistry } from "../core/messaging/service-registry.js";
import type { SchedulerClient } from "../core/scheduling/scheduler.js";
import type { Logger } from "../core/shared/logger.js";
import { waitUntilOf } from "../objects/hono-protocol.js";
import { BROWSER_STYLE } from "./browser-style.js";
import type { Identify } from "./caller.js";
import { mountConsole, type ConsoleSettings } from "./console/console-routes.js";
import { DOCS_SCRIPT, docsPage } from "./docs-page.js";
import type { GatewayEnv } from "./gateway-middleware.js";
import { openApiGenerator, type OpenApiOptions } from "./openapi.js";
import type { ReadSide } from "./read-side.js";
import type { NodeBindings } from "./service-binding-node.js";
import type { AdminOptions } from "./stream-routes.js";

/** The gateway options that the browser pages read (a subset of the gateway's own). */
export type BrowserPagesOptions<Env> = {
  /** `GET /v1/openapi.json` and `/docs`: on by default, `false` turns both off. */
  openapi?: OpenApiOptions | false;
  /** `/console`: on while an admin token is configured and `console.sessions` is given. */
  console?: ConsoleSettings<Env> | false;
  identify?: Identify<Env>;
  admin?: AdminOptions<Env>;
  scheduler?: SchedulerClient<Env>;
  readSide?: ReadSide<Env>;
  nodes?: NodeBindings<Env>;
  node?: string;
};

/** What the gateway built once that the pages share: its registry, its dispatcher, its logger and its count of failed admin-token checks. */
export type BrowserPagesWiring<Env> = { registry: ServiceRegistry<Env>; dispatcher: Dispatcher<Env>; logger: Logger; throttle: AdminThrottle<Env> };

// Static text of this deployment: browsers may keep it a few minutes.
const assetCache = "public, max-age=300";

/**
 * Mounts the browser side on the gateway: `GET /v1/openapi.json` (OpenAPI 3.1 of what this
 * gateway offers right now), `GET /docs` (the API reference with "try it") and `/console` (the
 * operations console, admin only). Everything is served by the Worker itself, no CDN.
 */
export function mountBrowserPages<Env extends object>(app: Hono<GatewayEnv<Env>>, options: BrowserPagesOptions<Env>, wiring: BrowserPagesWiring<Env>): void {
  const { registry, dispatcher, logger, throttle } = wiring;
  if (options.openapi !== false) {
    const generate = openApiGenerator(options.openapi ?? {});
    app.get("/v1/openapi.json", async (c) => {
      const local = registry.describe("public");
      const localNames = local.map((service) => service.name);
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

    const docsHeaders = secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        connectSrc: ["'self'"],
        imgSrc: ["data:"],
        formAction: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
      },
      xFrameOptions: "DENY",
      // HSTS is the site's decision for all its paths and subdomains, not a page's.
      strictTransportSecurity: false,
      referrerPolicy: "no-referrer",
    });
    app.get("/docs", docsHeaders, (c) => {
      c.header("Cache-Control", "no-cache");
      return c.html(docsPage(mountPath(c, "/docs")));
    });
    app.get("/docs/docs.js", (c) => asset(c, DOCS_SCRIPT, "text/javascript; charset=utf-8"));
    app.get("/docs/docs.css", (c) => asset(c, BROWSER_STYLE, "text/css; charset=utf-8"));
  }
  if (options.console !== undefined && options.console !== false) {
    mountConsole(app, {
      token: options.admin?.token,
      sessions: options.console.sessions,
      throttle,
      aggregates: options.admin?.aggregates ?? [],
      scheduler: options.scheduler,
      readSide: options.readSide,
      registry,
      node: options.node ?? "local",
      nodes: options.nodes,
      logger,
    });
  }
}

function asset(c: Context, text: string, type: string): Response {
  c.header("Content-Type", type);
  c.header("Cache-Control", assetCache);
  c.header("X-Content-Type-Options", "nosniff");
  return c.body(text);
}

/** The path the gateway is mounted under ("" at the root), from a request for `route`. */
function mountPath(c: Context, route: string): string {
  return c.req.path.slice(0, c.req.path.length - route.length);
}
