// Where the read side reads events back from (gaps, catch-up, rebuild, the sweep): an aggregate's
// router, as the gateway serves it, or its client — both read the same stream.
import { describe, expect, it } from "vitest";
import { Aggregate, aggregateRouter, aggregateSource, Dispatcher, MemoryAggregates, newMessage, silentLogger } from "../../../src/core/index.js";

type Tick = { type: "Ticked"; data: { n: number } };
const clock = new Aggregate<{ n: number }, Tick>({
  stream: "clock",
  initialState: () => ({ n: 0 }),
  apply: (state) => ({ n: state.n + 1 }),
}).command("tick", { creates: "if-missing" }, (_request, state) => ({ type: "Ticked", data: { n: state.n + 1 } }));

async function threeTicks() {
  const clocks = new MemoryAggregates(clock, { logger: silentLogger });
  const router = aggregateRouter(clock, clocks, { authorize: () => "ok" });
  const dispatcher = new Dispatcher({ services: [router], env: {}, logger: silentLogger });
  for (let i = 0; i < 3; i++) await dispatcher.dispatch(newMessage("tick", { rawRequest: { id: "c-1" } }));
  return { clocks, router };
}

describe("the read side's event source", () => {
  it("reads a stream back through the aggregate's router given in a list", async () => {
    const { router } = await threeTicks();
    const events = await aggregateSource([router], {}).read("clock", "clock-c-1", 1, Infinity);
    expect(events.map((event) => [event.streamName, event.aggregateId, event.version, event.data])).toEqual([
      ["clock-c-1", "c-1", 1, { n: 2 }],
      ["clock-c-1", "c-1", 2, { n: 3 }],
    ]);
  });

  it("reads the same through the router or the client given by aggregate type", async () => {
    const { clocks, router } = await threeTicks();
    const byRouter = await aggregateSource({ clock: router }, {}).read("clock", "clock-c-1", 0, 1);
    const byClient = await aggregateSource({ clock: clocks }, {}).read("clock", "clock-c-1", 0, 1);
    expect(byRouter.map((event) => event.version)).toEqual([0, 1]);
    expect(byRouter).toEqual(byClient);
  });

  it("names what to give when an aggregate type has no source", async () => {
    const { router } = await threeTicks();
    await expect(aggregateSource([router], {}).read("order", "order-1", 0, Infinity)).rejects.toThrow(/no event source for aggregate type order: give readSide's sources its router/);
  });
});
