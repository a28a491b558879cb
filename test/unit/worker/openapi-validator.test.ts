import { Validator } from "@seriousme/openapi-schema-validator";
import { toStandardJsonSchema } from "@valibot/to-json-schema";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { greeter } from "../../../examples/greeter.js";
import { ok, response, Router, silentLogger, type SchedulerClient } from "../../../src/core/index.js";
import { type StreamAccess } from "../../../src/core/aggregates/aggregate-router.js";
// The gateway module itself: the worker barrel also exports the node entrypoint (cloudflare:workers).
import { createGateway, type GatewayOptions } from "../../../src/worker/gateway/gateway.js";
import { browserPages } from "../../../src/pages/browser-pages.js";
import type { OpenApiOptions } from "../../../src/pages/openapi.js";

// The OpenAPI validator compiles JSON Schemas into functions, which workerd forbids: this suite
// runs on Node, against gateways built like the demo's (the browser suite validates the running
// demo's own document the same way).

type Tree = { label: string; children?: Tree[] };
const tree: z.ZodType<Tree> = z.object({ label: z.string(), get children() { return z.array(tree).optional(); } });

const shapes = new Router({ authorize: () => "ok" })
  .service("valibot", { schema: toStandardJsonSchema(v.object({ amount: v.pipe(v.number(), v.integer(), v.minValue(1)) })) }, (m) => ok(m))
  .service("tree", { schema: z.object({ root: tree, tags: z.array(z.enum(["a", "b"])).max(3) }) }, (m) => ok(m))
  .service("bare_tree", { schema: tree }, (m) => ok(m))
  .service("no_schema", (m) => ok(m))
  .service("when", { schema: z.object({ at: z.date() }) }, (m) => ok(m))
  .service("odd name/with {braces}", { schema: z.object({ x: z.string().email() }) }, (m) => ok(m));

const scheduler: SchedulerClient<unknown> = {
  schedule: async () => ({ status: "ok" }),
  list: async () => [],
  cancel: async () => ({ status: "ok" }),
  outcomes: async () => [],
};
const accountStreams: StreamAccess<unknown> = {
  stream: "account",
  readStream: async () => ({ stream: "account-x", status: "live", version: -1, events: [], nextFrom: null, snapshot: null, followUps: [], followUpOutcomes: [] }),
  deleteStream: async () => ({ status: "ok" }),
};

async function documentOf(options: Partial<GatewayOptions<Record<string, unknown>>> & { openapi?: OpenApiOptions }): Promise<unknown> {
  const { openapi, ...rest } = options;
  const pages = browserPages<Record<string, unknown>>({ openapi: { ...openapi } });
  const app = createGateway<Record<string, unknown>>({ services: [greeter, shapes], logger: silentLogger, pages, ...rest });
  const answer = await app.fetch(new Request("http://gw/v1/openapi.json"), {});
  expect(answer.status).toBe(200);
  return answer.json();
}

async function expectValid(document: unknown): Promise<void> {
  const validator = new Validator();
  const result = await validator.validate(document as Record<string, unknown>);
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
  expect(validator.version).toBe("3.1");
  // Every reference resolves (the validator throws on one that does not).
  expect(() => validator.resolveRefs()).not.toThrow();
}

describe("the OpenAPI document passes an OpenAPI 3.1 validator", () => {
  it("with everything configured: identify, scheduler, admin streams and erasure, service docs", async () => {
    await expectValid(
      await documentOf({
        identify: () => ({ user: "u" }),
        scheduler,
        admin: { token: () => "t", aggregates: [accountStreams], erasure: { readSide: { erase: async () => response.error("not_found"), erasures: async () => [] } } },
        openapi: { title: "Demo", version: "2.1.0", description: "A *description*.", services: { greet: { summary: "Greets", example: { name: "Ada" } } } },
      }),
    );
  });

  it("with nothing but services", async () => {
    await expectValid(await documentOf({}));
  });

  it("its JSON Schemas are draft 2020-12 that a validator compiles and applies as the services would", async () => {
    const { Ajv2020 } = await import("ajv/dist/2020.js");
    const document = (await documentOf({})) as { components: { schemas: Record<string, unknown> } };
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema({ $id: "doc", components: document.components });
    const greet = ajv.getSchema("doc#/components/schemas/greet.request");
    expect(greet?.({ name: "Ada" })).toBe(true);
    expect(greet?.({ name: "" })).toBe(false);
    const treeSchema = ajv.getSchema("doc#/components/schemas/bare_tree.request");
    expect(treeSchema?.({ label: "a", children: [{ label: "b", children: [] }] })).toBe(true);
    expect(treeSchema?.({ label: "a", children: [{ children: [] }] })).toBe(false);
  });
});
