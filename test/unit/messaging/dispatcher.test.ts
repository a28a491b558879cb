import { afterEach, describe, expect, it, vi } from "vitest";
import { Dispatcher, error, newMessage, ok, Router, silentLogger, type Message } from "../../../src/core/index.js";
import { DEFAULT_TIMEOUT_MS } from "../../../src/core/messaging/dispatcher.js";
import { noReply } from "../../../src/core/messaging/router.js";
import { Telemetry } from "../../../src/core/messaging/telemetry.js";
import { tryAnotherNode } from "../../../src/core/messaging/message.js";
import { type ServiceRouter } from "../../../src/core/messaging/contracts.js";
import { recordingLogger, recordingTelemetry, sleep } from "../../support/recorders.js";
import { testRouter } from "../../support/test-router.js";

function setup(routers: readonly ServiceRouter<unknown>[] = [testRouter]) {
  const recorded = recordingTelemetry();
  const log = recordingLogger();
  const background: Promise<unknown>[] = [];
  const dispatcher = new Dispatcher({
    services: routers,
    env: {},
    telemetry: recorded.telemetry,
    logger: log.logger,
    waitUntil: (promise) => background.push(promise),
  });
  return { dispatcher, ...recorded, ...log, background };
}

const open = (build: (router: Router) => Router) => build(new Router({ authorize: () => "ok" }));

afterEach(() => {
  vi.useRealTimers();
});

/** The telemetry events of one call to a local service, in order (as guides/messaging.md lists them). */
const LOCAL_CALL_EVENTS = [
  "discovering_service",
  "service_found",
  "invoking_service",
  "service_request_received",
  "executing_service",
  "execution_finished",
  "service_responded",
];

describe("dispatching", () => {
  it("an unknown service answers service_unavailable with only discovering and not_found events, and a warning", async () => {
    const { dispatcher, names, lines } = setup();
    const reply = await dispatcher.dispatch(newMessage("wrong_service"));
    expect(reply.response).toEqual({ status: "service_unavailable", service: "wrong_service" });
    expect(reply.halted).toBe(true);
    expect(names()).toEqual(["discovering_service", "service_not_found"]);
    expect(lines).toContainEqual(expect.objectContaining({ level: "warn", message: "[Discovery] Service wrong_service NOT found!" }));
  });

  it("the warning shows a name the caller chose safely: quoted when it is not plain, at most 100 characters", async () => {
    const { dispatcher, lines } = setup();
    await dispatcher.dispatch(newMessage("forged\nERROR admin logged in"));
    await dispatcher.dispatch(newMessage("x".repeat(60_000)));
    const warnings = lines.filter((line) => line.level === "warn").map((line) => line.message);
    expect(warnings).toEqual(['[Discovery] Service "forged\\nERROR admin logged in" NOT found!', `[Discovery] Service "${"x".repeat(100)}"… NOT found!`]);
  });

  it("a local service answers, with the seven life-cycle events in order", async () => {
    const { dispatcher, names, events } = setup();
    const reply = await dispatcher.dispatch(newMessage("first"));
    expect(reply.response).toEqual({ status: "ok", payload: "from_first" });
    expect(names()).toEqual(LOCAL_CALL_EVENTS);
    const responded = events.at(-1);
    expect(responded?.name).toBe("service_responded");
    if (responded?.name === "service_responded") {
      expect(Number.isInteger(responded.measurements.duration)).toBe(true);
      expect(responded.metadata).toMatchObject({ callerNode: "local", serviceNode: "local" });
      expect(responded.metadata.message.response).toEqual({ status: "ok", payload: "from_first" });
    }
    expect(names()).not.toContain("service_not_found");
    expect(names()).not.toContain("checking_if_service_call_is_authorized");
  });

  it("a private service can be dispatched inside its Worker, but not from outside it", async () => {
    const { dispatcher } = setup();
    expect((await dispatcher.dispatch(newMessage("private_service"))).response).toEqual({ status: "ok", payload: "from_private" });
    expect((await dispatcher.dispatch(newMessage("private_service"), { publicOnly: true })).response).toEqual({
      status: "service_unavailable",
      service: "private_service",
    });
  });

  it("a halted message is returned untouched and no service is called", async () => {
    let calls = 0;
    const { dispatcher, names } = setup([open((r) => r.service("counted", (m) => ((calls += 1), ok(m))))]);
    const halted = error(newMessage("counted"), "already_decided");
    expect(await dispatcher.dispatch(halted)).toBe(halted);
    expect(await dispatcher.dispatch(halted, { timeoutMs: 10 })).toBe(halted);
    expect(await dispatcher.validate(halted)).toBe(halted);
    expect(calls).toBe(0);
    expect(names()).toEqual([]);
  });

  it("dispatch refreshes invokedAt", async () => {
    const { dispatcher } = setup();
    const message = { ...newMessage("first"), invokedAt: "2001-01-01T00:00:00.000Z" };
    const reply = await dispatcher.dispatch(message);
    expect(Date.parse(reply.invokedAt)).toBeGreaterThan(Date.parse("2020-01-01T00:00:00.000Z"));
  });
});

