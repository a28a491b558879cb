import { describe, expect, it } from "vitest";
import { Dispatcher, halt, newMessage, ok, response, Router, silentLogger, type Logger, type Message, type RemoteNode } from "../../../src/core/index.js";
import { NodeDirectory } from "../../../src/core/messaging/node-directory.js";

/** A node made of plain functions, to misbehave in ways a real Worker cannot be asked to. */
function fakeNode(name: string, parts: Partial<Omit<RemoteNode, "name">> & { listed?: string[] }): RemoteNode & { listings: number } {
  const node = {
    name,
    listings: 0,
    services: async () => {
      node.listings += 1;
      return parts.listed ?? [];
    },
    dispatch: async (message: Message) => ok(message, name),
    authorization: async () => response.ok(),
    ...parts,
  };
  if (parts.services !== undefined) {
    const services = parts.services;
    node.services = () => {
      node.listings += 1;
      return services();
    };
  }
  return node;
}

const never = <T>() => new Promise<T>(() => {});

function dispatcherOver(nodes: RemoteNode[], directory = new NodeDirectory({ listTimeoutMs: 50 })) {
  return new Dispatcher({ services: [], env: {}, nodes, directory, logger: silentLogger, remoteMarginMs: 50, defaultTimeoutMs: 100 });
}

