import { describe, expect, it } from "vitest";
import { EVERY_OWNER, assign, halt, error, MemoryScheduler, newMessage, ok, response, retryTransientFailures, silentLogger, type Message, type SchedulerHooks } from "../../../src/core/index.js";
import { MAX_SCHEDULE_AHEAD_MS } from "../../../src/core/scheduling/schedule.js";
import { MemoryScheduleStore } from "../../../src/core/scheduling/memory-schedule-store.js";
import { SchedulerRunner, type SchedulingLimits } from "../../../src/core/scheduling/scheduler.js";
import { recordingLogger, recordingTelemetry, sleep } from "../../support/recorders.js";

/** A runner on a manual clock, whose deliveries the test answers by hand. */
function harness(hooks: SchedulerHooks = {}) {
  const clock = { now: 1_000_000 };
  const store = new MemoryScheduleStore();
  const delivered: Message[] = [];
  const pending: ((reply: Message) => void)[] = [];
  const timeouts: (number | undefined)[] = [];
  let answer: ((m: Message) => Message) | null = (m) => ok(m);
  const runner = new SchedulerRunner(store, {
    now: () => clock.now,
    logger: silentLogger,
    hooks,
    reidentify: (principal) => ({ user: principal }),
    dispatch: (message, options) => {
      delivered.push(message);
      timeouts.push(options?.timeoutMs);
      if (answer !== null) return Promise.resolve(answer(message));
      return new Promise((resolve) => pending.push(resolve));
    },
  });
  return {
    clock,
    store,
    runner,
    delivered,
    timeouts,
    pending,
    answerWith: (f: ((m: Message) => Message) | null) => (answer = f),
    schedule: (id: string, spec: Parameters<SchedulerRunner["schedule"]>[0]["spec"], owner = "ada", rawRequest = {}) =>
      runner.schedule({ key: "k", message: newMessage("svc", { id, rawRequest, assigns: { identity: { user: owner }, principal: owner } }), spec }),
  };
}

