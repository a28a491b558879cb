import { describe, expect, it } from "vitest";
import { MemoryProcesses, ok, silentLogger, type ProcessDefinition } from "../../../src/core/index.js";

/** A process that notes each step it runs, and sleeps between two of them. */
function napper(ran: string[]): ProcessDefinition {
  return {
    name: "napper",
    identity: { user: "napper" },
    async run(_start, context) {
      await context.step("before", async () => (ran.push("before"), "done"));
      await context.sleep("nap", 60_000);
      await context.step("after", async () => (ran.push("after"), "done"));
      return "woke";
    },
  };
}

describe("a process's sleep (in memory, as on Workflows)", () => {
  it("waits as long as it says, once: a rerun after it replays the completed sleep instead of sleeping again", async () => {
    const ran: string[] = [];
    const waited: number[] = [];
    const processes = new MemoryProcesses(napper(ran), {
      dispatch: async (message) => ok(message),
      wait: async (ms) => void waited.push(ms),
      logger: silentLogger,
    });
    expect(await processes.start("nap-1", { input: {}, trigger: { stream: "s", streamName: "s-1", version: 0, type: "Started", messageId: "m", correlationId: "m" } })).toBe("started");
    await processes.settled();
    expect(processes.status("nap-1")).toEqual({ status: "complete", output: "woke" });
    expect(waited).toEqual([60_000]);
    expect(ran).toEqual(["before", "after"]);

    expect(await processes.rerun("nap-1")).toEqual({ status: "complete", output: "woke" });
    expect(waited).toEqual([60_000]);
    expect(ran).toEqual(["before", "after"]);
  });
});
