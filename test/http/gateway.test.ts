import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { HTTPException } from "hono/http-exception";
import { describe, expect, it, vi } from "vitest";
import { created, error, halt, MemoryScheduler, ok, response, Router, silentLogger, type JsonObject } from "../../src/core/index.js";
import { noReply } from "../../src/core/messaging/router.js";
import { prepareAggregateId, tryAnotherNode } from "../../src/core/messaging/message.js";
import { createGateway, type Envelope, type GatewayOptions } from "../../src/worker/index.js";
import { libraryLog } from "../support/library-log.js";
import { recordingLogger, sleep } from "../support/recorders.js";

const demo = (path: string, init?: RequestInit) => exports.default.fetch(`http://demo${path}`, init);

/** A gateway of our own, called as workerd calls a Worker: request, env, execution context. */
function gateway(options: Partial<GatewayOptions<{ TOKEN: string }>> = {}) {
  const app = createGateway<{ TOKEN: string }>({ services: [statuses], logger: silentLogger, ...options });
  return async (path: string, init?: RequestInit) => {
    const ctx = createExecutionContext();
    const answer = await app.fetch(new Request(`http://gw${path}`, init), { TOKEN: "s3cret" }, ctx);
    await waitOnExecutionContext(ctx);
    return answer;
  };
}

async function envelope(answer: globalThis.Response): Promise<Envelope> {
  expect(answer.headers.get("Content-Type")).toMatch(/^application\/json/);
  return (await answer.json()) as Envelope;
}

const post = (body?: string, headers: Record<string, string> = {}): RequestInit => ({ method: "POST", body, headers });

/** One service per response shape, to check the status table of the HTTP contract. */
const statuses = new Router<{ TOKEN: string }>({
  authorize: (m) => {
    if (m.serviceName === "needs_identity") return m.assigns["identity"] === undefined ? "unauthorized" : "ok";
    return m.serviceName === "forbidden" ? "forbidden" : "ok";
  },
})
  .service("ok", (m) => ok(m, { dryRun: m.dryRun, rawRequest: m.rawRequest }))
  .service("created", (m) => created(m, "new-1"))
  .service("validation_error", (m) => halt(m, response.validationError([{ path: "name", message: "required" }])))
  .service("missing_id", (m) => prepareAggregateId(m, "id"))
  .service("needs_identity", (m) => ok(m, m.assigns["identity"] ?? null))
  .service("forbidden", (m) => ok(m))
  .service("timeout", () => noReply)
  .service("not_found", (m) => error(m, "not_found"))
  .service("wrong_expected_version", (m) => error(m, "wrong_expected_version", { actual: 3 }))
  .service("domain_error", (m) => error(m, "insufficient_funds"))
  .service("throws", () => {
    throw new Error("stack secret");
  })
  .service("no_nodes", (m) => tryAnotherNode(m, "quorum_not_met"))
  .service("events", (m) => ok({ ...m, events: [{ type: "Greeted", data: { n: 1 } }] }))
  .privateService("hidden", (m) => ok(m));

