// Recurring schedules in a time zone, across daylight saving changes, and what they do about the
// runs they missed while nothing ran — on fixed clocks.
import { describe, expect, it } from "vitest";
import { newMessage, ok, silentLogger, type MissedRuns, type ScheduleSpec } from "../../../src/core/index.js";
import { MemoryScheduleStore } from "../../../src/core/scheduling/memory-schedule-store.js";
import { dateTimeIn, missedRun, nextOccurrence, parseSchedule, type Recurrence } from "../../../src/core/scheduling/schedule.js";
import { SchedulerRunner } from "../../../src/core/scheduling/scheduler.js";

const at = (text: string) => Date.parse(text);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The runs of `recurrence` from `from` (exclusive) to `to` (inclusive), as UTC ISO strings. */
function runs(recurrence: Recurrence, from: string, to: string): string[] {
  const found: string[] = [];
  for (let next = nextOccurrence(recurrence, at(from)); next !== null && next <= at(to); next = nextOccurrence(recurrence, next)) {
    found.push(new Date(next).toISOString());
  }
  return found;
}

describe("a daily 02:30 run in Europe/Berlin", () => {
  const daily: Recurrence = { cron: "30 2 * * *", timeZone: "Europe/Berlin" };

  it("runs once on the spring-forward day, at the first valid time after the gap (02:30 does not exist)", () => {
    // 2026-03-29: clocks go from 02:00 CET to 03:00 CEST.
    expect(runs(daily, "2026-03-27T12:00:00Z", "2026-03-31T12:00:00Z")).toEqual([
      "2026-03-28T01:30:00.000Z", // 02:30 CET
      "2026-03-29T01:00:00.000Z", // 03:00 CEST, the first minute after the gap
      "2026-03-30T00:30:00.000Z", // 02:30 CEST
      "2026-03-31T00:30:00.000Z",
    ]);
  });

  it("runs once on the fall-back day, at the first of the two 02:30s", () => {
    // 2026-10-25: clocks go from 03:00 CEST back to 02:00 CET; 02:30 comes twice.
    expect(runs(daily, "2026-10-23T12:00:00Z", "2026-10-27T12:00:00Z")).toEqual([
      "2026-10-24T00:30:00.000Z", // 02:30 CEST
      "2026-10-25T00:30:00.000Z", // the first 02:30 (CEST); not again at 01:30Z (CET)
      "2026-10-26T01:30:00.000Z", // 02:30 CET
      "2026-10-27T01:30:00.000Z",
    ]);
  });

  it("without a time zone, the same expression runs at 02:30 UTC every day", () => {
    expect(runs({ cron: "30 2 * * *" }, "2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z")).toEqual(["2026-03-29T02:30:00.000Z", "2026-03-30T02:30:00.000Z"]);
  });
});

describe("when a run is due, in its own time zone", () => {
  it("is said in local time with the offset of that day", () => {
    expect(dateTimeIn(at("2026-03-29T01:00:00Z"), "Europe/Berlin")).toBe("2026-03-29T03:00:00.000+02:00");
    expect(dateTimeIn(at("2026-12-07T08:00:00Z"), "Europe/Berlin")).toBe("2026-12-07T09:00:00.000+01:00");
    expect(dateTimeIn(at("2026-12-07T08:00:00Z"), "America/New_York")).toBe("2026-12-07T03:00:00.000-05:00");
    expect(dateTimeIn(at("2026-12-07T08:00:00Z"), "Asia/Kolkata")).toBe("2026-12-07T13:30:00.000+05:30");
    expect(dateTimeIn(at("2026-12-07T08:00:00Z"), undefined)).toBe("2026-12-07T08:00:00.000Z");
    expect(dateTimeIn(at("2026-12-07T08:00:00Z"), "Europe/London")).toBe("2026-12-07T08:00:00.000Z");
  });

  it("is the same instant as its UTC time", () => {
    expect(Date.parse(dateTimeIn(at("2026-10-25T00:30:00Z"), "Europe/Berlin"))).toBe(at("2026-10-25T00:30:00Z"));
    expect(Date.parse(dateTimeIn(at("2026-10-25T01:30:00Z"), "Europe/Berlin"))).toBe(at("2026-10-25T01:30:00Z"));
  });
});

