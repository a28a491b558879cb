import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Dispatcher, newMessage, ok, Router, silentLogger, type ChooseNode, type JsonObject, type Message } from "../../src/core/index.js";
import { NodeDirectory, type NodeDirectoryOptions } from "../../src/core/messaging/node-directory.js";
import { PROTOCOL_BASE_URL as NODE_ORIGIN } from "../../src/protocol/hono-protocol.js";
import { createGateway, remoteNodesOf, type Envelope, type NodeBindings } from "../../src/worker/index.js";
import { recordingLogger, recordingTelemetry, sleep } from "../support/recorders.js";

type Env = Cloudflare.Env;
const A = { "node-a": (e: Env) => e.NODE_A };
const B = { "node-b": (e: Env) => e.NODE_B };
const FAULTY = { faulty: (e: Env) => e.NODE_FAULTY };

/** A gateway-side dispatcher with these nodes, its own directory and no local services. */
function caller(bindings: NodeBindings<Env>, options: { directory?: NodeDirectoryOptions; routers?: Router<Env>[] } = {}) {
  const recorded = recordingTelemetry();
  const log = recordingLogger();
  const directory = new NodeDirectory({ ttlMs: 60_000, backoffMs: 60_000, ...options.directory });
  const dispatcher = new Dispatcher<Env>({
    services: options.routers ?? [],
    env,
    node: "gateway",
    nodes: remoteNodesOf(bindings, env),
    directory,
    remoteMarginMs: 100,
    telemetry: recorded.telemetry,
    logger: log.logger,
  });
  return { dispatcher, directory, ...recorded, ...log };
}

const payloadOf = (reply: Message) => (reply.response?.status === "ok" ? reply.response.payload : undefined);
const faultyRequests = async () =>
  ((await (await env.NODE_FAULTY.fetch(`${NODE_ORIGIN}/test/count`)).json()) as { requests: number }).requests;

describe("dispatching to another node", () => {
  it("a remote round trip keeps ids, dry run, assigns and trace; telemetry names caller and serving node", async () => {
    const { dispatcher, events } = caller(A);
    const message = newMessage("echo", {
      id: "m-1",
      correlationId: "c-1",
      causationId: "p-1",
      dryRun: "verbose",
      assigns: { identity: { user: "ada" } },
      trace: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    });
    const reply = await dispatcher.dispatch(message);
    expect(payloadOf(reply)).toEqual({
      node: "node-a",
      serviceName: "echo",
      id: "m-1",
      correlationId: "c-1",
      causationId: "p-1",
      dryRun: "verbose",
      assigns: { identity: { user: "ada" } },
      trace: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    });
    expect(reply.id).toBe("m-1");
    const responded = events.find((e) => e.name === "service_responded");
    expect(responded?.metadata).toMatchObject({ callerNode: "gateway", serviceNode: "node-a" });
  });

  it("two nodes offering one service both serve over many calls", async () => {
    const { dispatcher } = caller({ ...A, ...B });
    const replies = await Promise.all(Array.from({ length: 100 }, () => dispatcher.dispatch(newMessage("shared"))));
    const servedBy = new Set(replies.map(payloadOf));
    expect(servedBy).toEqual(new Set(["node-a", "node-b"]));
  });

  it("chooseNode picks the node tried first", async () => {
    const chooseNode: ChooseNode = (_message, candidates) => (candidates.includes("node-b") ? "node-b" : candidates[0] ?? "");
    const { dispatcher } = caller({ ...A, ...B }, { directory: { chooseNode } });
    const replies = await Promise.all(Array.from({ length: 20 }, () => dispatcher.dispatch(newMessage("shared"))));
    expect(new Set(replies.map(payloadOf))).toEqual(new Set(["node-b"]));
  });

  it("a node that fails is skipped for the back-off period and the next one serves", async () => {
    const { dispatcher, directory } = caller({ ...A, ...FAULTY });
    const before = await faultyRequests();
    const replies = [];
    for (let i = 0; i < 20; i += 1) replies.push(await dispatcher.dispatch(newMessage("shared")));
    expect(replies.map(payloadOf)).toEqual(Array(20).fill("node-a"));
    // The faulty node was asked for its services and tried at most once, then left alone.
    expect((await faultyRequests()) - before).toBeLessThanOrEqual(2);
    expect(directory.isBackingOff("node-a")).toBe(false);
  });

  // A node that answers try_another_node passes the message on to the next node offering the
  // service (telemetry repeats for each try); when every node answers so, the caller gets
  // no_nodes_available with each node tried and its reason.
  it("try_another_node moves to the next node; when every node asks, no_nodes_available lists them", async () => {
    const first: ChooseNode = (_m, candidates) => (candidates.includes("node-a") ? "node-a" : candidates[0] ?? "");
    const both = caller({ ...A, ...B }, { directory: { chooseNode: first } });
    const reply = await both.dispatcher.dispatch(newMessage("quorum"));
    expect(payloadOf(reply)).toBe("node-b");
    // Each try repeats service_found, invoking_service and service_responded.
    expect(both.names().filter((n) => n === "service_found")).toHaveLength(2);
    expect(both.names().filter((n) => n === "service_responded")).toHaveLength(2);

    const onlyA = caller(A);
    expect((await onlyA.dispatcher.dispatch(newMessage("quorum"))).response).toEqual({
      status: "error",
      reason: "no_nodes_available",
      details: { tried: [{ node: "node-a", reason: "quorum_not_met" }] },
    });
  });

  // A service offered by a local router is served locally, never by a remote node offering it too.
  it("a local provider wins over remote ones", async () => {
    const local = new Router<Env>({ authorize: () => "ok" }).service("shared", (m) => ok(m, "local"));
    const { dispatcher } = caller({ ...A, ...B }, { routers: [local] });
    for (let i = 0; i < 10; i += 1) expect(payloadOf(await dispatcher.dispatch(newMessage("shared")))).toBe("local");
  });

  it("a handler that throws on the remote node answers internal_error, and the node is not blamed", async () => {
    const { dispatcher, directory } = caller(A);
    expect((await dispatcher.dispatch(newMessage("throws"))).response).toEqual({ status: "error", reason: "internal_error" });
    expect(directory.isBackingOff("node-a")).toBe(false);
  });
});