describe("the demo greeter over HTTP (seed README)", () => {
  it("POST /v1/services/greet answers 200 with the envelope and Hello, Ada!", async () => {
    const answer = await demo("/v1/services/greet", post('{"name":"Ada"}'));
    expect(answer.status).toBe(200);
    const body = await envelope(answer);
    expect(body).toEqual({
      messageId: expect.any(String),
      correlationId: body.messageId,
      causationId: body.messageId,
      service: "greet",
      response: { status: "ok", payload: "Hello, Ada!" },
    });
    expect(answer.headers.get("X-Message-Id")).toBe(body.messageId);
    expect(answer.headers.get("X-Correlation-Id")).toBe(body.correlationId);
    expect(answer.headers.get("X-Causation-Id")).toBe(body.causationId);
  });

  it("its private format_greeting is invisible and uncallable from outside: 404 like an unknown service", async () => {
    const listed = ((await (await demo("/v1/services")).json()) as { services: string[] }).services;
    expect(listed).toContain("greet");
    expect(listed).not.toContain("format_greeting");
    const hidden = await demo("/v1/services/format_greeting", post('{"name":"Ada"}'));
    const unknown = await demo("/v1/services/no_such_service", post('{"name":"Ada"}'));
    expect(hidden.status).toBe(404);
    expect(unknown.status).toBe(404);
    const [hiddenBody, unknownBody] = [await envelope(hidden), await envelope(unknown)];
    expect(hiddenBody.response).toEqual({ status: "service_unavailable", service: "format_greeting" });
    expect(unknownBody.response).toEqual({ status: "service_unavailable", service: "no_such_service" });
    // The demo logs each as a service that no one offers.
    expect(libraryLog.take({ level: "warn", msg: /^\[Discovery\] Service / })).toEqual([
      { level: "warn", msg: "[Discovery] Service format_greeting NOT found!", fields: { traceId: expect.stringMatching(/^[\da-f]{32}$/), spanId: expect.stringMatching(/^[\da-f]{16}$/), messageId: hiddenBody.messageId } },
      { level: "warn", msg: "[Discovery] Service no_such_service NOT found!", fields: { traceId: expect.stringMatching(/^[\da-f]{32}$/), spanId: expect.stringMatching(/^[\da-f]{16}$/), messageId: unknownBody.messageId } },
    ]);
  });

  it("a missing or empty name is a validation error (422), an empty body is {}", async () => {
    for (const body of [undefined, "", "  \n", "{}", '{"name":"   "}', '{"name":42}']) {
      const answer = await demo("/v1/services/greet", post(body));
      expect(answer.status).toBe(422);
      expect((await envelope(answer)).response).toMatchObject({ status: "validation_error", errors: [{ path: "name" }] });
    }
  });

  it("GET /v1/health answers ok", async () => {
    const answer = await demo("/v1/health");
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ status: "ok" });
  });
});

describe("the status table", () => {
  const call = gateway();
  const table: [string, number, JsonObject][] = [
    ["ok", 200, { status: "ok" }],
    ["created", 201, { status: "created", id: "new-1" }],
    ["validation_error", 422, { status: "validation_error" }],
    ["missing_id", 400, { status: "missing_id", field: "id" }],
    ["needs_identity", 401, { status: "unauthorized" }],
    ["forbidden", 403, { status: "forbidden" }],
    ["unknown_service", 404, { status: "service_unavailable", service: "unknown_service" }],
    ["not_found", 404, { status: "error", reason: "not_found" }],
    ["wrong_expected_version", 409, { status: "error", reason: "wrong_expected_version", details: { actual: 3 } }],
    ["domain_error", 400, { status: "error", reason: "insufficient_funds" }],
    ["no_nodes", 503, { status: "error", reason: "no_nodes_available" }],
  ];
  for (const [service, status, expected] of table) {
    it(`${service} → ${status}`, async () => {
      const answer = await call(`/v1/services/${service}`, post("{}"));
      expect(answer.status).toBe(status);
      expect((await envelope(answer)).response).toMatchObject(expected);
    });
  }

  it("a service that does not answer in time → 504 service_timeout", async () => {
    const answer = await gateway({ timeoutMs: 30 })("/v1/services/timeout", post("{}", { "X-Message-Id": "slow-1" }));
    expect(answer.status).toBe(504);
    expect((await envelope(answer)).response).toEqual({ status: "service_timeout", service: "timeout", messageId: "slow-1", timeoutMs: 30 });
  });

  it("a handler that throws → 500 internal_error, no details, the error logged", async () => {
    const log = recordingLogger();
    const answer = await gateway({ logger: log.logger })("/v1/services/throws", post("{}"));
    expect(answer.status).toBe(500);
    const text = await answer.text();
    expect(JSON.parse(text).response).toStrictEqual({ status: "error", reason: "internal_error" });
    expect(text).not.toContain("stack secret");
    expect(log.lines.some((l) => l.level === "error" && String(l.fields["error"]).includes("stack secret"))).toBe(true);
  });
});

