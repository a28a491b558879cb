import { buildSync } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { expect, it } from "vitest";

/*
 * Wrangler bundles a Worker with esbuild's keep-names mode, which wraps every function written as
 * a named arrow (`const f = () => …`) or as an object property in `__name(f, "f")`: a
 * `defineProperty` each time the function is made, about 0.3 µs in workerd against 0.02 µs for the
 * closure itself. On the hot paths — every dispatch, every command — the library makes no such
 * function (see ARCHITECTURE.md, "Hot paths"). This test bundles the core as wrangler would and
 * counts the `__name` calls that dispatches and commands make.
 */

const bundled = resolve("test/.build/keep-names/core.mjs");
mkdirSync(resolve("test/.build/keep-names"), { recursive: true });
const [output] = buildSync({
  entryPoints: [resolve("src/core/index.ts")],
  bundle: true,
  format: "esm",
  platform: "node",
  keepNames: true,
  write: false,
}).outputFiles;
const naming = 'var __name = (target, value) => __defProp(target, "name", { value, configurable: true });';
if (output === undefined || !output.text.includes(naming)) throw new Error("esbuild no longer writes __name as this test expects");
writeFileSync(
  bundled,
  output.text.replace(naming, 'var __name = (target, value) => ((globalThis.__x3mNamed = (globalThis.__x3mNamed ?? 0) + 1), __defProp(target, "name", { value, configurable: true }));'),
);
type Core = typeof import("../../../src/core/index.js");
const core = (await import(pathToFileURL(bundled).href)) as Core;
const named = () => (globalThis as { __x3mNamed?: number }).__x3mNamed ?? 0;

it("a dispatch to a local service and a command to an aggregate make no named function, in a bundle with esbuild's keep-names", async () => {
  const { Aggregate, aggregateRouter, Dispatcher, MemoryAggregates, newMessage, ok, Router, silentLogger } = core;
  const counter = new Aggregate<{ n: number }, { type: "Counted"; data: { by: number } }>({
    stream: "counter",
    initialState: () => ({ n: 0 }),
    apply: (state, event) => ({ n: state.n + event.data.by }),
  }).command("count", { creates: "if-missing" }, () => ({ type: "Counted", data: { by: 1 } }));
  const counters = new MemoryAggregates(counter, { logger: silentLogger });
  const services = new Router({ authorize: () => "ok" }).service("noop", (message) => ok(message));
  const dispatcher = new Dispatcher({ services: [services, aggregateRouter(counter, counters, { authorize: () => "ok" })], logger: silentLogger });
  const round = async () => {
    for (let i = 0; i < 50; i += 1) {
      expect((await dispatcher.dispatch(newMessage("noop"))).response?.status).toBe("ok");
      expect((await dispatcher.dispatch(newMessage("count", { rawRequest: { id: "c-1" } }))).response?.status).toMatch(/^(ok|created)$/);
    }
  };
  await round(); // first use: instances, loggers and lazy pieces made once
  const before = named();
  await round();
  expect(named() - before).toBe(0);
  counters.close();
});