describe("discovery", () => {
  // Discovery collects the public services of all routers of all nodes; a private service is not
  // listed and cannot be reached from another node.
  it("lists the public services of every router of every node, never private ones", async () => {
    const { dispatcher } = caller({ ...A, ...B });
    const services = await dispatcher.publicServices();
    expect(services).toEqual(expect.arrayContaining(["echo", "shared", "quorum", "from_second_router", "only_b"]));
    expect(services).not.toContain("secret");
    expect((await dispatcher.dispatch(newMessage("secret"))).response).toEqual({ status: "service_unavailable", service: "secret" });
  });

  it("a private service called through the node protocol directly is refused like an unknown one", async () => {
    const answer = await env.NODE_A.fetch(`${NODE_ORIGIN}/x3m/node/dispatch`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ message: newMessage("secret"), timeoutMs: 1000 }),
    });
    const { message } = (await answer.json()) as { message: Message };
    expect(message.response).toEqual({ status: "service_unavailable", service: "secret" });
  });

  it("a node removed from configuration is no longer asked", async () => {
    expect((await caller({ ...A, ...B }).dispatcher.dispatch(newMessage("only_b"))).response?.status).toBe("ok");
    expect((await caller(A).dispatcher.dispatch(newMessage("only_b"))).response).toEqual({ status: "service_unavailable", service: "only_b" });
  });

  // A node's service list is cached for the directory's ttl: a service the node withdraws is still
  // tried until the list is fetched again, then answers service_unavailable.
  it("a service the node no longer offers stops being found after the next refresh", async () => {
    const { dispatcher } = caller(B, { directory: { ttlMs: 50 } });
    expect((await dispatcher.dispatch(newMessage("only_b"))).response?.status).toBe("ok");
    await env.NODE_B.fetch(`${NODE_ORIGIN}/test/withdraw?service=only_b`);
    try {
      expect((await dispatcher.dispatch(newMessage("only_b"))).response?.status).toBe("ok"); // cached list
      await sleep(60);
      expect((await dispatcher.dispatch(newMessage("only_b"))).response).toEqual({ status: "service_unavailable", service: "only_b" });
    } finally {
      await env.NODE_B.fetch(`${NODE_ORIGIN}/test/restore`);
    }
  });

  // A service no node offers is logged as a warning naming the service.
  it("a missing service is logged as a warning", async () => {
    const { dispatcher, lines } = caller(A);
    await dispatcher.dispatch(newMessage("nowhere"));
    expect(lines).toContainEqual(expect.objectContaining({ level: "warn", message: "[Discovery] Service nowhere NOT found!" }));
  });
});