describe("request headers", () => {
  const call = gateway();

  it("X-Message-Id, X-Correlation-Id and X-Causation-Id are used and echoed", async () => {
    const answer = await call(
      "/v1/services/ok",
      post("{}", { "X-Message-Id": "m-1", "X-Correlation-Id": "c-1", "X-Causation-Id": "p-1" }),
    );
    const body = await envelope(answer);
    expect(body).toMatchObject({ messageId: "m-1", correlationId: "c-1", causationId: "p-1" });
    expect(answer.headers.get("X-Message-Id")).toBe("m-1");
    expect(answer.headers.get("X-Correlation-Id")).toBe("c-1");
  });

  it("X-Correlation-Id alone sets causation too (it falls back to the correlation id)", async () => {
    const body = await envelope(await call("/v1/services/ok", post("{}", { "X-Correlation-Id": "c-9" })));
    expect(body.correlationId).toBe("c-9");
    expect(body.causationId).toBe("c-9");
    expect(body.messageId).not.toBe("c-9");
  });

  it("X-Dry-Run: true and verbose reach the service; verbose adds the events to the envelope", async () => {
    const dry = await envelope(await call("/v1/services/ok", post("{}", { "X-Dry-Run": "true" })));
    expect(dry.response).toMatchObject({ payload: { dryRun: true } });
    expect(dry.events).toBeUndefined();
    const verbose = await envelope(await call("/v1/services/events", post("{}", { "X-Dry-Run": "verbose" })));
    expect(verbose.events).toEqual([{ type: "Greeted", data: { n: 1 } }]);
    const plain = await envelope(await call("/v1/services/events", post("{}")));
    expect(plain.events).toBeUndefined();
  });

  it("POST /v1/validate/:service is a dry run, verbose when asked", async () => {
    expect((await envelope(await call("/v1/validate/ok", post("{}")))).response).toMatchObject({ payload: { dryRun: true } });
    expect((await envelope(await call("/v1/validate/ok", post("{}", { "X-Dry-Run": "verbose" })))).response).toMatchObject({
      payload: { dryRun: "verbose" },
    });
    expect((await call("/v1/validate/hidden", post("{}"))).status).toBe(404);
  });

  it("an invalid header value → 400 invalid_header naming the header, and nothing is called", async () => {
    const bad: Record<string, string>[] = [
      { "X-Message-Id": "has space" },
      { "X-Message-Id": "x".repeat(129) },
      { "X-Correlation-Id": "" },
      { "X-Causation-Id": "tab\there" },
      { "X-Dry-Run": "maybe" },
      { "X-Dry-Run": "TRUE" },
    ];
    for (const headers of bad) {
      const answer = await call("/v1/services/ok", post("{}", headers));
      expect(answer.status).toBe(400);
      const body = await envelope(answer);
      expect(body.response).toMatchObject({ status: "error", reason: "invalid_header", details: { header: Object.keys(headers)[0] } });
    }
  });

  it("a request is a span of the caller's trace (its traceparent); without a valid one it starts a new trace", async () => {
    const traces: string[] = [];
    const router = new Router({ authorize: () => "ok" }).service("trace", (m) => {
      traces.push(String(m.trace["traceparent"]));
      return ok(m);
    });
    const traced = gateway({ services: [router] });
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    expect((await traced("/v1/services/trace", post("{}", { traceparent }))).status).toBe(200);
    expect((await traced("/v1/services/trace", post("{}", { traceparent: "garbage" }))).status).toBe(200);
    expect((await traced("/v1/services/trace", post("{}"))).status).toBe(200);
    const [child, fromGarbage, fresh] = traces;
    // Same trace id and flags, a span id of its own.
    expect(child).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[\da-f]{16}-01$/);
    expect(child).not.toContain("b7ad6b7169203331");
    for (const started of [fromGarbage, fresh]) {
      expect(started).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-01$/);
      expect(started).not.toContain("0af7651916cd43dd8448eb211c80319c");
    }
    expect(fromGarbage?.slice(3, 35)).not.toBe(fresh?.slice(3, 35));
  });
});

