import type { Context, Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { Dispatcher } from "../core/messaging/dispatcher.js";
import type { ServiceRegistry } from "../core/messaging/service-registry.js";
import { waitUntilOf } from "../protocol/hono-protocol.js";
import { BROWSER_STYLE } from "./browser-style.js";
import { mountConsole, type ConsoleSettings } from "./console/console-routes.js";
import { docsPage } from "./docs-page.js";
import { DOCS_SCRIPT } from "./docs-script.js";
import type { GatewayOptions, GatewayPages } from "../worker/gateway/gateway.js";
import type { GatewayEnv } from "../worker/gateway/gateway-middleware.js";
import { openApiGenerator, type OpenApiOptions } from "./openapi.js";
import { anonymousAccess } from "./anonymous-access.js";

/** Options of {@link browserPages}. */
export type BrowserPagesOptions<Env> = {
  /** `GET /v1/openapi.json` and the API reference at `/docs`: on unless `false`. */
  openapi?: OpenApiOptions | false;
  /**
   * The operations console at `/console` (admin): on while the gateway has an admin token
   * (`admin.token`) and this gives it a place for its session generation, e.g.
   * `{ sessions: durableObjectConsoleSessions((env) => env.CONSOLE_SESSIONS) }` — logging out ends
   * every console session — and, for its Read side page, the Worker's read side. Absent or
   * `false`: no console (404).
   */
  console?: ConsoleSettings<Env> | false;
};

// Static text of this deployment: browsers may keep it a few minutes.
const assetCache = "public, max-age=300";

/**
 * The browser side of the gateway, for its `pages` option: `GET /v1/openapi.json` (OpenAPI 3.1
 * of what this gateway offers right now), `GET /docs` (the API reference with "try it") and
 * `/console` (the operations console, admin only). Everything is served by the Worker itself, no
 * CDN; a Worker that does not use it does not bundle it.
 *
 * ```ts
 * createGateway({ services, admin, pages: browserPages({ console: { sessions, readSide: reads } }) })
 * ```
 */
export function browserPages<Env extends object = Record<string, unknown>>(options: NoInfer<BrowserPagesOptions<Env>> = {}): GatewayPages<Env> {
  return (app, { registry, dispatcher, logger, throttle, options: gateway }) => {
    if (options.openapi !== false) mountReference(app, options.openapi ?? {}, registry, dispatcher, gateway);
    if (options.console !== undefined && options.console !== false) {
      mountConsole(app, {
        token: gateway.admin?.token,
        sessions: options.console.sessions,
        throttle,
        aggregates: gateway.admin?.aggregates ?? [],
        scheduler: gateway.scheduler,
        readSide: options.console.readSide,
        callers: gateway,
        registry,
        node: gateway.node ?? "local",
        nodes: gateway.nodes,
        logger,
        erasure: gateway.admin?.erasure,
      });
    }
  };
}

/** `GET /v1/openapi.json` and `/docs`. */
function mountReference<Env extends object>(
  app: Hono<GatewayEnv<Env>>,
  openapi: OpenApiOptions,
  registry: ServiceRegistry<Env>,
  dispatcher: Dispatcher<Env>,
  gateway: GatewayOptions<Env>,
): void {
  const generate = openApiGenerator(openapi);
  const anonymous = anonymousAccess(registry);
  app.get("/v1/openapi.json", async (c) => {
    const local = registry.describe("public");
    const localNames = local.map((service) => service.name);
    const [reachable, access] = await Promise.all([
      dispatcher.publicServices({ env: c.env, waitUntil: waitUntilOf(c) }),
      anonymous(localNames, c.env),
    ]);
    const token = gateway.admin?.token(c.env);
    return c.json(
      generate({
        local,
        remote: reachable.filter((name) => !localNames.includes(name)),
        identify: gateway.identify !== undefined,
        identityHeader: gateway.identityHeader,
        anonymous: access,
        scheduler: gateway.scheduler !== undefined,
        streams: token === undefined || token === "" ? null : (gateway.admin?.aggregates.map((access) => access.stream) ?? []),
        erasure: gateway.admin?.erasure !== undefined,
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
  // The address typed with a trailing slash is the same page.
  app.get("/docs/", (c) => c.redirect(`${mountPath(c, "/docs/")}/docs`, 301));
  app.get("/docs", docsHeaders, (c) => {
    c.header("Cache-Control", "no-cache");
    return c.html(docsPage(mountPath(c, "/docs")));
  });
  app.get("/docs/docs.js", (c) => asset(c, DOCS_SCRIPT, "text/javascript; charset=utf-8"));
  app.get("/docs/docs.css", (c) => asset(c, BROWSER_STYLE, "text/css; charset=utf-8"));
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