describe("timeouts", () => {
  it("no reply in time gives service_timeout; the late reply never reaches the caller; the handler keeps running", async () => {
    let finished = false;
    const { dispatcher, background } = setup([
      open((r) =>
        r.service("slow", async (m) => {
          await sleep(300);
          finished = true;
          return ok(m, "late");
        }),
      ),
    ]);
    const message = newMessage("slow");
    const reply = await dispatcher.dispatch(message, { timeoutMs: 100 });
    expect(reply.response).toEqual({ status: "service_timeout", service: "slow", messageId: message.id, timeoutMs: 100 });
    expect(finished).toBe(false);
    // The handler's work was handed to waitUntil, so the platform keeps it alive; it completes.
    await Promise.all(background);
    expect(finished).toBe(true);
    expect(reply.response?.status).toBe("service_timeout");
  });

  it("the default timeout is 5000 ms", async () => {
    vi.useFakeTimers();
    const { dispatcher } = setup([open((r) => r.service("silent", () => noReply))]);
    let settled: Message | undefined;
    void dispatcher.dispatch(newMessage("silent")).then((reply) => (settled = reply));
    await vi.advanceTimersByTimeAsync(DEFAULT_TIMEOUT_MS - 1);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(settled?.response).toMatchObject({ status: "service_timeout", timeoutMs: 5000 });
  });

  it("a timeout that is not a positive number is refused as invalid_request", async () => {
    const { dispatcher } = setup();
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const reply = await dispatcher.dispatch(newMessage("first"), { timeoutMs });
      expect(reply.response).toMatchObject({ status: "error", reason: "invalid_request" });
    }
  });

  it("a handler that returns noReply and replies later still answers (500 of 500)", async () => {
    const { dispatcher } = setup([
      open((r) =>
        r.service("delegated", (m, { reply, waitUntil }) => {
          waitUntil(sleep(5).then(() => reply(ok(m, "delegated"))));
          return noReply;
        }),
      ),
    ]);
    const replies = await Promise.all(Array.from({ length: 500 }, () => dispatcher.dispatch(newMessage("delegated"), { timeoutMs: 1000 })));
    expect(replies.filter((r) => r.response?.status === "ok")).toHaveLength(500);
  });

  it("a delegated reply after the timeout always times out (200 of 200)", async () => {
    const { dispatcher, background } = setup([
      open((r) =>
        r.service("delegated", (m, { reply, waitUntil }) => {
          waitUntil(sleep(50).then(() => reply(ok(m, "too late"))));
          return noReply;
        }),
      ),
    ]);
    const replies = await Promise.all(Array.from({ length: 200 }, () => dispatcher.dispatch(newMessage("delegated"), { timeoutMs: 10 })));
    await Promise.all(background);
    expect(replies.filter((r) => r.response?.status === "service_timeout")).toHaveLength(200);
  });

  it("only the first reply counts", async () => {
    const { dispatcher, lines } = setup([
      open((r) =>
        r.service("twice", (m, { reply }) => {
          reply(ok(m, "first"));
          reply(ok(m, "second"));
          return ok(m, "third");
        }),
      ),
    ]);
    expect((await dispatcher.dispatch(newMessage("twice"))).response).toEqual({ status: "ok", payload: "first" });
    expect(lines.filter((l) => l.message.startsWith("reply ignored"))).toHaveLength(2);
  });
});