describe("SchedulerRunner", () => {
  it("a delivery that finishes after its message was cancelled and scheduled again leaves the new one alone", async () => {
    const h = harness();
    h.answerWith(null);
    await h.schedule("order", { inMs: 0 });
    const delivering = h.runner.deliverDue();
    await sleep(1);
    expect(h.delivered).toHaveLength(1);
    expect(await h.runner.cancel("order")).toEqual({ status: "ok" });
    expect((await h.schedule("order", { inMs: 3_600_000 })).status).toBe("ok");
    h.pending[0]?.(ok(h.delivered[0] as Message));
    await delivering;
    const [entry] = await h.runner.list();
    expect(entry).toMatchObject({ messageId: "order", attempts: 0 });
    expect(Date.parse(entry?.nextAttemptAt ?? "")).toBe(h.clock.now + 3_600_000);
  });

  it("a dispatchTimeout hook that throws does not stop the key: its messages are delivered with the default timeout", async () => {
    const h = harness({
      dispatchTimeout: () => {
        throw new Error("the app's hook is broken");
      },
    });
    await h.schedule("one", { inMs: 0 });
    await h.schedule("two", { inMs: 0 });
    expect(await h.runner.deliverDue()).toMatchObject({ delivered: 2, more: false });
    expect(h.delivered.map((m) => m.id).sort()).toEqual(["one", "two"]);
    expect(h.timeouts).toEqual([5000, 5000]);
    expect(await h.runner.list()).toEqual([]);
  });

  it("without a dispatchTimeout hook each delivery waits 5000 ms for its service; with one, what it says", async () => {
    const plain = harness();
    await plain.schedule("one", { inMs: 0 });
    await plain.runner.deliverDue();
    const hooked = harness({ dispatchTimeout: (message) => (message.id === "slow" ? 30_000 : 200) });
    await hooked.schedule("slow", { inMs: 0 });
    await hooked.schedule("quick", { inMs: 0 });
    await hooked.runner.deliverDue();
    expect(plain.timeouts).toEqual([5000]);
    expect(Object.fromEntries(hooked.delivered.map((m, i) => [m.id, hooked.timeouts[i]]))).toEqual({ slow: 30_000, quick: 200 });
  });

  it("what a retry changed stays with its occurrence: the next occurrence starts from the template", async () => {
    const h = harness({
      serviceResponded: (reply) =>
        reply.response?.status === "ok" ? "ok" : { retry: { inMs: 0, message: assign(reply, "redelivered", true) } },
    });
    h.answerWith((m) => (m.assigns["redelivered"] === true ? ok(m) : error(m, "boom")));
    await h.schedule("tick", { everyMs: 60_000 });
    h.clock.now += 60_000 + 40_000; // the first occurrence is late
    await h.runner.deliverDue();
    await h.runner.deliverDue();
    h.clock.now += 60_000;
    await h.runner.deliverDue();
    const ids = h.delivered.map((m) => [m.id, m.assigns["late"] ?? false, m.assigns["redelivered"] ?? false]);
    expect(ids).toEqual([
      ["tick-0", true, false],
      ["tick-0", true, true],
      ["tick-1", false, false],
    ]);
  });

  it("a serviceResponded that keeps throwing loses nothing and backs off about 1 s, 2 s, 4 s…", async () => {
    const h = harness({
      serviceResponded: () => {
        throw new Error("broken hook");
      },
    });
    await h.schedule("m", { inMs: 0 });
    const waits: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      await h.runner.deliverDue();
      const [entry] = await h.runner.list();
      waits.push(Date.parse(entry?.nextAttemptAt ?? "") - h.clock.now);
      h.clock.now = Date.parse(entry?.nextAttemptAt ?? "");
    }
    // Each delay is the doubled one, up to a fifth shorter at random (jitter).
    [1000, 2000, 4000].forEach((full, i) => {
      expect(waits[i]).toBeGreaterThanOrEqual(full * 0.8);
      expect(waits[i]).toBeLessThanOrEqual(full);
    });
    expect(h.delivered.map((m) => m.assigns["dispatchAttempts"])).toEqual([1, 2, 3]);
  });

  it("tells serviceResponded the attempt count even when the service dropped the assigns", async () => {
    const seen: unknown[] = [];
    const h = harness({ serviceResponded: (reply) => (seen.push(reply.assigns["dispatchAttempts"]), "ok") });
    h.answerWith((m) => ({ ...ok(m), assigns: {} }));
    await h.schedule("m", { inMs: 0 });
    await h.runner.deliverDue();
    expect(seen).toEqual([1]);
  });

  it("a message too large to store is refused as payload_too_large with the limit, and nothing is stored", async () => {
    const h = harness();
    expect(await h.schedule("big", { inMs: 0 }, "ada", { text: "x".repeat(950_000) })).toEqual({ status: "error", reason: "payload_too_large", details: { maxBytes: 900_000 } });
    expect(await h.runner.list()).toEqual([]);
  });

  it("a message id already scheduled: the same request of the same owner is a retry; another request is refused; another owner's is theirs", async () => {
    const h = harness();
    await h.schedule("dup", { inMs: 60_000 }, "ada", { n: 1 });
    expect(await h.schedule("dup", { inMs: 5 }, "ada", { n: 1 })).toMatchObject({ status: "ok", payload: { alreadyScheduled: true } });
    expect(await h.schedule("dup", { inMs: 5 }, "ada", { n: 2 })).toEqual({ status: "error", reason: "idempotency_key_reused", details: { messageId: "dup" } });
    expect(await h.schedule("dup", { inMs: 5 }, "bob", { n: 1 })).toMatchObject({ status: "ok", payload: { alreadyScheduled: false } });
    expect((await h.runner.list()).map((entry) => [entry.owner, entry.messageId])).toEqual([
      ["bob", "dup"],
      ["ada", "dup"],
    ]);
  });
});

