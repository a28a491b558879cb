import { describe, expect, it } from "vitest";
import { isoTime } from "../../../src/core/shared/iso-time.js";

describe("isoTime: a time's ISO 8601 text, as toISOString writes it", () => {
  it("writes every time of a day exactly as toISOString, across midnight and back again", () => {
    const midnight = Date.UTC(2026, 11, 7);
    const times = [midnight - 1, midnight, midnight + 1, midnight + 9, midnight + 10, midnight + 99, midnight + 100, midnight + 999, midnight + 1000];
    for (let ms = midnight - 3_600_000; ms < midnight + 90_000_000; ms += 9973) times.push(ms);
    times.push(midnight - 1, midnight + 86_399_999, midnight + 86_400_000, midnight);
    for (const ms of times) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });

  it("agrees with toISOString over centuries, before 1970, past year 9999, and for fractions of a millisecond", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647);
    const times = [0, -1, -86_400_000, -86_400_001, 253_402_300_799_999, 253_402_300_800_000, 8.64e15, -8.64e15, 1.5, -1.5, 1_765_000_000_000.9];
    for (let i = 0; i < 5000; i += 1) times.push(Math.round((random() - 0.5) * 2 * 8.64e15));
    for (let i = 0; i < 5000; i += 1) times.push(Date.UTC(2026, 0, 1) + random() * 3e10);
    for (const ms of times) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it("throws for what is not a time, as toISOString does, and stays right afterwards", () => {
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
    expect(() => isoTime(8.64e15 + 1)).toThrow(RangeError);
    const ms = Date.UTC(2030, 5, 1, 12, 34, 56, 789);
    expect(isoTime(ms)).toBe("2030-06-01T12:34:56.789Z");
    expect(isoTime(ms + 1)).toBe("2030-06-01T12:34:56.790Z");
  });

  it("stamps now by default", () => {
    const before = Date.now();
    const stamped = Date.parse(isoTime());
    expect(stamped).toBeGreaterThanOrEqual(before);
    expect(stamped).toBeLessThanOrEqual(Date.now());
  });
});