describe("validate and authorized", () => {
  const echoDryRun = open((r) => r.service("echo_dry_run", (m) => ok(m, String(m.dryRun))));

  it("validate turns dryRun false into true and leaves verbose alone", async () => {
    const { dispatcher } = setup([echoDryRun]);
    const validated = await dispatcher.validate(newMessage("echo_dry_run"));
    expect(validated.dryRun).toBe(true);
    expect(validated.response).toEqual({ status: "ok", payload: "true" });
    const verbose = await dispatcher.validate(newMessage("echo_dry_run", { dryRun: "verbose" }));
    expect(verbose.dryRun).toBe("verbose");
    expect(verbose.response).toEqual({ status: "ok", payload: "verbose" });
    expect((await dispatcher.validate(newMessage("wrong_service"))).response).toEqual({
      status: "service_unavailable",
      service: "wrong_service",
    });
  });

  it("validating emits the invoking events, and service_responded carries dryRun true", async () => {
    const { dispatcher, names, events } = setup();
    await dispatcher.validate(newMessage("first"));
    expect(names()).toEqual(LOCAL_CALL_EVENTS);
    const responded = events.at(-1);
    expect(responded?.name === "service_responded" && responded.metadata.message.dryRun).toBe(true);
  });

  it("authorized answers true, true, false, false, service_unavailable with only the checking event", async () => {
    const { dispatcher, names } = setup();
    const results = [];
    for (const service of ["first", "private_service", "unauthorized_service", "custom_unauthorized_service", "wrong_service"]) {
      results.push(await dispatcher.authorized(newMessage(service)));
    }
    expect(results).toEqual([true, true, false, false, "service_unavailable"]);
    expect(new Set(names())).toEqual(new Set(["checking_if_service_call_is_authorized"]));
    expect(names()).toHaveLength(5);
  });

  it("from outside the Worker a private service is unavailable to authorized as well", async () => {
    const { dispatcher } = setup();
    expect(await dispatcher.authorized(newMessage("private_service"), { publicOnly: true })).toBe("service_unavailable");
  });

  it("a dispatcher with no services answers service_unavailable and never throws", async () => {
    const { dispatcher } = setup([]);
    expect((await dispatcher.dispatch(newMessage("first"))).response).toEqual({ status: "service_unavailable", service: "first" });
    expect(await dispatcher.authorized(newMessage("first"))).toBe("service_unavailable");
  });
});

describe("failover with try_another_node", () => {
  it("a single local provider asking for another node gives no_nodes_available with the tried list", async () => {
    const { dispatcher } = setup([open((r) => r.service("quorum", (m) => tryAnotherNode(m, "quorum_not_met")))]);
    const reply = await dispatcher.dispatch(newMessage("quorum"));
    expect(reply.response).toEqual({
      status: "error",
      reason: "no_nodes_available",
      details: { tried: [{ node: "local", reason: "quorum_not_met" }] },
    });
  });
});

