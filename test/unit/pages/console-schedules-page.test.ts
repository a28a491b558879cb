import { describe, expect, it } from "vitest";
import { schedulesPage, type SchedulesView } from "../../../src/pages/console/console-pages.js";

const view = (enabled: boolean): SchedulesView => ({
  enabled,
  key: "",
  schedules: null,
  cancelled: null,
  problem: null,
  now: Date.parse("2030-01-01T00:00:00Z"),
  followUps: { streams: 3, followUps: [], unread: 0 },
});

describe("the console's schedules page", () => {
  it("points at the key form only when there is one: with a scheduler, not without", async () => {
    const without = String(await schedulesPage("", view(false)));
    expect(without).toContain("No scheduler is configured");
    expect(without).not.toContain("give the key above");
    expect(without).not.toContain('name="key"');
    const withScheduler = String(await schedulesPage("", view(true)));
    expect(withScheduler).toContain('name="key"');
    expect(withScheduler).toContain("give the key above");
  });
});