describe("identify", () => {
  const call = gateway({
    identify: (authorization, env) => (authorization === `Bearer ${env.TOKEN}` ? { user: "ada", role: "admin" } : null),
  });

  it("valid credentials become assigns.identity", async () => {
    const answer = await call("/v1/services/needs_identity", post("{}", { Authorization: "Bearer s3cret" }));
    expect(answer.status).toBe(200);
    expect((await envelope(answer)).response).toEqual({ status: "ok", payload: { user: "ada", role: "admin" } });
  });

  it("invalid credentials → 401 before any service runs; no credentials → anonymous, authorize decides", async () => {
    const invalid = await call("/v1/services/ok", post("{}", { Authorization: "Bearer wrong" }));
    expect(invalid.status).toBe(401);
    expect((await envelope(invalid)).response).toEqual({ status: "unauthorized", reason: "invalid credentials" });
    expect((await call("/v1/services/ok", post("{}"))).status).toBe(200);
    expect((await call("/v1/services/needs_identity", post("{}"))).status).toBe(401);
  });

  it("without an identify hook the Authorization header is ignored", async () => {
    const answer = await gateway()("/v1/services/needs_identity", post("{}", { Authorization: "Bearer s3cret" }));
    expect(answer.status).toBe(401);
  });
});

describe("bodies of any Content-Type", () => {
  it("are read as UTF-8 JSON — a form's too, as curl -d sends it — as bytes, never with Request.text() (workerd warns on text() of a body that is not text)", async () => {
    const text = vi.spyOn(Request.prototype, "text");
    try {
      const call = gateway();
      for (const type of ["application/x-www-form-urlencoded", "application/octet-stream", "application/json"]) {
        const answer = await call("/v1/services/ok", post('\ufeff{"name":"Ada ✓"}', { "Content-Type": type }));
        expect((await envelope(answer)).response, type).toEqual({ status: "ok", payload: { dryRun: false, rawRequest: { name: "Ada ✓" } } });
      }
      const scheduler = new MemoryScheduler({ dispatch: async (message) => message, logger: silentLogger });
      const scheduled = await gateway({ scheduler })("/v1/schedules", post('{"service":"ok","key":"k","in":60000,"request":{}}', { "Content-Type": "application/x-www-form-urlencoded" }));
      expect(scheduled.status).toBe(202);
      scheduler.close();
      expect(text).not.toHaveBeenCalled();
    } finally {
      text.mockRestore();
    }
  });
});

describe("bad bodies", () => {
  const call = gateway();

  it("malformed JSON → 400 invalid_json", async () => {
    for (const body of ["{", '{"a":}', "nope", "{'a':1}", '{"a":1}}']) {
      const answer = await call("/v1/services/ok", post(body));
      expect(answer.status).toBe(400);
      expect((await envelope(answer)).response).toMatchObject({ status: "error", reason: "invalid_json" });
    }
  });

  it("a body that is not UTF-8 text → 400 invalid_json (not read with U+FFFD in place of the bad bytes); a BOM is dropped", async () => {
    const bytes = (...parts: (string | number[])[]) => new Uint8Array(parts.flatMap((part) => (typeof part === "string" ? [...new TextEncoder().encode(part)] : part)));
    for (const body of [bytes('{"id":"bad', [0xff], 'id"}'), bytes('{"id":"', [0xc3], '"}'), bytes('{"id":"', [0xed, 0xa0, 0x80], '"}')]) {
      const answer = await call("/v1/services/ok", { method: "POST", body });
      expect(answer.status).toBe(400);
      expect((await envelope(answer)).response).toEqual({ status: "error", reason: "invalid_json", details: "the body is not UTF-8 text" });
    }
    const bom = await call("/v1/services/ok", { method: "POST", body: bytes([0xef, 0xbb, 0xbf], '{"id":"caf\u00e9 é"}') });
    expect((await envelope(bom)).response).toMatchObject({ status: "ok", payload: { rawRequest: { id: "café é" } } });
  });

  it("a body that stops arriving (the client went away) → 400 invalid_request, and no failure is logged", async () => {
    const { logger, lines } = recordingLogger();
    // Service calls are served directly without CORS, through Hono's chain with it: both read bodies.
    for (const options of [{}, { cors: { origin: "https://app.example" } }]) {
      const call = gateway({ logger, ...options });
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"name"'));
          controller.error(new Error("Network connection lost."));
        },
      });
      const answer = await call("/v1/services/ok", { method: "POST", body });
      expect(answer.status).toBe(400);
      expect(await answer.json()).toMatchObject({ response: { status: "error", reason: "invalid_request", details: "the request body was not received in full" } });
    }
    expect(lines.filter((line) => line.level === "error" || line.level === "warn")).toEqual([]);
  });

  it("a number too large to represent (1e400 reads as Infinity) → 400 invalid_request, said as such", async () => {
    for (const body of ['{"price":1e400}', '{"a":[{"b":-1e999}]}']) {
      const answer = await call("/v1/services/ok", post(body));
      expect(answer.status).toBe(400);
      expect((await envelope(answer)).response).toEqual({ status: "error", reason: "invalid_request", details: "the body contains a number too large to represent" });
    }
    expect((await envelope(await call("/v1/services/ok", post('{"price":1e300}')))).response).toMatchObject({ status: "ok" });
  });

  it("JSON that is not an object → 400 invalid_request", async () => {
    for (const body of ["[]", "[1,2]", "null", "42", '"text"', "true"]) {
      const answer = await call("/v1/services/ok", post(body));
      expect(answer.status).toBe(400);
      expect((await envelope(answer)).response).toMatchObject({ status: "error", reason: "invalid_request" });
    }
  });

  it("a body over 1 MiB → 413 payload_too_large, with or without Content-Length", async () => {
    const big = JSON.stringify({ pad: "x".repeat(1024 * 1024) });
    const sized = await call("/v1/services/ok", post(big));
    expect(sized.status).toBe(413);
    expect((await envelope(sized)).response).toEqual({ status: "error", reason: "payload_too_large", details: { maxBytes: 1048576 } });
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
        for (let i = 0; i < 20; i += 1) controller.enqueue(chunk);
        controller.close();
      },
    });
    const streamed = await call("/v1/services/ok", { method: "POST", body: chunks });
    expect(streamed.status).toBe(413);
    const fits = JSON.stringify({ pad: "x".repeat(1024 * 1024 - 20) });
    expect((await call("/v1/services/ok", post(fits))).status).toBe(200);
  });

  it("the limit is configurable", async () => {
    const small = gateway({ maxBodyBytes: 100 });
    expect((await small("/v1/services/ok", post(JSON.stringify({ pad: "x".repeat(100) })))).status).toBe(413);
    expect((await small("/v1/services/ok", post('{"a":1}'))).status).toBe(200);
  });
});