describe("failing handlers", () => {
  it("work a handler hands to waitUntil that fails is logged when the dispatcher has no waitUntil of its own", async () => {
    const log = recordingLogger();
    const router = open((r) =>
      r.service("s", (m, context) => {
        context.waitUntil(Promise.reject(new Error("background write failed")));
        return ok(m);
      }),
    );
    const dispatcher = new Dispatcher({ services: [router], env: {}, logger: log.logger });
    expect((await dispatcher.dispatch(newMessage("s"))).response).toEqual({ status: "ok" });
    await sleep(0);
    const failed = log.lines.filter((line) => line.message === "work handed to waitUntil failed");
    expect(failed).toHaveLength(1);
    expect(String(failed[0]?.fields["error"])).toContain("background write failed");
  });

  // The timeout is far longer than the test's own: an answer that waited for it would fail the test.
  const patient = { timeoutMs: 60_000 };

  it("a handler that throws answers internal_error at once, without details; the stack goes to the log", async () => {
    const { dispatcher, lines } = setup([
      open((r) =>
        r
          .service("raises", () => {
            throw new Error("secret database password in this message");
          })
          .service("rejects", async () => {
            await sleep(1);
            throw new TypeError("async failure");
          })
          .service("throws_a_string", () => {
            throw "handler_threw";
          }),
      ),
    ]);
    for (const service of ["raises", "rejects", "throws_a_string"]) {
      const reply = await dispatcher.dispatch(newMessage(service), patient);
      expect(reply.response).toStrictEqual({ status: "error", reason: "internal_error" });
      expect(JSON.stringify(reply)).not.toContain("secret");
    }
    const logged = lines.filter((l) => l.level === "error" && l.message === "service failed");
    expect(logged).toHaveLength(3);
    expect(logged[0]?.fields["error"]).toBeInstanceOf(Error);
    expect(String((logged[0]?.fields["error"] as Error).stack)).toContain("secret database password");
  });

  it("a handler that returns something other than a reply to its message answers internal_error", async () => {
    const { dispatcher, lines } = setup([
      open((r) =>
        r
          .service("returns_nothing", () => undefined as unknown as Message)
          .service("replies_to_another_message", () => ok(newMessage("other"), "x"))
          .service("replies_without_response", (m) => m),
      ),
    ]);
    for (const service of ["returns_nothing", "replies_to_another_message", "replies_without_response"]) {
      expect((await dispatcher.dispatch(newMessage(service), patient)).response).toStrictEqual({ status: "error", reason: "internal_error" });
    }
    expect(lines.filter((l) => l.level === "error")).toHaveLength(3);
  });

  it("an authorize hook that throws answers internal_error", async () => {
    const router = new Router({
      authorize: () => {
        throw new Error("auth backend down");
      },
    }).service("s", (m) => ok(m));
    expect((await setup([router]).dispatcher.dispatch(newMessage("s"), patient)).response).toEqual({ status: "error", reason: "internal_error" });
  });
});

describe("telemetry subscribers", () => {
  it("a subscriber that throws is logged and does not disturb the dispatch", async () => {
    const log = recordingLogger();
    const seen: string[] = [];
    const telemetry = new Telemetry(
      [
        () => {
          throw new Error("broken subscriber");
        },
        (event) => seen.push(event.name),
      ],
      log.logger,
    );
    const dispatcher = new Dispatcher({ services: [testRouter], env: {}, telemetry, logger: silentLogger });
    expect((await dispatcher.dispatch(newMessage("first"))).response).toEqual({ status: "ok", payload: "from_first" });
    expect(seen).toHaveLength(LOCAL_CALL_EVENTS.length);
    expect(log.lines.filter((l) => l.message === "telemetry subscriber threw")).toHaveLength(LOCAL_CALL_EVENTS.length);
  });

  it("subscribe returns an unsubscribe function", async () => {
    const telemetry = new Telemetry();
    const seen: string[] = [];
    const unsubscribe = telemetry.subscribe((event) => seen.push(event.name));
    const dispatcher = new Dispatcher({ services: [testRouter], env: {}, telemetry, logger: silentLogger });
    await dispatcher.dispatch(newMessage("first"));
    unsubscribe();
    await dispatcher.dispatch(newMessage("first"));
    expect(seen).toHaveLength(LOCAL_CALL_EVENTS.length);
  });
});
