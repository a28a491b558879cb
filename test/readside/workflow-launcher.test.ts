import { describe, expect, it } from "vitest";
import { workflowLauncher } from "../../src/worker/index.js";

/**
 * A Workflow binding whose one instance is in `status` (or absent): what revive reads, and what
 * it asks of it. The real engine cannot be made to keep an instance queued for ever in a test, as
 * local Workflows do with one created just before `wrangler dev` stops.
 */
function binding(status: InstanceStatus["status"] | null) {
  const asked: string[] = [];
  const instance = {
    id: "i-1",
    status: async () => ({ status: status ?? "unknown" }) as InstanceStatus,
    restart: async () => void asked.push("restart"),
  } as unknown as WorkflowInstance;
  const workflow = {
    get: async () => {
      if (status === null) throw new Error("instance.not_found");
      return instance;
    },
    create: async () => {
      asked.push("create");
      return instance;
    },
  } as unknown as Workflow;
  return { launcher: workflowLauncher(() => workflow)({}), asked };
}

const start = { input: {}, trigger: { stream: "transfer", streamName: "transfer-t", version: 0, type: "TransferRequested", messageId: "m", correlationId: "c" } };

describe("reviving a process instance on Workflows", () => {
  it("restarts an instance still queued when it is overdue (never taken up): nothing of it ran", async () => {
    const { launcher, asked } = binding("queued");
    expect(await launcher.revive("i-1", start)).toBe("restarted");
    expect(asked).toEqual(["restart"]);
  });

  it("restarts an errored, terminated or running one; starts a missing one; leaves a waiting, paused or complete one", async () => {
    for (const [status, expected, asks] of [
      ["errored", "restarted", ["restart"]],
      ["terminated", "restarted", ["restart"]],
      ["running", "restarted", ["restart"]],
      [null, "started", ["create"]],
      ["waiting", "running", []],
      ["paused", "paused", []],
      ["complete", "finished", []],
    ] as const) {
      const { launcher, asked } = binding(status);
      expect(await launcher.revive("i-1", start), String(status)).toBe(expected);
      expect(asked, String(status)).toEqual(asks);
    }
  });
});