describe("SchedulerRunner's policy", () => {
  const policyRunner = (limits: Partial<SchedulingLimits> = {}) => {
    const clock = { now: Date.parse("2027-06-14T12:00:30Z") };
    const delivered: Message[] = [];
    const runner = new SchedulerRunner(new MemoryScheduleStore(), {
      now: () => clock.now,
      logger: silentLogger,
      reidentify: (principal) => ({ user: principal, admin: principal === "root" }),
      isAdmin: (identity) => identity["admin"] === true,
      limits,
      dispatch: async (m) => (delivered.push(m), ok(m)),
    });
    const as = (user: string | null, id?: string) =>
      newMessage("svc", { ...(id === undefined ? {} : { id }), assigns: user === null ? {} : { identity: { user }, principal: user } });
    return { clock, delivered, runner, as };
  };

  it("limits per owner and per key are configurable, and refusals say which", async () => {
    const { runner, as } = policyRunner({ perOwner: 1, perKey: 2 });
    const spec = { inMs: 60_000 };
    expect(await runner.schedule({ key: "k", message: as("ada"), spec })).toMatchObject({ status: "ok" });
    expect(await runner.schedule({ key: "k", message: as("ada"), spec })).toMatchObject({ status: "error", reason: "too_many_schedules", details: { limit: 1, per: "owner" } });
    expect(await runner.schedule({ key: "k", message: as(null), spec })).toMatchObject({ status: "ok" });
    expect(await runner.schedule({ key: "k", message: as("bob"), spec })).toMatchObject({ status: "error", reason: "too_many_schedules", details: { limit: 2, per: "key" } });
  });

  it("the minimum interval is configurable; a cron expression that matches more often has its closer matches skipped", async () => {
    const { clock, delivered, runner, as } = policyRunner({ minIntervalMs: 5 * 60_000 });
    expect(await runner.schedule({ key: "k", message: as("ada"), spec: { everyMs: 60_000 } })).toMatchObject({ status: "error", reason: "invalid_request" });
    expect(await runner.schedule({ key: "k", message: as("ada", "tick"), spec: { cron: "* * * * *" } })).toMatchObject({ status: "ok" });
    for (let minute = 0; minute < 12; minute += 1) {
      clock.now += 60_000;
      await runner.deliverDue();
    }
    const times = delivered.map((m) => String(m.assigns["dispatchAt"]).slice(11, 16));
    expect(times).toEqual(["12:01", "12:06", "12:11"]);
  });

  it("identities isAdmin recognises see and cancel everyone's; other callers only their own", async () => {
    const { runner, as } = policyRunner();
    await runner.schedule({ key: "k", message: as("ada", "a1"), spec: { inMs: 60_000 } });
    await runner.schedule({ key: "k", message: as("bob", "b1"), spec: { inMs: 60_000 } });
    const caller = (user: string) => ({ principal: user, identity: { user, admin: user === "root" } });
    expect((await runner.list(caller("ada"))).map((e) => e.messageId)).toEqual(["a1"]);
    expect((await runner.list(caller("root"))).map((e) => e.messageId)).toEqual(["a1", "b1"]);
    expect(await runner.cancel("b1", caller("ada"))).toEqual({ status: "error", reason: "not_found" });
    expect(await runner.cancel("b1", caller("root"))).toEqual({ status: "ok" });
    expect(await runner.cancel("a1", "ada")).toEqual({ status: "ok" });
  });
});