describe("faults give clear responses, never a crash or a hung request", () => {
  it("a node answering garbage → no_nodes_available (bad_reply); a 5xx → no_nodes_available (unreachable)", async () => {
    expect((await caller(FAULTY).dispatcher.dispatch(newMessage("garbage"))).response).toEqual({
      status: "error",
      reason: "no_nodes_available",
      details: { tried: [{ node: "faulty", reason: "bad_reply" }] },
    });
    expect((await caller(FAULTY).dispatcher.dispatch(newMessage("broken"))).response).toEqual({
      status: "error",
      reason: "no_nodes_available",
      details: { tried: [{ node: "faulty", reason: "unreachable" }] },
    });
  });

  it("a node that hangs → service_timeout after the timeout plus the margin, and it backs off", async () => {
    const { dispatcher, directory } = caller(FAULTY);
    const message = newMessage("hangs");
    const reply = await dispatcher.dispatch(message, { timeoutMs: 100 });
    expect(reply.response).toEqual({ status: "service_timeout", service: "hangs", messageId: message.id, timeoutMs: 100 });
    expect(directory.isBackingOff("faulty")).toBe(true);
  });

  it("a slow service on a healthy node → that node's own service_timeout; the node is not blamed", async () => {
    const { dispatcher, directory } = caller(A);
    const reply = await dispatcher.dispatch(newMessage("slow"), { timeoutMs: 100 });
    expect(reply.response).toMatchObject({ status: "service_timeout", timeoutMs: 100 });
    expect(directory.isBackingOff("node-a")).toBe(false);
  });

  it("a node that is down (its service list cannot be fetched) → service_unavailable", async () => {
    const down = { down: () => ({ fetch: () => Promise.reject(new Error("connection refused")) }) as unknown as Fetcher };
    const { dispatcher, directory } = caller(down);
    expect((await dispatcher.dispatch(newMessage("anything"))).response).toEqual({ status: "service_unavailable", service: "anything" });
    expect(directory.isBackingOff("down")).toBe(true);
  });

  it("the node protocol refuses what is not a message, and the node's public HTTP reaches no service", async () => {
    const bad = await env.NODE_A.fetch(`${NODE_ORIGIN}/x3m/node/dispatch`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(bad.status).toBe(400);
    expect((await env.NODE_A.fetch(`${NODE_ORIGIN}/x3m/node/nothing`)).status).toBe(404);
  });
});

// Authorization of a remote service is asked of a node that offers it, and its refusal is the
// answer; an unknown service is service_unavailable; an unreachable node is skipped, and when no
// node answers the caller gets no_nodes_available.
describe("authorization across nodes", () => {
  it("asks the node that owns the service; a failing node is skipped; when all fail: no_nodes_available", async () => {
    const { dispatcher } = caller(A);
    expect(await dispatcher.authorized(newMessage("echo"))).toBe(true);
    expect(await dispatcher.authorization(newMessage("forbidden_remote"))).toEqual({ status: "forbidden" });
    expect(await dispatcher.authorized(newMessage("forbidden_remote"))).toBe(false);
    expect(await dispatcher.authorized(newMessage("nowhere"))).toBe("service_unavailable");
    const faulty = caller(FAULTY);
    expect(await faulty.dispatcher.authorization(newMessage("shared"))).toEqual({
      status: "error",
      reason: "no_nodes_available",
      details: { tried: [{ node: "faulty", reason: "unreachable" }] },
    });
  });
});

describe("a deeply nested request does not take a remote node offline", () => {
  // About 20 KB: 10,000 arrays inside each other, as the request of a service on node-a.
  const deep = () => JSON.parse(`${"[".repeat(10_000)}${"]".repeat(10_000)}`) as unknown[];

  it("through the gateway: 400 invalid_request, and other callers reach the node right after", async () => {
    // A long back-off: if the node were blamed, the next call would find no node for echo.
    const gateway = createGateway<Env>({ services: [], node: "gateway", nodes: A, directory: { backoffMs: 60_000 }, logger: silentLogger });
    const call = async (body: string) => {
      const ctx = createExecutionContext();
      const answer = await gateway.fetch(new Request("http://gw/v1/services/echo", { method: "POST", body }), env, ctx);
      await waitOnExecutionContext(ctx);
      return { status: answer.status, body: (await answer.json()) as Envelope };
    };
    expect((await call("{}")).status).toBe(200);
    const body = JSON.stringify({ deep: deep() });
    expect(body.length).toBeGreaterThan(20_000);
    const refused = await call(body);
    expect(refused.status).toBe(400);
    expect(refused.body.response).toMatchObject({ status: "error", reason: "invalid_request" });
    for (let i = 0; i < 3; i += 1) {
      const after = await call("{}");
      expect(after.status).toBe(200);
      expect(after.body.response).toMatchObject({ status: "ok", payload: { node: "node-a" } });
    }
  });

  it("dispatched from inside a Worker (past the edge's depth limit): answered, and the node is not blamed", async () => {
    const { dispatcher, directory } = caller(A);
    for (const levels of [10_000, 100_000]) {
      const deeper = JSON.parse(`${"[".repeat(levels)}${"]".repeat(levels)}`) as JsonObject[];
      const reply = await dispatcher.dispatch(newMessage("echo", { rawRequest: { deep: deeper } }));
      // Served (the node's JSON tools take it), or refused as unencodable: either way, no node's fault.
      expect(["ok", "error"]).toContain(reply.response?.status);
      if (reply.response?.status === "error") expect(reply.response.reason).toBe("invalid_request");
      expect(directory.isBackingOff("node-a")).toBe(false);
      expect(payloadOf(await dispatcher.dispatch(newMessage("echo")))).toMatchObject({ node: "node-a" });
    }
  });
  it("a message that cannot be encoded (a cycle) is refused invalid_request by dispatch and authorization alike, and the node is not blamed", async () => {
    const { dispatcher, directory } = caller(A);
    const cycle: JsonObject = {};
    (cycle as { self?: unknown }).self = cycle;
    const message = newMessage("echo", { rawRequest: cycle });
    expect((await dispatcher.dispatch(message)).response).toMatchObject({ status: "error", reason: "invalid_request" });
    expect(await dispatcher.authorization(message)).toMatchObject({ status: "error", reason: "invalid_request" });
    expect(directory.isBackingOff("node-a")).toBe(false);
    expect(await dispatcher.authorization(newMessage("echo"))).toEqual({ status: "ok" });
  });
});

describe("through the HTTP gateway", () => {
  it("a request for another node's service is served there; GET /v1/services lists it", async () => {
    const local = new Router<Env>({ authorize: () => "ok" }).service("hello", (m) => ok(m, "local"));
    const gateway = createGateway<Env>({ services: [local], node: "gateway", nodes: A, logger: silentLogger });
    const call = async (path: string, init?: RequestInit) => {
      const ctx = createExecutionContext();
      const answer = await gateway.fetch(new Request(`http://gw${path}`, init), env, ctx);
      await waitOnExecutionContext(ctx);
      return answer;
    };
    const answer = await call("/v1/services/echo", { method: "POST", body: "{}", headers: { "X-Message-Id": "via-gw" } });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as Envelope;
    expect(body).toMatchObject({ messageId: "via-gw", response: { status: "ok", payload: { node: "node-a", id: "via-gw" } } });
    const listed = (await (await call("/v1/services")).json()) as { services: string[] };
    expect(listed.services).toEqual(expect.arrayContaining(["hello", "echo", "from_second_router"]));
    expect(listed.services).not.toContain("secret");
    expect((await call("/v1/services/secret", { method: "POST", body: "{}" })).status).toBe(404);
  });
});

describe("a request cancelled while it listed a node's services", () => {
  it("holds up no later request: the next one lists the node itself and is answered", async () => {
    await env.NODE_B.fetch(`${NODE_ORIGIN}/test/slow-listing?ms=1500`);
    try {
      // The first request starts listing node-b, then its caller goes away: on Workers, what it
      // started never settles.
      const cancelled = new AbortController();
      const first = exports.default.fetch("http://test/test/nodes/only_b", { signal: cancelled.signal }).catch((error: unknown) => error);
      await sleep(200);
      cancelled.abort();
      await first;
      await env.NODE_B.fetch(`${NODE_ORIGIN}/test/slow-listing?ms=0`);
      const hung = sleep(4000).then(() => "no answer within 4 s");
      const next = exports.default.fetch("http://test/test/nodes/only_b").then(async (answer) => (await answer.json()) as { response: unknown });
      expect(await Promise.race([next, hung])).toEqual({ response: { status: "ok", payload: "node-b" } });
    } finally {
      await env.NODE_B.fetch(`${NODE_ORIGIN}/test/restore`);
    }
  });
});
