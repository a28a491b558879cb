// Browsers on other origins: the gateway's `cors` option, checked with real preflights.
import { describe, expect, it } from "vitest";
import { env, exports } from "cloudflare:workers";
import { ok, Router, silentLogger } from "../../src/core/index.js";
import { durableObjectConsoleSessions } from "../../src/pages/console/console-session-object.js";
import { browserPages } from "../../src/pages/index.js";
import { createGateway, type GatewayOptions } from "../../src/worker/index.js";

const echo = new Router({ authorize: () => "ok" }).service("echo", (m) => ok(m, m.rawRequest));

function gateway(cors?: GatewayOptions<object>["cors"]) {
  const app = createGateway({ services: [echo], logger: silentLogger, ...(cors === undefined ? {} : { cors }) });
  return (path: string, init?: RequestInit) => app.fetch(new Request(`http://api.example${path}`, init), {});
}

const APP = "https://app.example";
const requestedHeaders = "authorization, content-type, x-message-id, x-dry-run, x-expected-version";

/** What a browser sends before a cross-origin POST with the API's headers. */
const preflight = (origin: string, method = "POST"): RequestInit => ({
  method: "OPTIONS",
  headers: { Origin: origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": requestedHeaders },
});

const corsHeaders = (answer: Response) => [...answer.headers.keys()].filter((name) => name.startsWith("access-control-"));

describe("CORS, when configured", () => {
  const call = gateway({ origin: APP });

  it("answers a preflight 204 with the origin, the methods and the API's request headers", async () => {
    const answer = await call("/v1/services/echo", preflight(APP));
    expect(answer.status).toBe(204);
    expect(answer.headers.get("Access-Control-Allow-Origin")).toBe(APP);
    expect(answer.headers.get("Access-Control-Allow-Methods")?.split(",")).toEqual(["GET", "POST", "DELETE"]);
    const allowed = (answer.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase().split(",");
    for (const header of requestedHeaders.split(", ")) expect(allowed).toContain(header);
    expect(allowed).toContain("x-correlation-id");
    expect(allowed).toContain("x-causation-id");
    expect(answer.headers.get("Access-Control-Max-Age")).toBe("600");
    expect(answer.headers.get("Vary")).toContain("Origin");
  });

  it("lets a browser script read the message id headers of the answer (exposeHeaders)", async () => {
    const answer = await call("/v1/services/echo", {
      method: "POST",
      body: '{"a":1}',
      headers: { Origin: APP, "Content-Type": "application/json", "X-Message-Id": "m-cors" },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("Access-Control-Allow-Origin")).toBe(APP);
    expect(answer.headers.get("Access-Control-Expose-Headers")?.split(",")).toEqual(["X-Message-Id", "X-Correlation-Id", "X-Causation-Id"]);
    expect(answer.headers.get("X-Message-Id")).toBe("m-cors");
    expect(answer.headers.get("Vary")).toContain("Origin");
  });

  it("does not allow another origin: no Access-Control-Allow-Origin, so the browser refuses", async () => {
    const answer = await call("/v1/services/echo", preflight("https://evil.example"));
    expect(answer.headers.get("Access-Control-Allow-Origin")).toBeNull();
    const post = await call("/v1/services/echo", { method: "POST", body: "{}", headers: { Origin: "https://evil.example" } });
    expect(post.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });

  it("takes a list of origins, and the app's own settings over the defaults", async () => {
    const listed = gateway({ origin: [APP, "https://admin.example"], allowMethods: ["POST"], exposeHeaders: ["X-Message-Id"] });
    const answer = await listed("/v1/services/echo", preflight("https://admin.example"));
    expect(answer.headers.get("Access-Control-Allow-Origin")).toBe("https://admin.example");
    expect(answer.headers.get("Access-Control-Allow-Methods")).toBe("POST");
    const post = await listed("/v1/services/echo", { method: "POST", body: "{}", headers: { Origin: APP } });
    expect(post.headers.get("Access-Control-Expose-Headers")).toBe("X-Message-Id");
  });
});

describe("CORS, when not configured (the default)", () => {
  it("covers the API only: the console's pages say nothing to another origin, even one the API allows", async () => {
    const app = createGateway({ services: [echo], logger: silentLogger, cors: { origin: APP, credentials: true }, admin: { token: () => "t", aggregates: [] }, pages: browserPages({ console: { sessions: durableObjectConsoleSessions(() => env.CONSOLE_SESSIONS) } }) });
    const call = (path: string, init?: RequestInit) => app.fetch(new Request(`http://api.example${path}`, init), {});
    const page = await call("/console", { headers: { Origin: APP } });
    expect(page.status).toBe(200); // the console exists (its login page)
    expect(page.headers.get("Access-Control-Allow-Origin")).toBeNull();
    expect(page.headers.get("Access-Control-Allow-Credentials")).toBeNull();
    const api = await call("/v1/health", { headers: { Origin: APP } });
    expect(api.headers.get("Access-Control-Allow-Origin")).toBe(APP);
  });

  it("a preflight gets no CORS headers at all: the browser refuses the cross-origin call", async () => {
    const answer = await gateway()("/v1/services/echo", preflight(APP));
    expect(corsHeaders(answer)).toEqual([]);
    expect(answer.status).toBe(404);
  });

  it("nor does the demo Worker's answer to a cross-origin POST", async () => {
    const preflighted = await exports.default.fetch("http://demo/v1/services/greet", preflight(APP));
    expect(corsHeaders(preflighted)).toEqual([]);
    const answer = await exports.default.fetch("http://demo/v1/services/greet", { method: "POST", body: '{"name":"Ada"}', headers: { Origin: APP } });
    expect(answer.status).toBe(200);
    expect(corsHeaders(answer)).toEqual([]);
  });
});