describe("routes", () => {
  const call = gateway();

  it("GET /v1/services lists only public services", async () => {
    const body = (await (await call("/v1/services")).json()) as { services: string[] };
    expect(body.services).toContain("ok");
    expect(body.services).not.toContain("hidden");
  });

  it("unknown routes and methods → 404 JSON; a service with another method than POST → 405", async () => {
    for (const [path, method] of [
      ["/", "GET"],
      ["/v1/services", "POST"],
      ["/v2/services/ok", "POST"],
    ] as const) {
      const answer = await call(path, { method });
      expect(answer.status).toBe(404);
      expect(await answer.json()).toEqual({ response: { status: "error", reason: "not_found" } });
    }
    const wrongMethod = await call("/v1/services/ok", { method: "GET" });
    expect([wrongMethod.status, wrongMethod.headers.get("Allow")]).toEqual([405, "POST"]);
    expect(await wrongMethod.json()).toEqual({ response: { status: "error", reason: "method_not_allowed", details: "call a service with POST" } });
  });

  it("odd service names are just unknown services", async () => {
    for (const name of ["%00", "a%2Fb", "..", "%F0%9F%98%80", "x".repeat(5000)]) {
      const answer = await call(`/v1/services/${name}`, post("{}"));
      expect(answer.status).toBe(404);
    }
  });

  it("a URL that is not well-formed percent-encoded UTF-8 → 400 invalid_request, not a name taken literally", async () => {
    for (const path of ["/v1/services/%E0%A4%A", "/v1/services/%ED%A0%80", "/v1/validate/100%", "/v1/services/ok?x=%FF", "/v1/services?x=%C3"]) {
      const answer = await call(path, post("{}"));
      expect(answer.status, path).toBe(400);
      expect(await answer.json()).toEqual({ response: { status: "error", reason: "invalid_request", details: "the URL is not well-formed percent-encoded UTF-8" } });
    }
  });
});

