import { describe, expect, it } from "vitest";
import { Aggregate, MemoryAggregates, newMessage, silentLogger } from "../../../src/core/index.js";

type Counter = { n: number };
type Counted = { type: "Counted"; data: { by: number } };

// "open" creates the stream; "count" needs it to exist, so on a made-up name it is refused.
const counter = new Aggregate<Counter, Counted>({
  stream: "counter",
  initialState: () => ({ n: 0 }),
  apply: (state, event) => ({ n: state.n + event.data.by }),
})
  .command("open", { creates: "if-missing" }, () => ({ type: "Counted", data: { by: 0 } }))
  .command("count", {}, () => ({ type: "Counted", data: { by: 1 } }));

const run = (aggregates: MemoryAggregates<Counter, Counted>, id: string, command: string) =>
  aggregates.execute({}, { streamName: `counter-${id}`, command, message: newMessage(command, { id: `${command}-${id}-${Math.random()}` }) });

describe("MemoryAggregates keeps in memory only the streams that hold something", () => {
  it("keeps every written stream, with its history", async () => {
    const aggregates = new MemoryAggregates(counter, { logger: silentLogger });
    for (const id of ["a", "b", "c"]) await run(aggregates, id, "open");
    await run(aggregates, "a", "count");
    expect(aggregates.streamCount).toBe(3);
    expect((await aggregates.readStream({}, "counter-a", { from: 0, limit: 10 })).version).toBe(1);
  });

  it("leaves nothing behind for commands refused on made-up names, nor for reads and deletes of them", async () => {
    const aggregates = new MemoryAggregates(counter, { logger: silentLogger });
    for (let i = 0; i < 50; i += 1) {
      const reply = await run(aggregates, `ghost-${i}`, "count");
      expect(reply.response).toMatchObject({ status: "error", reason: "not_found" });
      expect((await aggregates.readStream({}, `counter-read-${i}`, { from: 0, limit: 1 })).status).toBe("missing");
      expect((await aggregates.deleteStream({}, `counter-del-${i}`, { mode: "hard" })).status).toBe("error");
    }
    expect(aggregates.streamCount).toBe(0);
  });

  it("forgets a hard-deleted stream, keeps a soft-deleted one, and a deleted name can be written again", async () => {
    const aggregates = new MemoryAggregates(counter, { logger: silentLogger });
    await run(aggregates, "hard", "open");
    await run(aggregates, "soft", "open");
    expect(await aggregates.deleteStream({}, "counter-hard", { mode: "hard" })).toEqual({ status: "ok" });
    expect(await aggregates.deleteStream({}, "counter-soft", { mode: "soft" })).toEqual({ status: "ok" });
    expect(aggregates.streamCount).toBe(1);
    expect((await aggregates.readStream({}, "counter-soft", { from: 0, limit: 10 })).status).toBe("deleted");

    expect((await run(aggregates, "hard", "open")).response).toMatchObject({ status: "created" });
    expect((await aggregates.readStream({}, "counter-hard", { from: 0, limit: 10 })).version).toBe(0);
    expect(aggregates.streamCount).toBe(2);
  });

  it("a command queued behind a hard delete keeps the stream it writes", async () => {
    const aggregates = new MemoryAggregates(counter, { logger: silentLogger });
    await run(aggregates, "x", "open");
    const [deleted, reopened] = await Promise.all([aggregates.deleteStream({}, "counter-x", { mode: "hard" }), run(aggregates, "x", "open")]);
    expect(deleted).toEqual({ status: "ok" });
    expect(reopened.response).toMatchObject({ status: "created" });
    expect(aggregates.streamCount).toBe(1);
    expect((await aggregates.readStream({}, "counter-x", { from: 0, limit: 10 })).events).toHaveLength(1);
  });
});