describe("parseSchedule with a time zone and a missed-run policy", () => {
  const now = at("2026-12-06T12:00:00Z");

  it("takes an IANA time zone for cron, and its first run is in that zone", () => {
    expect(parseSchedule({ cron: "0 9 * * *", timeZone: "Europe/Berlin", missed: "skip" }, now)).toEqual({
      dueAt: at("2026-12-07T08:00:00Z"),
      recurrence: { cron: "0 9 * * *", timeZone: "Europe/Berlin", missed: "skip" },
    });
    expect(parseSchedule({ everyMs: 60_000, missed: { each: 3 } }, now)).toEqual({ dueAt: now + 60_000, recurrence: { everyMs: 60_000, missed: { each: 3 } } });
  });

  it("refuses a zone the runtime does not know, a zone without cron, and a policy that is not one", () => {
    expect(parseSchedule({ cron: "0 9 * * *", timeZone: "Europe/Atlantis" }, now)).toMatch(/^timeZone Europe\/Atlantis is not a time zone/);
    expect(parseSchedule({ cron: "0 9 * * *", timeZone: "" }, now)).toMatch(/^timeZone must be an IANA time zone name/);
    expect(parseSchedule({ everyMs: 60_000, timeZone: "Europe/Berlin" } as never, now)).toBe("timeZone goes with cron only");
    for (const missed of ["all", { each: 0 }, { each: 101 }, { each: 1.5 }, { each: 2, more: 1 }, null]) {
      expect(parseSchedule({ cron: "0 9 * * *", missed } as never, now)).toMatch(/^missed must be "skip", "once" or \{ "each": n \}/);
    }
  });
});

describe("the runs missed while nothing ran", () => {
  // A daily 09:00 (Berlin) run last due on December 1st; the scheduler wakes on the 5th at 12:00:
  // the runs of the 1st to the 5th were missed.
  const daily = (missed: Recurrence["missed"]): Recurrence => ({ cron: "0 9 * * *", timeZone: "Europe/Berlin", ...(missed === undefined ? {} : { missed }) });
  const first = at("2026-12-01T08:00:00Z");
  const now = at("2026-12-05T11:00:00Z");
  const day = (n: number) => at(`2026-12-0${n}T08:00:00Z`);

  it("skip: none of them runs; the schedule goes on at its next run after now", () => {
    expect(missedRun(daily("skip"), first, now)).toEqual({ deliver: false, next: day(6) });
  });

  it("once (the default): the most recent one stands for them all", () => {
    for (const policy of [daily("once"), daily(undefined)]) {
      expect(missedRun(policy, first, now)).toEqual({ deliver: false, next: day(5) });
      expect(missedRun(policy, day(5), now)).toEqual({ deliver: true, next: day(6) });
    }
  });

  it("each up to n: the n most recent, oldest first, then the next run after now", () => {
    const each3 = daily({ each: 3 });
    expect(missedRun(each3, first, now)).toEqual({ deliver: false, next: day(3) });
    expect(missedRun(each3, day(3), now)).toEqual({ deliver: true, next: day(4) });
    expect(missedRun(each3, day(4), now)).toEqual({ deliver: true, next: day(5) });
    expect(missedRun(each3, day(5), now)).toEqual({ deliver: true, next: day(6) });
    // More allowed than were missed: every one of them.
    expect(missedRun(daily({ each: 10 }), first, now)).toEqual({ deliver: true, next: day(2) });
  });

  it("a schedule every hour counts its missed runs from its own times", () => {
    const hourly: Recurrence = { everyMs: 3_600_000, missed: { each: 2 } };
    const due = at("2026-12-05T00:15:00Z");
    expect(iso(missedRun(hourly, due, at("2026-12-05T05:00:00Z")).next)).toBe("2026-12-05T03:15:00.000Z");
    expect(missedRun(hourly, at("2026-12-05T03:15:00Z"), at("2026-12-05T05:00:00Z"))).toEqual({ deliver: true, next: at("2026-12-05T04:15:00Z") });
    expect(iso(missedRun({ everyMs: 3_600_000, missed: "skip" }, due, at("2026-12-05T05:00:00Z")).next)).toBe("2026-12-05T06:00:00.000Z");
  });
});

/**
 * A runner on a manual clock with one recurring schedule of ada's, whose service fails its first
 * `failures` deliveries; `delivered` holds each delivery's `dispatchAt`.
 */
