import type { StandardSchemaV1 } from "@standard-schema/spec";
import { toStandardJsonSchema } from "@valibot/to-json-schema";
import { env, exports } from "cloudflare:workers";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { isJsonObject, ok, Router, silentLogger, type AuthorizeResult, type Json, type JsonObject, type Message } from "../../src/core/index.js";
import { createGateway, type GatewayOptions } from "../../src/worker/index.js";
import { browserPages, type OpenApiOptions } from "../../src/pages/index.js";
import { greeter } from "../../examples/greeter.js";
import { bank, transferServices } from "../../examples/bank/services.js";
import { bankReads, readSideOperations, transferCheck } from "../../examples/bank/read-side.js";

const demo = (path: string, init?: RequestInit) => exports.default.fetch(`http://demo${path}`, init);

async function openapi(fetch: (path: string) => Response | Promise<Response>): Promise<JsonObject> {
  const answer = await fetch("/v1/openapi.json");
  expect(answer.status).toBe(200);
  expect(answer.headers.get("Content-Type")).toMatch(/^application\/json/);
  return (await answer.json()) as JsonObject;
}

/** The value at a JSON pointer (`#/a/b`) inside `document`, or undefined. */
function at(document: Json, pointer: string): Json | undefined {
  let node: Json | undefined = document;
  for (const raw of pointer.replace(/^#\/?/, "").split("/").filter((part) => part !== "")) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    node = isJsonObject(node) ? node[part] : Array.isArray(node) ? node[Number(part)] : undefined;
  }
  return node;
}

/** Every `$ref` in the document, each of which must point at something in it. */
function refs(node: Json, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((item) => refs(item, found));
  else if (isJsonObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") found.push(value);
      else refs(value, found);
    }
  }
  return found;
}