describe("what the scheduler tells: telemetry and log lines", () => {
  it("a delivery, a retry, a give-up, a denial and a cancel each emit an event and a log line with the message, service, key, attempt and lateness", async () => {
    const { telemetry, events } = recordingTelemetry();
    const { logger, lines } = recordingLogger();
    const clock = { now: 1_000_000 };
    const runner = new SchedulerRunner(new MemoryScheduleStore(), {
      now: () => clock.now,
      logger,
      telemetry,
      reidentify: (principal) => ({ user: principal }),
      hooks: { serviceResponded: retryTransientFailures({ maxAttempts: 2, baseDelayMs: 1000, jitter: 0 }) },
      dispatch: async (m) => (m.serviceName === "flaky" ? error(m, "internal_error") : m.serviceName === "refused" ? halt(m, response.forbidden()) : ok(m)),
    });
    const as = (service: string, id: string) => newMessage(service, { id, assigns: { identity: { user: "ada" }, principal: "ada" } });
    for (const [service, id] of [["fine", "m-fine"], ["flaky", "m-flaky"], ["refused", "m-refused"]] as const) {
      await runner.schedule({ key: "k", message: as(service, id), spec: { inMs: 0 } });
    }
    await runner.schedule({ key: "k", message: as("fine", "m-later"), spec: { inMs: 60_000 } });
    clock.now += 5000;
    await runner.deliverDue();
    clock.now += 1000;
    await runner.deliverDue();
    await runner.cancel("m-later", "ada");

    const idOf = (metadata: object) => ("messageId" in metadata ? metadata.messageId : "message" in metadata ? (metadata.message as Message).id : null);
    const event = (name: string, id: string) => events.find((e) => e.name === name && idOf(e.metadata) === id);
    expect(event("scheduled_delivery", "m-fine")).toMatchObject({ measurements: { lateness: 5000 }, metadata: { key: "k", attempt: 1, status: "ok" } });
    expect(event("scheduled_retry", "m-flaky")).toMatchObject({ measurements: { inMs: 1000 }, metadata: { key: "k", attempt: 1, reason: "service_responded" } });
    expect(event("scheduled_give_up", "m-flaky")).toMatchObject({ metadata: { key: "k", attempt: 2, response: { status: "error", reason: "internal_error" } } });
    expect(event("scheduled_denied", "m-refused")).toMatchObject({ metadata: { key: "k", attempt: 1, principal: "ada", reason: "forbidden" } });
    expect(event("scheduled_cancel", "m-later")).toMatchObject({ metadata: { key: "k", owner: "ada", service: "fine", by: "owner" } });

    const line = (level: string, message: string, id: string) => lines.find((l) => l.level === level && l.message.includes(message) && l.fields["messageId"] === id);
    const common = (service: string, attempt: number, latenessMs: number) => ({ service, key: "k", attempt, latenessMs });
    expect(line("info", "delivered", "m-fine")?.fields).toMatchObject({ ...common("fine", 1, 5000), status: "ok" });
    expect(line("warn", "delivered again", "m-flaky")?.fields).toMatchObject({ ...common("flaky", 1, 5000), inMs: 1000 });
    expect(line("error", "given up", "m-flaky")?.fields).toMatchObject(common("flaky", 2, 6000));
    expect(line("warn", "denied", "m-refused")?.fields).toMatchObject({ ...common("refused", 1, 5000), reason: "forbidden" });
    expect(line("info", "cancelled", "m-later")?.fields).toMatchObject({ key: "k", service: "fine", owner: "ada", by: "owner" });
    expect((await runner.outcomes()).map((o) => [o.messageId, o.outcome])).toEqual([["m-flaky", "gave_up"], ["m-refused", "denied"]]);
  });
});

describe("SchedulerRunner without a reidentify hook", () => {
  const runner = () =>
    new SchedulerRunner(new MemoryScheduleStore(), { logger: silentLogger, dispatch: async (message) => ok(message) });

  it("refuses identified schedules when scheduled: it could not re-check their rights at delivery", async () => {
    const identified = newMessage("svc", { assigns: { identity: { user: "ada" }, principal: "ada" } });
    const answer = await runner().schedule({ key: "k", message: identified, spec: { inMs: 0 } });
    expect(answer).toMatchObject({ status: "error", reason: "invalid_request", details: expect.stringMatching(/reidentify/) });
    const codeBuilt = newMessage("svc", { assigns: { identity: { user: "ada" } } });
    expect(await runner().schedule({ key: "k", message: codeBuilt, spec: { inMs: 0 } })).toMatchObject({ status: "error", reason: "invalid_request" });
  });

  it("takes anonymous schedules and delivers them with no identity", async () => {
    const delivered: Message[] = [];
    const anonymous = new SchedulerRunner(new MemoryScheduleStore(), { logger: silentLogger, dispatch: async (m) => (delivered.push(m), ok(m)) });
    expect(await anonymous.schedule({ key: "k", message: newMessage("svc"), spec: { inMs: 0 } })).toMatchObject({ status: "ok" });
    await anonymous.deliverDue();
    expect(delivered.map((m) => [m.assigns["identity"], m.assigns["principal"]])).toEqual([[undefined, undefined]]);
  });
});