describe("no input makes the gateway answer 500", () => {
  it("random bodies, headers and paths never produce a 500", async () => {
    const call = gateway({ maxBodyBytes: 4096 });
    const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;
    const randomText = (n: number, from = 0) =>
      Array.from({ length: n }, () => String.fromCharCode(from + Math.floor(Math.random() * (0x7f - from)))).join("");
    const bodies = () => pick([randomText(20), "{".repeat(500), "[".repeat(2000) + "]".repeat(2000), '{"a":' + randomText(5), "", randomText(5000)]);
    const services = ["ok", "created", "missing_id", "hidden", "unknown", "domain_error"];
    const statuses = new Set<number>();
    for (let i = 0; i < 300; i += 1) {
      const headers: Record<string, string> = {};
      // Header values a client can send at all: printable ASCII.
      if (Math.random() < 0.3) headers["X-Message-Id"] = randomText(10, 0x20).trim();
      if (Math.random() < 0.3) headers["X-Dry-Run"] = pick(["true", "verbose", "false", "1", ""]);
      const answer = await call(`/v1/${pick(["services", "validate"])}/${pick(services)}`, post(bodies(), headers));
      statuses.add(answer.status);
      expect(answer.status).not.toBe(500);
    }
    expect(statuses.size).toBeGreaterThan(2);
  });

  it("a handler still running after its timeout does not disturb later requests", async () => {
    const router = new Router({ authorize: () => "ok" }).service("slow", async (m) => {
      await sleep(100);
      return ok(m);
    });
    const fast = new Router({ authorize: () => "ok" }).service("fast", (m) => ok(m));
    const call = gateway({ services: [router, fast], timeoutMs: 50 });
    const [slow, ...later] = await Promise.all([
      call("/v1/services/slow", post("{}")),
      call("/v1/services/fast", post("{}")),
      sleep(60).then(() => call("/v1/services/fast", post("{}"))),
    ]);
    expect(slow.status).toBe(504);
    expect(later.map((answer) => answer.status)).toEqual([200, 200]);
  });

  it("an identify hook that throws is the app's bug: 500 internal_error, logged", async () => {
    const log = recordingLogger();
    const call = gateway({
      logger: log.logger,
      identify: () => {
        throw new Error("token service down");
      },
    });
    const answer = await call("/v1/services/ok", post("{}", { Authorization: "Bearer x", "X-Message-Id": "m-identify" }));
    expect(answer.status).toBe(500);
    expect(await answer.json()).toEqual({
      messageId: "m-identify",
      correlationId: "m-identify",
      causationId: "m-identify",
      service: "ok",
      response: { status: "error", reason: "internal_error" },
    });
    expect(log.lines.some((l) => l.level === "error")).toBe(true);
  });
});

