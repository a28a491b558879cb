import { describe, expect, it } from "vitest";
import { withTimeout } from "../../../src/core/shared/timeout.js";

const never = new Promise<string>(() => {});
const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe("withTimeout", () => {
  it("answers the work's result when it comes first, and the timeout's when it does not", async () => {
    expect(await withTimeout(later(1, "work"), 200, () => "late")).toBe("work");
    expect(await withTimeout(never, 5, () => "late")).toBe("late");
  });

  it("passes on the work's rejection, and a rejection after the timeout changes nothing", async () => {
    await expect(withTimeout(Promise.reject(new Error("failed")), 200, () => "late")).rejects.toThrow("failed");
    const rejectedLater = new Promise<string>((_, reject) => setTimeout(() => reject(new Error("too late")), 20));
    expect(await withTimeout(rejectedLater, 1, () => "late")).toBe("late");
    await rejectedLater.catch(() => undefined);
  });

  it("rejects when the timeout's own answer throws, instead of never answering", async () => {
    await expect(
      withTimeout(never, 1, () => {
        throw new Error("could not say why");
      }),
    ).rejects.toThrow("could not say why");
  });
});
