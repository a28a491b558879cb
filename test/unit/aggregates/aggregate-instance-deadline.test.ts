import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { Aggregate, newMessage, silentLogger, Telemetry, type Message, type TelemetryEvent } from "../../../src/core/index.js";
import { AggregateInstance } from "../../../src/core/aggregates/aggregate-instance.js";
import { MemoryStreamStore } from "../../../src/core/aggregates/memory-stream-store.js";

type Counted = { type: "Counted"; data: { by: number } };

/** A counter whose `wait` command takes `ms` (never, when negative) before it counts. */
const slowCounter = new Aggregate<{ n: number }, Counted>({
  stream: "slow",
  initialState: () => ({ n: 0 }),
  apply: (state, event) => ({ n: state.n + event.data.by }),
  commandTimeoutMs: 50,
}).command("wait", { creates: "if-missing", schema: z.object({ ms: z.number() }) }, async (request) => {
  await new Promise((resolve) => (request.ms < 0 ? undefined : setTimeout(resolve, request.ms)));
  return { type: "Counted", data: { by: 1 } };
});

describe("one deadline watch per instance", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const instanceAndSend = (telemetry?: Telemetry) => {
    const instance = new AggregateInstance(slowCounter, new MemoryStreamStore(), { streamName: "slow-1", logger: silentLogger, ...(telemetry === undefined ? {} : { telemetry }) });
    const send = (ms: number) => {
      let settled: Message | undefined;
      const reply = instance.execute({ streamName: "slow-1", command: "wait", message: { ...newMessage("wait", { rawRequest: { ms } }), aggregateMeta: { id: "1" } } });
      void reply.then((message) => (settled = message));
      return { reply, settled: () => settled };
    };
    return { instance, send };
  };

  it("a command queued behind another gets its own full deadline, counted from when it starts", async () => {
    const { instance, send } = instanceAndSend();
    const first = send(30);
    const hanging = send(-1);
    await vi.advanceTimersByTimeAsync(30);
    expect(first.settled()?.response).toEqual({ status: "created", id: "1", version: 0 });
    // 50 ms after the first began, the watch rings: the second has run only 20 ms of its 50.
    await vi.advanceTimersByTimeAsync(25);
    expect(hanging.settled()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(30);
    expect(hanging.settled()?.response).toMatchObject({ status: "service_timeout" });
    // The queue moved on, and the late decision will not be stored.
    const next = send(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(next.settled()?.response).toEqual({ status: "ok", version: 1 });
    expect(instance.stats.version).toBe(1);
  });

  it("a command that overruns its deadline emits aggregate_commit_timeout with the deadline, the aggregate and the command", async () => {
    const events: TelemetryEvent[] = [];
    const { send } = instanceAndSend(new Telemetry([(event) => events.push(event)]));
    const hanging = send(-1);
    await vi.advanceTimersByTimeAsync(60);
    expect(hanging.settled()?.response).toMatchObject({ status: "service_timeout" });
    expect(events.filter((event) => event.name === "aggregate_commit_timeout")).toEqual([
      { name: "aggregate_commit_timeout", measurements: { timeoutAfter: 50 }, metadata: { aggregate: "slow", message: "wait" } },
    ]);
  });

  it("no timer is left once the instance is idle", async () => {
    const { send } = instanceAndSend();
    const quick = send(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(quick.settled()?.response).toEqual({ status: "created", id: "1", version: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });
});
