import { env, exports } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { ok, Router, silentLogger } from "../../src/core/index.js";
import { durableObjectConsoleSessions } from "../../src/pages/console/console-session-object.js";
import { browserPages } from "../../src/pages/index.js";
import { DOCS_SCRIPT } from "../../src/pages/docs-script.js";
import { createGateway } from "../../src/worker/index.js";

const demo = (path: string) => exports.default.fetch(`http://demo${path}`);

describe("the API reference page", () => {
  it("is a shell with its own script and stylesheet, under a CSP that allows only this origin", async () => {
    const answer = await demo("/docs");
    expect(answer.status).toBe(200);
    const text = await answer.text();
    expect(text).toContain('<script src="/docs/docs.js" defer></script>');
    expect(text).toContain('<body data-base="">');
    const csp = answer.headers.get("Content-Security-Policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(answer.headers.get("Strict-Transport-Security")).toBeNull();
    const script = await demo("/docs/docs.js");
    expect(script.headers.get("Content-Type")).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain("/v1/openapi.json");
    expect((await demo("/docs/docs.css")).headers.get("Content-Type")).toMatch(/^text\/css/);
  });

  it("serves its script as compiled from src/pages/browser/docs.ts: one self-contained function, nothing of the Worker's bundler in it", async () => {
    const script = await (await demo("/docs/docs.js")).text();
    expect(script).toBe(DOCS_SCRIPT);
    expect(script.startsWith('"use strict";\n(() => {\n  // src/pages/browser/docs.ts\n')).toBe(true);
    expect(script.trimEnd().endsWith("})();")).toBe(true);
    // wrangler's keepNames helper, which a Function.prototype.toString() of bundled code would carry.
    expect(script).not.toContain("__name(");
    expect(script).not.toMatch(/\bimport\b|\bexport\b/);
  });

  it("follows the gateway when it is mounted under a path", async () => {
    const router = new Router({ authorize: () => "ok" }).service("hello", (m) => ok(m));
    const gateway = createGateway<Record<string, unknown>>({
      services: [router],
      logger: silentLogger,
      admin: { token: () => "t", aggregates: [] },
      pages: browserPages({ console: { sessions: durableObjectConsoleSessions(() => env.CONSOLE_SESSIONS) } }),
    });
    const app = new Hono<{ Bindings: Record<string, unknown> }>().route("/api", gateway);
    const docs = await (await app.fetch(new Request("http://x/api/docs"), {})).text();
    expect(docs).toContain('<script src="/api/docs/docs.js" defer></script>');
    expect(docs).toContain('<body data-base="/api">');
    const login = await (await app.fetch(new Request("http://x/api/console"), {})).text();
    expect(login).toContain('action="/api/console/login"');
    expect(login).toContain('href="/api/console/console.css"');
    // Typed with a trailing slash, either page sends the browser to its own address.
    for (const [typed, page] of [
      ["/api/docs/", "/api/docs"],
      ["/api/console/", "/api/console"],
    ]) {
      const answer = await app.fetch(new Request(`http://x${typed}`), {});
      expect([typed, answer.status, answer.headers.get("Location")]).toEqual([typed, 301, page]);
    }
  });

  it("a trailing slash on /docs or /console redirects to the page, at the root too", async () => {
    for (const [typed, page] of [
      ["/docs/", "/docs"],
      ["/console/", "/console"],
    ]) {
      const answer = await exports.default.fetch(`http://demo${typed}`, { redirect: "manual" });
      expect([typed, answer.status, answer.headers.get("Location")]).toEqual([typed, 301, page]);
    }
  });
});
