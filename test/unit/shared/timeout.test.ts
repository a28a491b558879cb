import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
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

// On Node's fake timers: `vi.getTimerCount()` sees every runtime timer pending, so a timer left
// behind (a Durable Object kept in memory, and billed) is seen, and time moves only when told.
describe("SharedDeadlines", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("watches many deadlines on one timer, and leaves none pending when the last is cancelled", () => {
    const deadlines = new SharedDeadlines();
    const expired: string[] = [];
    const first = deadlines.add(5_000, () => expired.push("first"));
    const second = deadlines.add(5_000, () => expired.push("second"));
    expect(vi.getTimerCount()).toBe(1);
    deadlines.cancel(first);
    expect(vi.getTimerCount()).toBe(1);
    deadlines.cancel(second);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual([]);
  });

  it("cancelling one deadline leaves the others to expire at their time", () => {
    const deadlines = new SharedDeadlines();
    const expired: string[] = [];
    const fast = deadlines.add(100, () => expired.push("fast"));
    deadlines.add(200, () => expired.push("slow"));
    deadlines.cancel(fast);
    vi.advanceTimersByTime(199);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(["slow"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a shorter deadline added after a longer one expires first; each expires once, at its time", () => {
    const deadlines = new SharedDeadlines();
    const expired: string[] = [];
    deadlines.add(300, () => expired.push("long"));
    const short = deadlines.add(10, () => expired.push("short"));
    vi.advanceTimersByTime(10);
    expect(expired).toEqual(["short"]);
    // Cancelling after it expired changes nothing.
    deadlines.cancel(short);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(289);
    expect(expired).toEqual(["short"]);
    vi.advanceTimersByTime(1_000);
    expect(expired).toEqual(["short", "long"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a deadline added while one expires is watched; one cancelled while another expires is not run", () => {
    const deadlines = new SharedDeadlines();
    const expired: string[] = [];
    const later = deadlines.add(50, () => expired.push("cancelled"));
    deadlines.add(50, () => expired.push("other")); // due with `first`, after it
    deadlines.add(10, () => {
      expired.push("first");
      deadlines.cancel(later);
      deadlines.add(20, () => expired.push("added"));
    });
    vi.advanceTimersByTime(10);
    vi.advanceTimersByTime(20);
    expect(expired).toEqual(["first", "added"]);
    vi.advanceTimersByTime(20);
    expect(expired).toEqual(["first", "added", "other"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("one expire that throws does not keep the others due with it from expiring", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date", "queueMicrotask"] });
    const deadlines = new SharedDeadlines();
    const expired: string[] = [];
    deadlines.add(10, () => {
      throw new Error("broken expire");
    });
    deadlines.add(10, () => expired.push("second"));
    // The throw is reported as a timer's would be (a microtask that throws), not swallowed…
    expect(() => vi.advanceTimersByTime(10)).toThrow("broken expire");
    // …and the deadline due with it expired all the same.
    expect(expired).toEqual(["second"]);
  });

  it("a fractional delay expires on its whole millisecond, with one timer", () => {
    const deadlines = new SharedDeadlines();
    let expired = 0;
    deadlines.add(0.3, () => (expired += 1));
    vi.advanceTimersByTime(1);
    expect(expired).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});
