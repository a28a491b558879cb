import { describe, expect, it } from "vitest";
import { renamed, type Upcasters } from "../../../src/core/index.js";
import { currentVersion, upcast } from "../../../src/core/aggregates/upcasting.js";

// The history of a made-up event: Paid v1 { cents } → v2 { amount, currency } → renamed to
// MoneyPaid v1 { amount, currency } → MoneyPaid v2 { amount, currency, method }.
const upcasters: Upcasters = {
  Paid: [
    (data) => ({ amount: (data as { cents: number }).cents / 100, currency: "EUR" }),
    (data) => renamed("MoneyPaid", data),
  ],
  MoneyPaid: [(data) => ({ ...(data as object), method: "card" })],
};

describe("upcasting stored events to today's shapes", () => {
  it("applies every step from the stored version on, in order, through a rename to the new type's later steps", () => {
    expect(upcast(upcasters, { type: "Paid", data: { cents: 250 }, schemaVersion: 1 })).toEqual({
      type: "MoneyPaid",
      data: { amount: 2.5, currency: "EUR", method: "card" },
      schemaVersion: 2,
    });
    // Stored at v2 of the old type: only the rename and what follows it.
    expect(upcast(upcasters, { type: "Paid", data: { amount: 3, currency: "USD" }, schemaVersion: 2 })).toEqual({
      type: "MoneyPaid",
      data: { amount: 3, currency: "USD", method: "card" },
      schemaVersion: 2,
    });
    expect(currentVersion(upcasters, "MoneyPaid")).toBe(2);
  });

  it("gives back the very same object for an event already in today's shape, or of a type without upcasters", () => {
    const current = { type: "MoneyPaid", data: { amount: 1, currency: "EUR", method: "cash" }, schemaVersion: 2 };
    expect(upcast(upcasters, current)).toBe(current);
    const other = { type: "Opened", data: {}, schemaVersion: 1 };
    expect(upcast(upcasters, other)).toBe(other);
  });

  it("a stored version of 0 or below is read as the first shape", () => {
    expect(upcast(upcasters, { type: "Paid", data: { cents: 100 }, schemaVersion: 0 })).toMatchObject({ type: "MoneyPaid", data: { amount: 1 } });
  });

  it("renames in a circle end after a bounded number of steps instead of hanging a load", () => {
    const circle: Upcasters = { A: [(data) => renamed("B", data)], B: [(data) => renamed("A", data)] };
    const result = upcast(circle, { type: "A", data: { n: 1 }, schemaVersion: 1 });
    expect(["A", "B"]).toContain(result.type);
    expect(result.data).toEqual({ n: 1 });
  });
});