async function recurring(spec: ScheduleSpec, startAt: string, failures = 0) {
  const clock = { now: at(startAt) };
  const delivered: string[] = [];
  let failing = failures;
  const runner = new SchedulerRunner(new MemoryScheduleStore(), {
    now: () => clock.now,
    logger: silentLogger,
    reidentify: (principal) => ({ user: principal }),
    dispatch: async (message) => {
      delivered.push(String(message.assigns["dispatchAt"]));
      if (failing > 0) {
        failing -= 1;
        throw new Error("the service is down");
      }
      return ok(message);
    },
  });
  const message = newMessage("report", { id: "recurring", assigns: { identity: { user: "ada" }, principal: "ada" } });
  expect((await runner.schedule({ key: "k", message, spec })).status).toBe("ok");
  /** Moves the clock to `to` (or on by `ms`) and wakes the runner `times` times. */
  const wake = async (to: string | number, times = 1) => {
    clock.now = typeof to === "string" ? at(to) : clock.now + to;
    for (let i = 0; i < times; i += 1) await runner.deliverDue();
  };
  const next = async () => (await runner.list())[0]?.dispatchAt;
  return { delivered, wake, next };
}

describe("a scheduler that was down for days", () => {
  /** A daily 09:00 (Berlin) schedule; nothing ran from before its first run (Dec 1st) until Dec 5th, 12:00. */
  async function afterOutage(missed: MissedRuns | undefined) {
    const daily = await recurring({ cron: "0 9 * * *", timeZone: "Europe/Berlin", ...(missed === undefined ? {} : { missed }) }, "2026-11-30T12:00:00Z");
    await daily.wake("2026-12-05T11:00:00Z", 10);
    return { delivered: daily.delivered, next: await daily.next() };
  }

  it("skip: delivers nothing for the outage and is next due on the 6th, in local time", async () => {
    expect(await afterOutage("skip")).toEqual({ delivered: [], next: "2026-12-06T09:00:00.000+01:00" });
  });

  it("once: delivers one run, the 5th's, once", async () => {
    expect(await afterOutage("once")).toEqual({ delivered: ["2026-12-05T09:00:00.000+01:00"], next: "2026-12-06T09:00:00.000+01:00" });
    expect(await afterOutage(undefined)).toEqual({ delivered: ["2026-12-05T09:00:00.000+01:00"], next: "2026-12-06T09:00:00.000+01:00" });
  });

  it("each up to 2: delivers the 4th's and the 5th's, each once", async () => {
    expect(await afterOutage({ each: 2 })).toEqual({
      delivered: ["2026-12-04T09:00:00.000+01:00", "2026-12-05T09:00:00.000+01:00"],
      next: "2026-12-06T09:00:00.000+01:00",
    });
  });

  it("each up to 10: delivers every missed run, the 1st's to the 5th's, each once", async () => {
    const { delivered } = await afterOutage({ each: 10 });
    expect(delivered).toEqual([1, 2, 3, 4, 5].map((d) => `2026-12-0${d}T09:00:00.000+01:00`));
  });
});

describe("a retry is not a missed run", () => {
  it("a run whose first delivery failed is delivered again after the lateness threshold, even when missed runs are skipped", async () => {
    const hourly = await recurring({ cron: "0 * * * *", missed: "skip" }, "2026-12-05T08:59:00Z", 1);
    await hourly.wake("2026-12-05T09:00:00Z");
    // The retry comes two minutes later: late, but a retry of a run that did start on time.
    await hourly.wake("2026-12-05T09:02:00Z");
    expect(hourly.delivered).toEqual(["2026-12-05T09:00:00.000Z", "2026-12-05T09:00:00.000Z"]);
    expect(await hourly.next()).toBe("2026-12-05T10:00:00.000Z");
  });
});

describe("catching up, with a failure on the way", () => {
  it("each up to 3: a catch-up run that fails is retried, and the runs after it are still delivered, each once", async () => {
    const daily = await recurring({ cron: "0 9 * * *", timeZone: "Europe/Berlin", missed: { each: 3 } }, "2026-11-30T12:00:00Z", 1);
    await daily.wake("2026-12-05T11:00:00Z", 2);
    // The failed run's retry is due a moment later.
    await daily.wake(5_000, 5);
    expect(daily.delivered).toEqual([
      "2026-12-03T09:00:00.000+01:00",
      "2026-12-03T09:00:00.000+01:00",
      "2026-12-04T09:00:00.000+01:00",
      "2026-12-05T09:00:00.000+01:00",
    ]);
    expect(await daily.next()).toBe("2026-12-06T09:00:00.000+01:00");
  });
});
