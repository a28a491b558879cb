import { describe, expect, it } from "vitest";
import { SharedDeadlines } from "../../../src/core/shared/shared-deadlines.js";
import { withTimeout } from "../../../src/core/shared/timeout.js";

const never = new Promise<string>(() => {});
const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

// Each case on a timer of its own and on a shared one (a Durable Object's): the same answers.
describe.each([
  { timers: "a timer per call", deadlines: () => undefined },
  { timers: "shared deadlines", deadlines: () => new SharedDeadlines() },
])("withTimeout on $timers", ({ deadlines }) => {
  it("answers the work's result when it comes first, and the timeout's when it does not", async () => {
    expect(await withTimeout(later(1, "work"), 200, () => "late", deadlines())).toBe("work");
    expect(await withTimeout(never, 5, () => "late", deadlines())).toBe("late");
  });

  it("passes on the work's rejection, and a rejection after the timeout changes nothing", async () => {
    await expect(withTimeout(Promise.reject(new Error("failed")), 200, () => "late", deadlines())).rejects.toThrow("failed");
    const rejectedLater = new Promise<string>((_, reject) => setTimeout(() => reject(new Error("too late")), 20));
    expect(await withTimeout(rejectedLater, 1, () => "late", deadlines())).toBe("late");
    await rejectedLater.catch(() => undefined);
  });

  it("rejects when the timeout's own answer throws, instead of never answering", async () => {
    await expect(
      withTimeout(
        never,
        1,
        () => {
          throw new Error("could not say why");
        },
        deadlines(),
      ),
    ).rejects.toThrow("could not say why");
  });
});

describe("SharedDeadlines", () => {
  it("watches many pieces of work on one timer, and clears it when the last one is done", async () => {
    const deadlines = new SharedDeadlines();
    const answers = [withTimeout(later(1, "a"), 5_000, () => "late", deadlines), withTimeout(later(5, "b"), 5_000, () => "late", deadlines)];
    expect(deadlines.size).toBe(2);
    expect(deadlines.armed).toBe(true);
    expect(await Promise.all(answers)).toEqual(["a", "b"]);
    // No timer left behind: a pending one would keep a Durable Object in memory (and billed).
    expect(deadlines.size).toBe(0);
    expect(deadlines.armed).toBe(false);
  });

  it("expires a short deadline added after a long one at its own time, and the long one still at its", async () => {
    const deadlines = new SharedDeadlines();
    const started = Date.now();
    const long = withTimeout(new Promise<number>(() => {}), 300, () => Date.now() - started, deadlines);
    const short = withTimeout(new Promise<number>(() => {}), 10, () => Date.now() - started, deadlines);
    const shortAfter = await short;
    expect(shortAfter).toBeGreaterThanOrEqual(9);
    expect(shortAfter).toBeLessThan(300);
    expect(deadlines.size).toBe(1);
    expect(deadlines.armed).toBe(true);
    expect(await long).toBeGreaterThanOrEqual(299);
    expect(deadlines.armed).toBe(false);
  });

  it("expires only the deadlines that have passed when it rings, and sets itself for the next", async () => {
    const deadlines = new SharedDeadlines();
    const expired: string[] = [];
    deadlines.add(5, () => expired.push("first"));
    const second = deadlines.add(1_000, () => expired.push("second"));
    await later(30, null);
    expect(expired).toEqual(["first"]);
    expect(deadlines.armed).toBe(true);
    deadlines.cancel(second);
    expect(deadlines.armed).toBe(false);
    expect(deadlines.size).toBe(0);
    expect(expired).toEqual(["first"]);
  });
});