describe("service calls are answered without Hono's chain, as the chain answers them", () => {
  const identify = (authorization: string, env: { TOKEN: string }) => {
    if (authorization === "Bearer teapot") throw new HTTPException(418, { message: "short and stout" });
    return authorization === `Bearer ${env.TOKEN}` ? { user: "ada" } : null;
  };
  /** The gateway as built, and one whose every request goes through the chain (a route was added after). */
  const direct = createGateway<{ TOKEN: string }>({ services: [statuses], logger: silentLogger, identify, maxBodyBytes: 64 });
  const chained = createGateway<{ TOKEN: string }>({ services: [statuses], logger: silentLogger, identify, maxBodyBytes: 64 });
  chained.get("/added-later", (c) => c.text("later"));
  const send = async (app: typeof direct, path: string, init: RequestInit) => {
    const answer = await app.fetch(new Request(`http://gw${path}`, init), { TOKEN: "s3cret" }, createExecutionContext());
    // A message id the gateway generated (the caller's was refused) differs from call to call.
    const generated = (text: string | null) => text?.replace(/[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}/g, "<generated>") ?? null;
    const headers = ["Content-Type", "Cache-Control", "X-Message-Id", "X-Correlation-Id", "X-Causation-Id"].map((name) => generated(answer.headers.get(name)));
    return { status: answer.status, headers, body: generated(await answer.text()) };
  };

  it("a service call reaches no router; other requests, and every request once the app is extended, go through Hono's", async () => {
    const app = createGateway({ services: [statuses], logger: silentLogger });
    // Hono works out every request's path (getPath) before routing it.
    const routed = vi.spyOn(app, "getPath");
    expect((await app.fetch(new Request("http://gw/v1/services/ok", post("{}")), {})).status).toBe(200);
    expect(routed).not.toHaveBeenCalled();
    expect((await app.fetch(new Request("http://gw/v1/health"), {})).status).toBe(200);
    expect((await app.fetch(new Request("http://gw/v1/services/ok%21", post("{}")), {})).status).toBe(404);
    expect(routed).toHaveBeenCalledTimes(2);
    const extended = createGateway({ services: [statuses], logger: silentLogger });
    extended.get("/added-later", (c) => c.text("later"));
    const extendedRouted = vi.spyOn(extended, "getPath");
    expect((await extended.fetch(new Request("http://gw/v1/services/ok", post("{}")), {})).status).toBe(200);
    expect(extendedRouted).toHaveBeenCalledTimes(1);
  });

  it("the same status, headers and body for every kind of answer", async () => {
    const cases: [string, RequestInit][] = [
      ["/v1/services/ok", post('{"a":1}', { "X-Message-Id": "m-1" })],
      ["/v1/services/created", post("", { "X-Message-Id": "m-2", "X-Correlation-Id": "c-2" })],
      ["/v1/services/validation_error", post("{}", { "X-Message-Id": "m-3" })],
      ["/v1/services/events", post("{}", { "X-Message-Id": "m-4", "X-Dry-Run": "verbose" })],
      ["/v1/services/ok", post("{not json", { "X-Message-Id": "m-5" })],
      ["/v1/services/ok", post("[1]", { "X-Message-Id": "m-6" })],
      ["/v1/services/ok", post("{}", { "X-Message-Id": "bad id" })],
      ["/v1/services/ok", post("{}", { "X-Dry-Run": "maybe", "X-Message-Id": "m-7" })],
      ["/v1/services/needs_identity", post("{}", { "X-Message-Id": "m-8", Authorization: "Bearer s3cret" })],
      ["/v1/services/ok", post("{}", { "X-Message-Id": "m-9", Authorization: "Bearer wrong" })],
      ["/v1/services/ok", post("{}", { "X-Message-Id": "m-10", Authorization: "Bearer teapot" })],
      ["/v1/services/ok", post(JSON.stringify({ long: "x".repeat(100) }), { "X-Message-Id": "m-11" })],
      ["/v1/services/hidden", post("{}", { "X-Message-Id": "m-12" })],
      ["/v1/services/domain_error", post("{}", { "X-Message-Id": "m-13" })],
      ["/v1/services/ok?x=1", post("{}", { "X-Message-Id": "m-14" })],
      ["/v1/services/ok/", post("{}", { "X-Message-Id": "m-15" })],
    ];
    for (const [path, init] of cases) {
      const viaChain = await send(chained, path, init);
      expect(await send(direct, path, init), `${path} ${JSON.stringify(init.headers)}`).toEqual(viaChain);
      expect(viaChain.headers[1], path).toBe("no-store");
    }
  });

  it("a failing service is answered 500 internal_error in its envelope and logged, both ways", async () => {
    for (const chain of [false, true]) {
      const log = recordingLogger();
      const app = createGateway({ services: [statuses], logger: log.logger });
      if (chain) app.use("*", async (_c, next) => next());
      const answer = await app.fetch(new Request("http://gw/v1/services/throws", post("{}", { "X-Message-Id": "m-throws" })), {});
      expect(answer.status).toBe(500);
      expect(((await answer.json()) as Envelope).response).toEqual({ status: "error", reason: "internal_error" });
      expect(log.lines.filter((line) => line.level === "error")).toHaveLength(1);
    }
  });

  it("an error handler set on the gateway after it was made answers a failing service call", async () => {
    const app = createGateway({ services: [statuses], logger: silentLogger, identify: () => { throw new Error("directory down"); } });
    app.onError((_error, c) => c.text("our own error page", 503));
    const answer = await app.fetch(new Request("http://gw/v1/services/ok", post("{}", { Authorization: "Bearer x" })), {});
    expect(answer.status).toBe(503);
    expect(await answer.text()).toBe("our own error page");
  });
});