function expectResolvable(document: JsonObject): void {
  for (const ref of refs(document)) {
    expect(ref, ref).toMatch(/^#\//);
    expect(at(document, ref), ref).toBeDefined();
  }
}

const requestSchemaOf = (document: JsonObject, path: string): Json | undefined => {
  const schema = at(document, `#/paths/${path.replace(/\//g, "~1")}/post/requestBody/content/application~1json/schema`);
  return isJsonObject(schema) && typeof schema["$ref"] === "string" ? at(document, schema["$ref"]) : schema;
};

function gateway(options: Partial<GatewayOptions<Record<string, unknown>>> & { openapi?: OpenApiOptions | false }, bindings: Record<string, unknown> = {}) {
  const { openapi: reference, ...rest } = options;
  const app = createGateway<Record<string, unknown>>({ services: [], logger: silentLogger, pages: browserPages({ openapi: reference ?? {} }), ...rest });
  return (path: string) => app.fetch(new Request(`http://gw${path}`), bindings);
}

describe("GET /v1/openapi.json of the demo", () => {
  it("is OpenAPI 3.1 with every public service, its dry run, and no private service", async () => {
    const document = await openapi(demo);
    expect(document["openapi"]).toBe("3.1.0");
    expect(at(document, "#/info/title")).toBe("x3m-system demo");
    const { services } = (await (await demo("/v1/services")).json()) as { services: string[] };
    expect(services).toContain("deposit");
    for (const service of services) {
      expect(at(document, `#/paths/~1v1~1services~1${service}/post/operationId`)).toBe(service);
      expect(at(document, `#/paths/~1v1~1validate~1${service}/post/operationId`)).toBe(`validate_${service}`);
    }
    // Every private service of the demo's routers, by name: none appears anywhere in the document.
    const privates = [greeter, bank, transferServices, bankReads, readSideOperations, transferCheck.router].flatMap((router) => router.registeredServices("private"));
    expect(privates).toEqual(expect.arrayContaining(["format_greeting", "complete_transfer", "owe_refund", "fail_transfer", "check_transfer"]));
    const text = JSON.stringify(document);
    for (const name of privates) expect(text, name).not.toContain(`"${name}"`);
    for (const name of privates) expect(text, name).not.toContain(`/${name}`);
    expectResolvable(document);
  });

  it("describes the demo's valibot schemas with no converter configured, aggregate commands included", async () => {
    const document = await openapi(demo);
    expect(requestSchemaOf(document, "/v1/services/greet")).toMatchObject({
      type: "object",
      properties: { name: { type: "string", minLength: 1, maxLength: 100 } },
      required: ["name"],
    });
    // greet's name is trimmed before it is checked: JSON Schema cannot say so, and the note does.
    expect(at(document, "#/paths/~1v1~1services~1greet/post/x-x3m-schema-partial")).toBe(
      'The "trim" action cannot be converted to JSON Schema: left out here, the service still checks it',
    );
    expect(at(document, "#/paths/~1v1~1services~1greet/post/x-x3m-schema")).toBeUndefined();
    expect(requestSchemaOf(document, "/v1/services/transfer")).toMatchObject({
      type: "object",
      properties: { transfer_id: { type: "string" }, amount: { type: "integer", minimum: 1, maximum: 1_000_000_000 } },
      required: ["from", "to", "amount"],
    });
    expect(requestSchemaOf(document, "/v1/services/deposit")).toMatchObject({
      type: "object",
      properties: { account_id: { type: "string" }, amount: { type: "integer", minimum: 1 } },
      required: ["account_id", "amount"],
    });
    expect(at(document, "#/paths/~1v1~1services~1deposit/post/requestBody/content/application~1json/example")).toEqual({ account_id: "ada-1", amount: 100 });
  });

  it("documents the envelope per HTTP status, the request headers and the bearer scheme", async () => {
    const document = await openapi(demo);
    const operation = at(document, "#/paths/~1v1~1services~1deposit/post");
    expect(Object.keys(at(operation ?? null, "#/responses") as JsonObject)).toEqual(["200", "201", "400", "401", "403", "404", "409", "413", "422", "500", "503", "504"]);
    expect(at(document, "#/components/responses/ServiceValidationError/content/application~1json/schema/allOf/1/properties/response")).toEqual({
      $ref: "#/components/schemas/ValidationErrorResponse",
    });
    const headers = (at(document, "#/components/parameters") as JsonObject) ?? {};
    expect(Object.values(headers).map((parameter) => at(parameter, "#/name"))).toEqual([
      "X-Message-Id",
      "X-Correlation-Id",
      "X-Causation-Id",
      "X-Dry-Run",
      "X-Expected-Version",
      "traceparent",
    ]);
    expect(at(document, "#/components/securitySchemes/bearer")).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("requires the bearer token exactly where authorize refuses an anonymous caller, as the gateway then answers", async () => {
    const document = await openapi(demo);
    const operation = (path: string) => at(document, `#/paths/${path.replace(/\//g, "~1")}/post`);
    // greet lets anyone through; the bank and the read side's operations answer 401 without a token.
    for (const [service, anonymous, security] of [
      ["greet", "allowed", [{}, { bearer: [] }]],
      ["deposit", "unauthorized", [{ bearer: [] }]],
      ["transfer", "unauthorized", [{ bearer: [] }]],
      ["rebuild_projection", "unauthorized", [{ bearer: [] }]],
    ] as const) {
      for (const path of [`/v1/services/${service}`, `/v1/validate/${service}`]) {
        expect(at(operation(path) ?? null, "#/x-x3m-anonymous"), path).toBe(anonymous);
        expect(at(operation(path) ?? null, "#/security"), path).toEqual(security);
      }
      const call = await demo(`/v1/services/${service}`, { method: "POST", body: "{}" });
      expect(call.status === 401, service).toBe(anonymous === "unauthorized");
    }
  });

  it("marks each dry run as the dry run of its service", async () => {
    const document = await openapi(demo);
    expect(at(document, "#/paths/~1v1~1validate~1deposit/post/x-x3m-dry-run-of")).toBe("/v1/services/deposit");
    expect(at(document, "#/paths/~1v1~1services~1deposit/post/x-x3m-dry-run-of")).toBeUndefined();
  });

  it("has the schedule routes and, with the admin token configured, the stream routes and erasure", async () => {
    const document = await openapi(demo);
    expect(at(document, "#/paths/~1v1~1schedules/post/requestBody/content/application~1json/schema")).toEqual({ $ref: "#/components/schemas/ScheduleRequest" });
    expect(at(document, "#/paths/~1v1~1schedules~1{messageId}/delete/operationId")).toBe("cancel_schedule");
    expect(at(document, "#/paths/~1v1~1streams~1{stream}~1{id}/get/parameters/0/schema/enum")).toEqual(["account", "transfer"]);
    expect(at(document, "#/paths/~1v1~1streams~1{stream}~1{id}/get/security")).toEqual([{ adminToken: [] }]);
    // The demo erases on request.
    expect(at(document, "#/paths/~1v1~1streams~1{stream}~1{id}~1erase/post/responses/200/content/application~1json/schema")).toEqual({ $ref: "#/components/schemas/ErasureReceipt" });
    expect(at(document, "#/paths/~1v1~1streams~1{stream}~1{id}~1erasures/get/security")).toEqual([{ adminToken: [] }]);
    for (const path of ["/v1/services", "/v1/health", "/v1/openapi.json"]) expect(at(document, `#/paths/${path.replace(/\//g, "~1")}/get`)).toBeDefined();
  });
});

const handmade: StandardSchemaV1<unknown, { name: string }> = {
  "~standard": { version: 1, vendor: "handmade", validate: (value) => ({ value: value as { name: string } }) },
};

describe("OpenAPI of other gateways", () => {
  it("without identify, scheduler or admin: no security scheme, no schedule or stream routes", async () => {
    const greeter = new Router({ authorize: () => "ok" }).service("hello", (m) => ok(m));
    const document = await openapi(gateway({ services: [greeter] }));
    expect(at(document, "#/components/securitySchemes")).toBeUndefined();
    expect(at(document, "#/paths/~1v1~1schedules")).toBeUndefined();
    expect(at(document, "#/paths/~1v1~1streams~1{stream}~1{id}")).toBeUndefined();
    expect(at(document, "#/paths/~1v1~1services~1hello/post/security")).toBeUndefined();
    expect(at(document, "#/info")).toEqual({ title: "x3m-system API", version: "1" });
  });

  it("leaves the stream routes out while the admin token is empty", async () => {
    const app = gateway({ admin: { token: (e) => e["TOKEN"] as string | undefined, aggregates: [] } }, { TOKEN: "" });
    expect(at(await openapi(app), "#/paths/~1v1~1streams~1{stream}~1{id}")).toBeUndefined();
  });

  it("openapi: false turns off the document and /docs", async () => {
    const app = gateway({ openapi: false });
    expect((await app("/v1/openapi.json")).status).toBe(404);
    expect((await app("/docs")).status).toBe(404);
  });

  it("documents a schema it cannot convert as any object, with an x- note; a fallback converter can help", async () => {
    const router = new Router({ authorize: () => "ok" }).service("handmade", { schema: handmade }, (m) => ok(m));
    const plain = await openapi(gateway({ services: [router] }));
    expect(requestSchemaOf(plain, "/v1/services/handmade")).toMatchObject({ type: "object" });
    expect(at(plain, "#/paths/~1v1~1services~1handmade/post/x-x3m-schema")).toMatch(/handmade schemas do not implement Standard JSON Schema/);

    const helped = await openapi(gateway({ services: [router], openapi: { jsonSchema: () => ({ type: "object", required: ["name"] }) } }));
    expect(requestSchemaOf(helped, "/v1/services/handmade")).toEqual({ type: "object", required: ["name"] });

    const broken = await openapi(gateway({ services: [router], openapi: { jsonSchema: () => { throw new Error("no way"); } } }));
    expect(at(broken, "#/paths/~1v1~1services~1handmade/post/x-x3m-schema")).toMatch(/could not be converted: no way/);
  });

  it("describes plain valibot schemas with no set-up; what JSON Schema cannot say is left out, with a note", async () => {
    const router = new Router({ authorize: () => "ok" })
      .service("plain", { schema: v.object({ amount: v.pipe(v.number(), v.integer(), v.minValue(1)), note: v.optional(v.string()) }) }, (m) => ok(m))
      .service("checked", { schema: v.pipe(v.object({ from: v.number(), to: v.number() }), v.check((r) => r.from < r.to, "from before to")) }, (m) => ok(m));
    const document = await openapi(gateway({ services: [router] }));
    expect(requestSchemaOf(document, "/v1/services/plain")).toEqual({
      type: "object",
      properties: { amount: { type: "integer", minimum: 1 }, note: { type: "string" } },
      required: ["amount"],
    });
    expect(at(document, "#/paths/~1v1~1services~1plain/post/x-x3m-schema-partial")).toBeUndefined();
    expect(requestSchemaOf(document, "/v1/services/checked")).toEqual({
      type: "object",
      properties: { from: { type: "number" }, to: { type: "number" } },
      required: ["from", "to"],
    });
    expect(at(document, "#/paths/~1v1~1services~1checked/post/x-x3m-schema-partial")).toMatch(/^The "check" action cannot be converted to JSON Schema: left out here/);
    expectResolvable(document);
  });

  it("an app's converter overrides the built-in valibot conversion; when it declines, the built-in one answers", async () => {
    const mine = v.object({ a: v.string() });
    const router = new Router({ authorize: () => "ok" })
      .service("mine", { schema: mine }, (m) => ok(m))
      .service("theirs", { schema: v.object({ b: v.string() }) }, (m) => ok(m));
    const converter = (schema: StandardSchemaV1) => (schema === mine ? { type: "object", title: "mine" } : undefined);
    const document = await openapi(gateway({ services: [router], openapi: { jsonSchema: converter } }));
    expect(requestSchemaOf(document, "/v1/services/mine")).toEqual({ type: "object", title: "mine" });
    expect(requestSchemaOf(document, "/v1/services/theirs")).toEqual({ type: "object", properties: { b: { type: "string" } }, required: ["b"] });
  });

  it("converts a zod schema that zod cannot express in JSON Schema into a note, not a failure", async () => {
    const router = new Router({ authorize: () => "ok" }).service("when", { schema: z.object({ at: z.date() }) }, (m) => ok(m));
    const document = await openapi(gateway({ services: [router] }));
    expect(at(document, "#/paths/~1v1~1services~1when/post/x-x3m-schema")).toMatch(/zod schema could not be converted/);
    expectResolvable(document);
  });

  it("converts valibot schemas wrapped in toStandardJsonSchema, and hoists recursive definitions into components", async () => {
    type Tree = { label: string; children?: Tree[] };
    const tree: z.ZodType<Tree> = z.object({ label: z.string(), get children() { return z.array(tree).optional(); } });
    const router = new Router({ authorize: () => "ok" })
      .service("valibot", { schema: toStandardJsonSchema(v.object({ amount: v.pipe(v.number(), v.integer()) })) }, (m) => ok(m))
      .service("tree", { schema: z.object({ root: tree }) }, (m) => ok(m))
      .service("bare_tree", { schema: tree }, (m) => ok(m));
    const document = await openapi(gateway({ services: [router] }));
    expect(requestSchemaOf(document, "/v1/services/valibot")).toEqual({
      type: "object",
      properties: { amount: { type: "integer" } },
      required: ["amount"],
    });
    expect(JSON.stringify(document)).not.toContain("$defs");
    // A schema that refers to itself (`$ref: "#"`) now refers to its component.
    expect(at(document, "#/components/schemas/bare_tree.request/properties/children/items")).toEqual({ $ref: "#/components/schemas/bare_tree.request" });
    expectResolvable(document);
  });

  it("asks each service's authorize about an anonymous dry run with an empty request, and says what it answered", async () => {
    const seen: Message[] = [];
    const router = (answer: AuthorizeResult | (() => never) | "hangs") =>
      new Router({
        authorize: (message) => {
          seen.push(message);
          if (answer === "hangs") return new Promise<never>(() => {});
          return typeof answer === "function" ? answer() : answer;
        },
      });
    const document = await openapi(
      gateway({
        identify: () => ({ user: "u" }),
        services: [
          router("ok").service("open", (m) => ok(m)),
          router("unauthorized").service("members", (m) => ok(m)),
          router("forbidden").service("admins", (m) => ok(m)),
          router({ status: "error", reason: "closed_on_sundays" }).service("shop", (m) => ok(m)),
          router(() => { throw new Error("authorize is broken"); }).service("broken", (m) => ok(m)),
          router("hangs").service("slow", (m) => ok(m)),
        ],
      }),
    );
    const security = (service: string) => [at(document, `#/paths/~1v1~1services~1${service}/post/x-x3m-anonymous`), at(document, `#/paths/~1v1~1services~1${service}/post/security`)];
    expect(security("open")).toEqual(["allowed", [{}, { bearer: [] }]]);
    expect(security("members")).toEqual(["unauthorized", [{ bearer: [] }]]);
    expect(security("admins")).toEqual(["forbidden", [{ bearer: [] }]]);
    expect(security("shop")).toEqual(["refused", [{ bearer: [] }]]);
    // What could not be asked is not called optional or required: it may need a token.
    expect(security("broken")).toEqual(["unknown", [{}, { bearer: [] }]]);
    expect(security("slow")).toEqual(["unknown", [{}, { bearer: [] }]]);
    expect(seen.map((message) => [message.serviceName, message.assigns, message.rawRequest, message.dryRun])).toEqual(
      ["open", "members", "admins", "shop", "broken", "slow"].map((name) => [name, {}, {}, true]),
    );
  });

  it("asks authorize again only after a minute for the same env: the document is public", async () => {
    let asked = 0;
    const router = new Router({ authorize: () => ((asked += 1), "ok") }).service("counted", (m) => ok(m));
    const app = gateway({ services: [router] });
    await openapi(app);
    await openapi(app);
    expect(asked).toBe(1);
    await openapi(gateway({ services: [router] }));
    expect(asked).toBe(2);
  });

  it("without identify, states what authorize answers anonymous callers and no security", async () => {
    const router = new Router({ authorize: () => "unauthorized" }).service("members", (m) => ok(m));
    const document = await openapi(gateway({ services: [router] }));
    expect(at(document, "#/paths/~1v1~1services~1members/post/x-x3m-anonymous")).toBe("unauthorized");
    expect(at(document, "#/paths/~1v1~1services~1members/post/security")).toBeUndefined();
  });

  it("lists the public services of other nodes, without their private ones", async () => {
    const document = await openapi(gateway({ nodes: { a: (e) => e["NODE_A"] as Fetcher | undefined } }, { NODE_A: env.NODE_A }));
    expect(at(document, "#/paths/~1v1~1services~1echo/post/x-x3m-offered-by")).toBe("another node");
    // Another node's authorize is not asked from here.
    expect(at(document, "#/paths/~1v1~1services~1echo/post/x-x3m-anonymous")).toBe("unknown");
    expect(at(document, "#/paths/~1v1~1services~1secret")).toBeUndefined();
  });

  it("encodes service names in paths and keeps operation ids and components unique", async () => {
    const router = new Router({ authorize: () => "ok" })
      .service("a b", { schema: z.object({ x: z.string() }) }, (m) => ok(m))
      .service("a_b", { schema: z.object({ y: z.string() }) }, (m) => ok(m));
    const document = await openapi(gateway({ services: [router] }));
    expect(at(document, "#/paths/~1v1~1services~1a%20b/post/operationId")).toBe("a_b");
    expect(at(document, "#/paths/~1v1~1services~1a_b/post/operationId")).toBe("a_b_2");
    expect(requestSchemaOf(document, "/v1/services/a_b")).toMatchObject({ properties: { y: { type: "string" } } });
    expectResolvable(document);
  });
});