describe("SchedulerRunner's own arithmetic", () => {
  it("a clock that is not a time, and retry delays that are not durations, never store a due time that is not one", async () => {
    const clock = { now: Number.NaN };
    const store = new MemoryScheduleStore();
    const delivered: Message[] = [];
    const runner = new SchedulerRunner(store, {
      now: () => clock.now,
      logger: silentLogger,
      hooks: { serviceResponded: (reply) => (reply.assigns["dispatchAttempts"] === 1 ? { retry: { inMs: Number.NaN } } : reply.assigns["dispatchAttempts"] === 2 ? { retry: { inMs: Number.POSITIVE_INFINITY } } : "ok") },
      dispatch: async (message) => (delivered.push(message), ok(message)),
    });
    const answer = await runner.schedule({ key: "k", message: newMessage("svc", { id: "m" }), spec: { inMs: 0 } });
    expect(answer).toMatchObject({ status: "ok", payload: { dispatchAt: expect.stringMatching(/^\d{4}-/) } });
    const dueTimes = async () => (await store.list(undefined, 10)).map((entry) => entry.dueAt);
    const [due] = await dueTimes();
    expect(await dueTimes()).toHaveLength(1);
    expect(Number.isFinite(due)).toBe(true);
    await runner.deliverDue();
    const [retry] = await dueTimes();
    expect(Number.isFinite(retry)).toBe(true);
    clock.now = (retry ?? 0) + 1;
    await runner.deliverDue();
    const [capped] = await dueTimes();
    expect(Number.isFinite(capped)).toBe(true);
    expect((capped ?? 0) - clock.now).toBeLessThanOrEqual(MAX_SCHEDULE_AHEAD_MS);
    expect(delivered.map((m) => m.assigns["dispatchAttempts"])).toEqual([1, 2]);
  });
});

describe("SchedulerRunner's options", () => {
  it("a batch size or a concurrency that is not a whole number from 1 means the default: due messages are still delivered, and once", async () => {
    for (const [batchSize, concurrency] of [[0, 16], [100, 0], [Number.NaN, -3], [2.5, Number.POSITIVE_INFINITY]] as const) {
      const store = new MemoryScheduleStore();
      const delivered: string[] = [];
      const runner = new SchedulerRunner(store, {
        now: () => 1_000_000,
        logger: silentLogger,
        batchSize,
        concurrency,
        dispatch: async (message) => (delivered.push(message.id), ok(message)),
      });
      for (const id of ["a", "b", "c"]) await runner.schedule({ key: "k", message: newMessage("svc", { id }), spec: { inMs: 0 } });
      expect(await runner.deliverDue(), `${batchSize}, ${concurrency}`).toEqual({ delivered: 3, more: false });
      expect(delivered.sort()).toEqual(["a", "b", "c"]);
      expect(await runner.list()).toEqual([]);
    }
  });
});

describe("retryTransientFailures (the default serviceResponded)", () => {
  const policy = retryTransientFailures({ maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 300, jitter: 0 });
  const reply = (r: Message["response"], attempts: number) => ({ ...newMessage("s", { assigns: { dispatchAttempts: attempts } }), response: r });

  it("retries what may pass later, with growing delays up to the cap and the attempt limit", () => {
    expect(policy(reply(response.serviceTimeout("s", "m", 5), 1))).toEqual({ retry: { inMs: 100 } });
    expect(policy(reply(response.serviceUnavailable("s"), 2))).toEqual({ retry: { inMs: 200 } });
    expect(policy(reply(response.error("internal_error"), 3))).toEqual({ retry: { inMs: 300 } });
    expect(policy(reply(response.error("no_nodes_available"), 3))).toEqual({ retry: { inMs: 300 } });
    expect(policy(reply(response.error("internal_error"), 4))).toBe("ok");
  });

  it("forgets answers and refusals that a retry would not change", () => {
    for (const r of [response.ok(), response.created("x"), response.forbidden(), response.error("insufficient_funds"), response.validationError([])]) {
      expect(policy(reply(r, 1))).toBe("ok");
    }
  });
});

