import { describe, expect, it } from "vitest";
import { MAX_SCHEDULE_AHEAD_MS, MAX_SCHEDULE_BEHIND_MS, parseDateTime, parseSchedule } from "../../../src/core/scheduling/schedule.js";

const NOW = Date.parse("2027-06-15T12:00:00Z");

describe("parseDateTime (RFC 3339, dates that exist)", () => {
  it("reads date-times with Z or an offset, with or without a fraction of a second", () => {
    expect(parseDateTime("2027-06-15T12:00:00Z")).toBe(NOW);
    expect(parseDateTime("2027-06-15T14:30:00+02:30")).toBe(NOW);
    expect(parseDateTime("2027-06-15T07:00:00-05:00")).toBe(NOW);
    expect(parseDateTime("2027-06-15T12:00:00.5Z")).toBe(NOW + 500);
    expect(parseDateTime("2027-06-15T12:00:00.123456789Z")).toBe(NOW + 123);
    expect(parseDateTime("2028-02-29T00:00:00Z")).toBe(Date.UTC(2028, 1, 29));
    expect(parseDateTime("2000-02-29T00:00:00Z")).toBe(Date.UTC(2000, 1, 29));
  });

  it("refuses dates that do not exist rather than rolling them over", () => {
    for (const text of [
      "2027-02-29T00:00:00Z",
      "2100-02-29T00:00:00Z",
      "2027-02-31T00:00:00Z",
      "2027-04-31T00:00:00Z",
      "2027-13-01T00:00:00Z",
      "2027-00-10T00:00:00Z",
      "2027-01-00T00:00:00Z",
      "2027-01-01T24:00:00Z",
      "2027-01-01T23:60:00Z",
      "2027-01-01T23:59:60Z",
      "2027-01-01T00:00:00+24:00",
      "2027-01-01T00:00:00+01:60",
    ]) {
      expect(parseDateTime(text), text).toMatch(/does not exist/);
    }
  });

  it("refuses what is not an RFC 3339 date-time with a time zone", () => {
    for (const text of ["2027-01-01", "2027-01-01T10:00Z", "2027-01-01T10:00:00", "2027-01-01 10:00:00Z", "2027-1-01T10:00:00Z", "2027-01-01t10:00:00z", "+012027-01-01T00:00:00Z", " 2027-01-01T00:00:00Z", "2027-01-01T00:00:00.Z", "2027-01-01T00:00:00.1234567890Z"]) {
      expect(parseDateTime(text), text).toMatch(/RFC 3339/);
    }
  });
});

describe("parseSchedule", () => {
  it("accepts a date within the window: a day behind (delivered as late) to a year ahead", () => {
    expect(parseSchedule({ at: new Date(NOW - MAX_SCHEDULE_BEHIND_MS).toISOString() }, NOW)).toEqual({ dueAt: NOW - MAX_SCHEDULE_BEHIND_MS, recurrence: null });
    expect(parseSchedule({ at: new Date(NOW + MAX_SCHEDULE_AHEAD_MS).toISOString() }, NOW)).toEqual({ dueAt: NOW + MAX_SCHEDULE_AHEAD_MS, recurrence: null });
  });

  it("refuses a date outside the window, however far", () => {
    expect(parseSchedule({ at: new Date(NOW - MAX_SCHEDULE_BEHIND_MS - 1).toISOString() }, NOW)).toMatch(/24 hours in the past/);
    expect(parseSchedule({ at: "1970-01-01T00:00:00Z" }, NOW)).toMatch(/24 hours in the past/);
    expect(parseSchedule({ at: "0000-01-01T00:00:00Z" }, NOW)).toMatch(/24 hours in the past/);
    expect(parseSchedule({ at: new Date(NOW + MAX_SCHEDULE_AHEAD_MS + 1).toISOString() }, NOW)).toMatch(/one year ahead/);
    expect(parseSchedule({ at: "9999-12-31T23:59:59Z" }, NOW)).toMatch(/one year ahead/);
  });

  it("refuses delays and intervals that are not whole, finite and within a year", () => {
    for (const inMs of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_SCHEDULE_AHEAD_MS + 1]) {
      expect(typeof parseSchedule({ inMs }, NOW), String(inMs)).toBe("string");
    }
    for (const everyMs of [0, -60_000, 60_000.5, Number.NaN, MAX_SCHEDULE_AHEAD_MS + 1]) {
      expect(typeof parseSchedule({ everyMs }, NOW), String(everyMs)).toBe("string");
    }
  });
});
