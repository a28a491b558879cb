import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { EVERY_OWNER, newMessage, type Message } from "../../src/core/index.js";
import { durableObjectScheduler } from "../../src/objects/index.js";
import { SCHEDULE_MIGRATIONS } from "../../src/objects/sqlite-schedule-store.js";
import { freshKey, seen } from "../support/test-scheduling.js";

const scheduler = durableObjectScheduler((e: Cloudflare.Env) => e.TEST_SCHEDULER);
const stub = (key: string) => env.TEST_SCHEDULER.get(env.TEST_SCHEDULER.idFromName(key));

// The schedule store's schema as the first release created it (copied from
// src/objects/sqlite-schedule-store.ts at that release), with no version row.
const FIRST_RELEASE_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS schedules (
     id TEXT PRIMARY KEY, key TEXT NOT NULL, service TEXT NOT NULL, due_at INTEGER NOT NULL,
     template TEXT NOT NULL, message TEXT NOT NULL, attempts INTEGER NOT NULL, late INTEGER NOT NULL, recurrence TEXT,
     occurrence INTEGER NOT NULL, public_only INTEGER NOT NULL, owner TEXT NOT NULL, created_at TEXT NOT NULL)`,
  "CREATE INDEX IF NOT EXISTS schedules_by_due ON schedules (due_at, id)",
];

/** A row as the first release stored it: the message in full, the owner the JSON of the identity. */
function firstReleaseRow(storage: DurableObjectStorage, key: string, message: Message, dueAt: number, recurrence: object | null = null) {
  const stored = { ...message, assigns: { ...message.assigns, dispatchAt: new Date(dueAt).toISOString(), dispatchAttempts: 0 } };
  const json = JSON.stringify(stored);
  storage.sql.exec(
    `INSERT INTO schedules (id, key, service, due_at, template, message, attempts, late, recurrence, occurrence, public_only, owner, created_at)
     VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, 0, 0, ?, ?)`,
    message.id,
    key,
    message.serviceName,
    dueAt,
    json,
    json,
    recurrence === null ? null : JSON.stringify(recurrence),
    JSON.stringify(message.assigns["identity"] ?? null),
    new Date().toISOString(),
  );
}

describe("the schedule store's schema upgrade", () => {
  it("a store written by the first release is upgraded in place when its object opens: schedules intact and delivered", async () => {
    const key = freshKey();
    // Owners as the first release kept them: the JSON of the identity, "null" when anonymous.
    const due = newMessage("record", { rawRequest: { n: 1 }, assigns: { identity: { user: "ada" }, principal: "ada" } });
    const later = newMessage("record", { rawRequest: { n: 2 }, assigns: { identity: { user: "bob" } } });
    const tick = newMessage("record", { rawRequest: { n: 3 } });
    // The first release stored a date before 1970 and then failed to arm for it: the key was jammed.
    const jammed = newMessage("record", { rawRequest: { n: 4 } });
    await runInDurableObject(stub(key), async (_instance, state) => {
      for (const statement of FIRST_RELEASE_SCHEMA) state.storage.sql.exec(statement);
      firstReleaseRow(state.storage, key, due, Date.now() - 1000);
      firstReleaseRow(state.storage, key, later, Date.now() + 3_600_000);
      firstReleaseRow(state.storage, key, tick, Date.now() + 60_000, { everyMs: 60_000 });
      firstReleaseRow(state.storage, key, jammed, -86_400_000);
      // The first release kept its alarm on the earliest entry.
      await state.storage.setAlarm(Date.now() - 1000);
    });
    // The object restarts on the old tables, as after a deployment of this code.
    await evictDurableObject(stub(key));

    const listed = await scheduler.list(env, key, EVERY_OWNER);
    expect(listed.map((entry) => [entry.messageId, entry.owner, entry.recurrence])).toEqual([
      [jammed.id, null, null],
      [due.id, "ada", null],
      [tick.id, null, { everyMs: 60_000 }],
      // No principal was recorded: the owner stays what the first release stored.
      [later.id, '{"user":"bob"}', null],
    ]);
    expect((await scheduler.list(env, key, "ada")).map((entry) => entry.messageId)).toEqual([due.id]);
    const version = await runInDurableObject(stub(key), (_instance, state) =>
      state.storage.sql.exec<{ version: number }>("SELECT version FROM x3m_schema_versions WHERE name = 'schedules'").one().version,
    );
    expect(version).toBe(SCHEDULE_MIGRATIONS.length);

    // The key works again: scheduling on it arms the alarm (at once: entries are overdue).
    const fresh = newMessage("record", { rawRequest: { n: 5 } });
    expect(await scheduler.schedule(env, { key, message: fresh, spec: { inMs: 3_600_000 } })).toMatchObject({ status: "ok" });
    await runDurableObjectAlarm(stub(key));
    expect(seen.deliveries.filter((d) => d.id === due.id)).toHaveLength(1);
    expect(seen.deliveries.find((d) => d.id === jammed.id)?.assigns["late"]).toBe(true);
    expect((await scheduler.list(env, key, EVERY_OWNER)).map((entry) => entry.messageId)).toEqual([tick.id, later.id, fresh.id]);
    // Delivered entries took their messages with them.
    const counts = await runInDurableObject(stub(key), (_instance, state) =>
      state.storage.sql.exec<{ entries: number; messages: number }>("SELECT (SELECT COUNT(*) FROM schedules) AS entries, (SELECT COUNT(*) FROM schedule_messages) AS messages").one(),
    );
    expect(counts).toEqual({ entries: 3, messages: 3 });
  });
});