describe("MemoryScheduler", () => {
  it("delivers on its timers, once per message, even when scheduled concurrently", async () => {
    const seen: string[] = [];
    const scheduler = new MemoryScheduler({
      logger: silentLogger,
      dispatch: async (m) => {
        seen.push(m.id);
        await sleep(20);
        return ok(m);
      },
    });
    await Promise.all(Array.from({ length: 30 }, (_, i) => scheduler.schedule({}, { key: "k", message: newMessage("s", { id: `m${i}` }), spec: { inMs: i % 3 } })));
    for (let waited = 0; (await scheduler.list({}, "k", EVERY_OWNER)).length > 0 && waited < 3000; waited += 10) await sleep(10);
    scheduler.close();
    expect(seen.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `m${i}`).sort());
  });

  it("delivers nothing after close()", async () => {
    const seen: string[] = [];
    const scheduler = new MemoryScheduler({ logger: silentLogger, dispatch: async (m) => (seen.push(m.id), ok(m)) });
    await Promise.all([1, 2].map((i) => scheduler.schedule({}, { key: "k", message: newMessage("s", { id: `c${i}` }), spec: { inMs: 30 } })));
    scheduler.close();
    await sleep(60);
    expect(seen).toEqual([]);
  });

  it("keeps a key in memory only while something is pending there", async () => {
    const scheduler = new MemoryScheduler({ logger: silentLogger, dispatch: async (m) => ok(m) });
    await Promise.all(Array.from({ length: 20 }, (_, i) => scheduler.schedule({}, { key: `soon-${i}`, message: newMessage("s"), spec: { inMs: 0 } })));
    await scheduler.schedule({}, { key: "later", message: newMessage("s", { id: "l1" }), spec: { inMs: 60_000 } });
    await scheduler.schedule({}, { key: "cancelled", message: newMessage("s", { id: "c1" }), spec: { inMs: 60_000 } });
    expect(scheduler.keyCount).toBe(22);

    expect(await scheduler.cancel({}, "cancelled", "c1", EVERY_OWNER)).toEqual({ status: "ok" });
    for (let waited = 0; scheduler.keyCount > 1 && waited < 3000; waited += 10) await sleep(10);
    expect(scheduler.keyCount).toBe(1);
    expect((await scheduler.list({}, "later", EVERY_OWNER)).map((entry) => entry.messageId)).toEqual(["l1"]);
    // Looking at or cancelling on a key that holds nothing creates nothing.
    expect(await scheduler.list({}, "nobody", EVERY_OWNER)).toEqual([]);
    expect((await scheduler.cancel({}, "nobody", "x", EVERY_OWNER)).status).toBe("error");
    expect(scheduler.keyCount).toBe(1);
    scheduler.close();
  });

  it("one key spelled two ways (NFC, NFD) is one shard", async () => {
    const scheduler = new MemoryScheduler({ logger: silentLogger, dispatch: async (m) => ok(m) });
    const nfc = "café";
    const nfd = "cafe\u0301";
    await scheduler.schedule({}, { key: nfd, message: newMessage("s", { id: "x" }), spec: { inMs: 60_000 } });
    expect((await scheduler.list({}, nfc, EVERY_OWNER)).map((entry) => entry.messageId)).toEqual(["x"]);
    expect(scheduler.keyCount).toBe(1);
    expect(await scheduler.cancel({}, nfc, "x", EVERY_OWNER)).toEqual({ status: "ok" });
    scheduler.close();
  });
});