describe("nodes that misbehave in the directory's sight", () => {
  it("a node that never lists its services does not hold up dispatch, and backs off", async () => {
    const stuck = fakeNode("stuck", { services: never });
    const healthy = fakeNode("healthy", { listed: ["svc"] });
    const directory = new NodeDirectory({ listTimeoutMs: 50 });
    const dispatcher = dispatcherOver([stuck, healthy], directory);
    expect((await dispatcher.dispatch(newMessage("svc"))).response).toEqual({ status: "ok", payload: "healthy" });
    expect(directory.isBackingOff("stuck")).toBe(true);
    expect(await dispatcher.publicServices()).toEqual(["svc"]);
  });

  it("a node that listed a service but answers service_unavailable is passed over, and its list is fetched again", async () => {
    const stale = fakeNode("stale", { listed: ["svc"], dispatch: async (m) => halt(m, response.serviceUnavailable(m.serviceName)) });
    const fresh = fakeNode("fresh", { listed: ["svc"] });
    const first = new NodeDirectory({ chooseNode: () => "stale" });
    const both = dispatcherOver([stale, fresh], first);
    expect((await both.dispatch(newMessage("svc"))).response).toEqual({ status: "ok", payload: "fresh" });
    await both.dispatch(newMessage("svc"));
    expect(stale.listings).toBe(2);
    // Alone, it is simply unavailable.
    expect((await dispatcherOver([fakeNode("stale2", { listed: ["svc"], dispatch: stale.dispatch })]).dispatch(newMessage("svc"))).response).toEqual({
      status: "service_unavailable",
      service: "svc",
    });
  });

  it("a handler that passes on another service's service_unavailable has answered: its command runs once, not again on the next node", async () => {
    const ran: string[] = [];
    const passesOn = (name: string) => async (m: Message) => {
      ran.push(name);
      return halt(m, response.serviceUnavailable("notify"));
    };
    const a = fakeNode("a", { listed: ["pay"], dispatch: passesOn("a") });
    const b = fakeNode("b", { listed: ["pay"], dispatch: passesOn("b") });
    const reply = await dispatcherOver([a, b], new NodeDirectory({ chooseNode: () => "a" })).dispatch(newMessage("pay"));
    expect(ran).toEqual(["a"]);
    expect(reply.response).toEqual({ status: "service_unavailable", service: "notify" });
    expect(a.listings).toBe(1);
  });

  it("a node that answers only after the caller gave up stays backed off: its late answer does not clear its failure", async () => {
    const slow = fakeNode("slow", { listed: ["svc"], dispatch: async (m) => (await new Promise((resolve) => setTimeout(resolve, 250)), ok(m, "late")) });
    const directory = new NodeDirectory();
    const reply = await dispatcherOver([slow], directory).dispatch(newMessage("svc"));
    expect(reply.response?.status).toBe("service_timeout");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(directory.isBackingOff("slow")).toBe(true);
  });

  it("a node's reply answers the message sent: it cannot rename its ids or service, nor add events to a call that was no verbose dry run", async () => {
    const rewrites = fakeNode("rewrites", {
      listed: ["svc"],
      dispatch: async (m) => ({ ...ok(m, "done"), correlationId: "forged\nline", causationId: "forged", serviceName: "other", dryRun: "verbose", events: [{ type: "Invented", data: {} }] }),
    });
    const sent = newMessage("svc", { correlationId: "c-1", causationId: "p-1" });
    const reply = await dispatcherOver([rewrites]).dispatch(sent);
    expect(reply.response).toEqual({ status: "ok", payload: "done" });
    expect([reply.id, reply.correlationId, reply.causationId, reply.serviceName, reply.dryRun, reply.events]).toEqual([sent.id, "c-1", "p-1", "svc", false, []]);
  });

  it("a failed listing by an isolate's first requests, side by side, is one failure, not one per request", async () => {
    let clock = 0;
    const down = fakeNode("down", { services: async () => Promise.reject(new Error("unreachable")) });
    const directory = new NodeDirectory({ backoffMs: 1000, now: () => clock });
    await Promise.all(Array.from({ length: 4 }, () => dispatcherOver([down], directory).dispatch(newMessage("svc"))));
    expect(down.listings).toBe(4);
    // A first failure's back-off is at most backoffMs.
    clock = 1001;
    expect(directory.isBackingOff("down")).toBe(false);
  });

  it("a late failure of an authorization question is not counted twice", async () => {
    let clock = 0;
    const slow = fakeNode("slow", { listed: ["svc"], authorization: () => new Promise((_resolve, reject) => setTimeout(() => reject(new Error("late")), 250)) });
    const directory = new NodeDirectory({ backoffMs: 1000, now: () => clock });
    await dispatcherOver([slow], directory).authorization(newMessage("svc"));
    await new Promise((resolve) => setTimeout(resolve, 300));
    clock = 1001;
    expect(directory.isBackingOff("slow")).toBe(false);
  });

  it("a node that lists its services but keeps failing its calls backs off longer each time: its listing does not forgive it", async () => {
    let clock = 0;
    const broken = fakeNode("broken", { listed: ["svc"], dispatch: async () => Promise.reject(new Error("5xx")) });
    const directory = new NodeDirectory({ backoffMs: 1000, now: () => clock });
    const dispatcher = dispatcherOver([broken], directory);
    await dispatcher.dispatch(newMessage("svc"));
    clock = 1001;
    await dispatcher.dispatch(newMessage("svc"));
    expect(broken.listings).toBe(2);
    // The second failure in a row backs off at least 1.6 × backoffMs (twice, less its jitter).
    clock += 1001;
    expect(directory.isBackingOff("broken")).toBe(true);
  });

  it("a node that never answers an authorization question is skipped after the timeout", async () => {
    const silent = fakeNode("silent", { listed: ["svc"], authorization: never });
    const dispatcher = dispatcherOver([silent]);
    expect(await dispatcher.authorization(newMessage("svc"))).toEqual({
      status: "error",
      reason: "no_nodes_available",
      details: { tried: [{ node: "silent", reason: "timeout" }] },
    });
  });

  it("authorized tells nodes that all failed to answer apart from a refusal: no_nodes_available, not false", async () => {
    const down = (name: string) => fakeNode(name, { listed: ["svc"], authorization: () => Promise.reject(new Error("unreachable")) });
    expect(await dispatcherOver([down("a"), down("b")]).authorized(newMessage("svc"))).toBe("no_nodes_available");
    const refusing = fakeNode("refusing", { listed: ["svc"], authorization: async () => response.forbidden() });
    expect(await dispatcherOver([refusing]).authorized(newMessage("svc"))).toBe(false);
  });

  it("a nodes function that throws (a binding missing from the env) leaves only this Worker's services, logged, and nothing throws", async () => {
    const lines: { level: string; message: string }[] = [];
    const logger = Object.fromEntries(["debug", "info", "warn", "error"].map((level) => [level, (message: string) => lines.push({ level, message })])) as unknown as Logger;
    const local = new Router({ authorize: () => "ok" }).service("here", (message) => ok(message, "here"));
    const dispatcher = new Dispatcher<object>({ services: [local], env: {}, logger, nodes: () => { throw new Error("binding missing"); } });
    expect((await dispatcher.dispatch(newMessage("svc"))).response).toEqual({ status: "service_unavailable", service: "svc" });
    expect(await dispatcher.authorized(newMessage("svc"))).toBe("service_unavailable");
    expect(await dispatcher.publicServices()).toEqual(["here"]);
    expect((await dispatcher.dispatch(newMessage("here"))).response).toEqual({ status: "ok", payload: "here" });
    expect(lines.filter((line) => line.level === "error").map((line) => line.message)).toEqual(["node discovery failed", "node discovery failed", "node discovery failed"]);
  });

  it("each node tried gets the whole timeout: a node that answers in 80 ms after one that hung for the 100 ms is the reply", async () => {
    const hung = fakeNode("hung", { listed: ["svc"], dispatch: never });
    const slow = fakeNode("slow", { listed: ["svc"], dispatch: async (message: Message) => new Promise((resolve) => setTimeout(() => resolve(ok(message, "slow")), 80)) });
    const directory = new NodeDirectory({ listTimeoutMs: 50, chooseNode: () => "hung" });
    const dispatcher = new Dispatcher({ services: [], env: {}, nodes: [hung, slow], directory, logger: silentLogger, remoteMarginMs: 0, defaultTimeoutMs: 100 });
    // The hung node is tried first and has all of its 100 ms; a budget shared by the tries would
    // leave the second none, and the answer would be a timeout.
    expect((await dispatcher.dispatch(newMessage("svc"))).response).toEqual({ status: "ok", payload: "slow" });
  });

  it("while a node that offered the service backs off, calls answer no_nodes_available (down for now), not service_unavailable (never offered)", async () => {
    let now = 0;
    let listed = ["svc"];
    const down = fakeNode("down", { services: async () => listed, dispatch: () => Promise.reject(new Error("unreachable")), authorization: () => Promise.reject(new Error("unreachable")) });
    const directory = new NodeDirectory({ backoffMs: 1000, now: () => now });
    const dispatcher = dispatcherOver([down], directory);
    expect((await dispatcher.dispatch(newMessage("svc"))).response).toEqual({ status: "error", reason: "no_nodes_available", details: { tried: [{ node: "down", reason: "unreachable" }] } });
    // Backing off: not tried, and still known to offer it.
    const backingOff = { status: "error", reason: "no_nodes_available", details: { tried: [{ node: "down", reason: "backing_off" }] } };
    expect((await dispatcher.dispatch(newMessage("svc"))).response).toEqual(backingOff);
    expect(await dispatcher.authorization(newMessage("svc"))).toEqual(backingOff);
    expect(await dispatcher.authorized(newMessage("svc"))).toBe("no_nodes_available");
    // A service it never listed is unavailable, backing off or not.
    expect((await dispatcher.dispatch(newMessage("other"))).response).toEqual({ status: "service_unavailable", service: "other" });
    // Back, and no longer listing it: gone.
    now += 10_000;
    listed = [];
    expect((await dispatcher.dispatch(newMessage("svc"))).response).toEqual({ status: "service_unavailable", service: "svc" });
  });

  it("a failed node is tried again once its back-off has passed", async () => {
    let now = 0;
    let up = false;
    const flaky = fakeNode("flaky", {
      services: async () => {
        if (!up) throw new Error("down");
        return ["svc"];
      },
    });
    const directory = new NodeDirectory({ backoffMs: 1000, now: () => now });
    const dispatcher = dispatcherOver([flaky], directory);
    expect((await dispatcher.dispatch(newMessage("svc"))).response?.status).toBe("service_unavailable");
    up = true;
    expect((await dispatcher.dispatch(newMessage("svc"))).response?.status).toBe("service_unavailable");
    now += 1001;
    expect((await dispatcher.dispatch(newMessage("svc"))).response).toEqual({ status: "ok", payload: "flaky" });
  });

  it("a node that keeps failing is skipped longer each time (up to eight times the back-off), and afresh once it answers", () => {
    let now = 0;
    const directory = new NodeDirectory({ backoffMs: 1000, now: () => now });
    const skippedFor = () => {
      const start = now;
      while (directory.isBackingOff("n")) now += 10;
      const waited = now - start;
      return waited;
    };
    directory.failed("n");
    const first = skippedFor();
    directory.failed("n");
    const second = skippedFor();
    // Failures in a row: each after the back-off of the one before ended (one during it is not another).
    for (let i = 0; i < 10; i += 1) {
      directory.failed("n");
      directory.failed("n");
      if (i < 9) skippedFor();
    }
    const capped = skippedFor();
    expect(first).toBeGreaterThanOrEqual(800);
    expect(first).toBeLessThanOrEqual(1010);
    expect(second).toBeGreaterThanOrEqual(1600);
    expect(second).toBeLessThanOrEqual(2010);
    expect(capped).toBeGreaterThanOrEqual(6400);
    expect(capped).toBeLessThanOrEqual(8010);
    directory.answered("n");
    directory.failed("n");
    expect(skippedFor()).toBeLessThanOrEqual(1010);
  });

  it("while one caller refreshes a stale list, the others go on with it: none waits on a listing another started", async () => {
    let clock = 0;
    let listings = 0;
    // The refresh never settles, as a fetch of a request whose client went away on Workers.
    const node = fakeNode("n", { services: () => (listings++ === 0 ? Promise.resolve(["svc"]) : never<string[]>()) });
    const directory = new NodeDirectory({ ttlMs: 1000, listTimeoutMs: 5000, now: () => clock });
    const dispatcher = dispatcherOver([node], directory);
    expect((await dispatcher.dispatch(newMessage("svc"))).response).toEqual({ status: "ok", payload: "n" });
    clock = 2000;
    void dispatcher.dispatch(newMessage("svc"));
    const others = await Promise.all(Array.from({ length: 5 }, () => dispatcher.dispatch(newMessage("svc"))));
    expect(others.map((reply) => reply.response)).toEqual(Array.from({ length: 5 }, () => ({ status: "ok", payload: "n" })));
    expect(node.listings).toBe(2);
  });

  it("callers without a list each fetch their own, so one that never settles holds up no other", async () => {
    let listings = 0;
    const node = fakeNode("n", { services: () => (listings++ === 0 ? never<string[]>() : Promise.resolve(["svc"])) });
    const dispatcher = dispatcherOver([node], new NodeDirectory({ listTimeoutMs: 60_000 }));
    void dispatcher.dispatch(newMessage("svc"));
    expect((await dispatcher.dispatch(newMessage("svc"))).response).toEqual({ status: "ok", payload: "n" });
  });
});
