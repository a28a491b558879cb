import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newMessage, silentLogger, type JsonObject, type Message } from "../../src/core/index.js";
import { AggregateInstance } from "../../src/core/aggregates/aggregate-instance.js";
import { newId } from "../../src/core/shared/ids.js";
import { legacyFingerprintOf } from "../../src/core/aggregates/fingerprint.js";
import { ledger } from "../support/test-aggregates.js";
import { SqliteStreamStore, STREAM_MIGRATIONS } from "../../src/objects/sqlite-stream-store.js";
import { meterOf } from "../../src/objects/sql.js";

// The schema of the first release, exactly as it created its tables (no version row).
const FIRST_RELEASE = [
  `CREATE TABLE IF NOT EXISTS events (
     version INTEGER PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,
     message_id TEXT NOT NULL, recorded_at TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS snapshots (version INTEGER PRIMARY KEY, state TEXT NOT NULL, schema INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS stream (
     id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, version INTEGER NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('live', 'deleted')), state TEXT)`,
  `CREATE TABLE IF NOT EXISTS processed_messages (
     message_id TEXT PRIMARY KEY, version INTEGER NOT NULL, fingerprint TEXT NOT NULL, response TEXT NOT NULL,
     recorded_at TEXT NOT NULL)`,
];

const metadata = JSON.stringify({ messageId: "m1", correlationId: "m1", causationId: "m1", service: "deposit" });

/** Appends one deposit to `store`'s stream `name`, as version `version`, from `principal`. */
const appendDeposit = (store: SqliteStreamStore, name: string, version: number, principal = "ada") =>
  store.append({
    streamName: name,
    expectedVersion: version - 1,
    events: [{ type: "Deposited", data: { amount: 1 }, schemaVersion: 1, metadata: JSON.parse(metadata) }],
    newVersion: version,
    principal,
    messageId: `m${version}`,
    fingerprint: "fp",
    response: { status: "ok", version },
  });

describe("the stream store's schema is versioned", () => {
  it("a store written by the first release is upgraded in place: events, snapshots and processed ids intact", async () => {
    const name = `ledger-${newId()}`;
    const stub = env.LEDGER.get(env.LEDGER.idFromName(name));
    await runInDurableObject(stub, async (_object, state) => {
      const sql = state.storage.sql;
      for (const statement of FIRST_RELEASE) sql.exec(statement);
      sql.exec("INSERT INTO events VALUES (0, 'Opened', '{\"owner\":\"ada\"}', ?, 'm0', '2026-01-01T00:00:00.000Z')", metadata);
      sql.exec("INSERT INTO events VALUES (1, 'Deposited', '{\"amount\":5}', ?, 'm1', '2026-01-01T00:00:01.000Z')", metadata);
      sql.exec("INSERT INTO snapshots VALUES (1, '{\"owner\":\"ada\",\"balance\":5}', 1)");
      sql.exec("INSERT INTO stream VALUES (1, ?, 1, 'live', NULL)", name);
      sql.exec("INSERT INTO processed_messages VALUES ('m1', 1, 'fp', '{\"status\":\"ok\",\"version\":1}', '2026-01-01T00:00:01.000Z')");

      // The object starts again with this code.
      const store = new SqliteStreamStore(state.storage);
      store.open();

      expect(await store.streamState()).toEqual({ status: "live", version: 1 });
      expect((await store.readEvents(0, 10)).map((e) => [e.version, e.type, e.data, e.schemaVersion])).toEqual([
        [0, "Opened", { owner: "ada" }, 1],
        [1, "Deposited", { amount: 5 }, 1],
      ]);
      expect(await store.latestSnapshot(1)).toEqual({ version: 1, state: { owner: "ada", balance: 5 }, schema: 1 });
      // Records kept per message id alone become the anonymous caller's: their retries are still recognised.
      expect(await store.processed("", "m1")).toEqual({ fingerprint: "fp", response: { status: "ok", version: 1 } });
      expect(sql.exec("SELECT name, version FROM x3m_schema_versions").toArray()).toEqual([{ name: "stream", version: STREAM_MIGRATIONS.length }]);

      // And it keeps working: the next append is stored in the new shape.
      const appended = await store.append({
        streamName: name,
        expectedVersion: 1,
        events: [{ type: "Deposited", data: { amount: 1 }, schemaVersion: 2, metadata: JSON.parse(metadata) }],
        newVersion: 2,
        principal: "ada",
        messageId: "m1",
        fingerprint: "fp2",
        response: { status: "ok", version: 2 },
      });
      expect(appended).toEqual({ ok: true, version: 2 });
      expect((await store.readEvents(2, 1))[0]?.schemaVersion).toBe(2);

      // A second start finds the latest version and changes nothing.
      const again = new SqliteStreamStore(state.storage);
      again.open();
      expect((await again.readEvents(0, 10)).length).toBe(3);
    });
  });

  it("a store at version 3 keeps its idempotency records through version 4 and after, oldest first, without the two indexes", async () => {
    const name = `ledger-${newId()}`;
    const stub = env.LEDGER.get(env.LEDGER.idFromName(name));
    await runInDurableObject(stub, async (_object, state) => {
      const sql = state.storage.sql;
      // Version 3 as it shipped: per-caller records with an index by time and one by version.
      for (const statement of FIRST_RELEASE.slice(0, 3)) sql.exec(statement);
      sql.exec("ALTER TABLE events ADD COLUMN schema_version INTEGER NOT NULL DEFAULT 1");
      sql.exec(`CREATE TABLE processed_messages (
        principal TEXT NOT NULL, message_id TEXT NOT NULL, version INTEGER NOT NULL, fingerprint TEXT NOT NULL,
        response TEXT NOT NULL, recorded_at TEXT NOT NULL, PRIMARY KEY (principal, message_id)) WITHOUT ROWID`);
      sql.exec("CREATE INDEX processed_messages_by_time ON processed_messages (recorded_at)");
      sql.exec("CREATE INDEX processed_messages_by_version ON processed_messages (version)");
      sql.exec("CREATE TABLE outbox (version INTEGER PRIMARY KEY)");
      sql.exec("CREATE TABLE x3m_schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)");
      sql.exec("INSERT INTO x3m_schema_versions VALUES ('stream', 3)");
      sql.exec("INSERT INTO stream VALUES (1, ?, 2, 'live', NULL)", name);
      // Keys in another order than the versions: the records' order is their versions'.
      for (const [principal, id, version] of [["bob", "a", 2], ["ada", "z", 0], ["ada", "m", 1]] as const) {
        sql.exec("INSERT INTO events VALUES (?, 'Deposited', '{\"amount\":1}', ?, ?, '2026-01-01T00:00:00.000Z', 1)", version, metadata, id);
        sql.exec("INSERT INTO processed_messages VALUES (?, ?, ?, 'fp', '{\"status\":\"ok\"}', '2026-01-01T00:00:00.000Z')", principal, id, version);
      }

      const store = new SqliteStreamStore(state.storage);
      store.open();
      expect(sql.exec("SELECT version FROM x3m_schema_versions WHERE name = 'stream'").one()).toEqual({ version: STREAM_MIGRATIONS.length });
      for (const [principal, id] of [["bob", "a"], ["ada", "z"], ["ada", "m"]] as const) expect(await store.processed(principal, id)).toEqual({ fingerprint: "fp", response: { status: "ok" } });
      // Only the index of the first release's records (version 7), which holds none of these.
      const indexes = sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'processed_messages' AND sql IS NOT NULL").toArray();
      expect(indexes).toEqual([{ name: "processed_messages_legacy" }]);

      // Keeping the newest three of four drops the oldest: version 0, not the first key in order.
      await store.append({
        streamName: name,
        expectedVersion: 2,
        events: [{ type: "Deposited", data: { amount: 1 }, schemaVersion: 1, metadata: JSON.parse(metadata) }],
        newVersion: 3,
        principal: "ada",
        messageId: "n",
        fingerprint: "fp",
        response: { status: "ok" },
        retention: { recordedBefore: "2025-01-01T00:00:00.000Z", keepLast: 3 },
      });
      expect(await store.processed("ada", "z")).toBeNull();
      expect(await store.processed("ada", "m")).not.toBeNull();
      expect(await store.processed("bob", "a")).not.toBeNull();
    });
  });

  it("a store at version 5 keeps what its outbox had not sent: after the upgrade those events, and only those, are still to be sent", async () => {
    for (const [pending, unsent] of [[[2, 3], [2, 3]], [[], []]] as const) {
      const name = `ledger-${newId()}`;
      await runInDurableObject(env.LEDGER.get(env.LEDGER.idFromName(name)), async (_object, state) => {
        // Version 5 as it shipped: an outbox table of versions, nothing about them on the stream
        // row. Written by today's code, then taken back to that shape.
        const written = new SqliteStreamStore(state.storage, { outbox: true });
        written.open();
        for (let version = 0; version <= 3; version += 1) await appendDeposit(written, name, version);
        const sql = state.storage.sql;
        sql.exec("ALTER TABLE stream DROP COLUMN published");
        sql.exec("DROP INDEX processed_messages_legacy");
        sql.exec("CREATE TABLE outbox (version INTEGER PRIMARY KEY)");
        sql.exec("UPDATE x3m_schema_versions SET version = 5 WHERE name = 'stream'");
        for (const version of pending) sql.exec("INSERT INTO outbox VALUES (?)", version);

        const store = new SqliteStreamStore(state.storage, { outbox: true });
        store.open();
        expect((await store.unpublished(10)).events.map((event) => event.version)).toEqual(unsent);
        expect(store.unpublishedCount()).toBe(unsent.length);
        expect(sql.exec("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'outbox'").one()).toEqual({ n: 0 });
      });
    }
  });

  it("the outbox's cursor moves in memory with each send and reaches the stream row with the next commit or saveProgress: after a restart, at most what was sent since is sent again", async () => {
    const name = `ledger-${newId()}`;
    await runInDurableObject(env.LEDGER.get(env.LEDGER.idFromName(name)), async (_object, state) => {
      const store = new SqliteStreamStore(state.storage, { outbox: true });
      store.open();
      const append = (version: number) => appendDeposit(store, name, version);
      const published = () => state.storage.sql.exec<{ published: number }>("SELECT published FROM stream").one().published;
      /** The store as the object's next incarnation would open it. */
      const restarted = () => {
        const next = new SqliteStreamStore(state.storage, { outbox: true });
        next.open();
        return next;
      };
      await append(0);
      await append(1);
      expect((await store.unpublished(10)).events.map((event) => event.version)).toEqual([0, 1]);
      await store.markPublished(1);
      // Sent, as far as this incarnation knows: nothing written for it.
      expect(store.unpublishedCount()).toBe(0);
      expect(published()).toBe(-1);
      // A restart now would send 0 and 1 again.
      expect(restarted().unpublishedCount()).toBe(2);
      // The next commit carries the cursor.
      await append(2);
      expect(published()).toBe(1);
      expect((await store.unpublished(10)).events.map((event) => event.version)).toEqual([2]);
      await store.markPublished(2);
      expect(store.publishedUnsaved()).toBe(true);
      store.saveProgress();
      expect(store.publishedUnsaved()).toBe(false);
      expect(published()).toBe(2);
      expect(restarted().unpublishedCount()).toBe(0);
    });
  });

  it("a retry across the upgrade from the first release is answered from that release's record, and only for its own caller", async () => {
    const name = `ledger-${newId()}`;
    const id = name.slice("ledger-".length);
    const stub = env.LEDGER.get(env.LEDGER.idFromName(name));
    await runInDurableObject(stub, async (_object, state) => {
      const sql = state.storage.sql;
      for (const statement of FIRST_RELEASE) sql.exec(statement);
      // Ada opened the ledger and deposited 5 with message m1, under the first release.
      const request = { amount: 5 };
      const ada = { identity: { user: "ada" }, principal: "ada" };
      const sent = (messageId: string, assigns: JsonObject, raw: JsonObject = request) =>
        ({ ...newMessage("deposit", { id: messageId, rawRequest: raw, assigns }), aggregateMeta: { id } });
      sql.exec("INSERT INTO events VALUES (0, 'Opened', '{\"owner\":\"ada\"}', ?, 'm0', '2026-01-01T00:00:00.000Z')", metadata);
      sql.exec("INSERT INTO events VALUES (1, 'Deposited', '{\"amount\":5}', ?, 'm1', '2026-01-01T00:00:01.000Z')", metadata);
      sql.exec("INSERT INTO stream VALUES (1, ?, 1, 'live', NULL)", name);
      const firstReleaseFingerprint = await legacyFingerprintOf("deposit", sent("m1", ada));
      expect(firstReleaseFingerprint).toMatch(/^[0-9a-f]{64}$/);
      sql.exec("INSERT INTO processed_messages VALUES ('m1', 1, ?, '{\"status\":\"ok\",\"version\":1}', '2026-01-01T00:00:01.000Z')", firstReleaseFingerprint);

      const store = new SqliteStreamStore(state.storage);
      store.open();
      const instance = new AggregateInstance(ledger, store, { streamName: name, logger: silentLogger });
      const deposit = (message: Message) => instance.execute({ streamName: name, command: "deposit", message });

      // Ada's retry of m1 is recognised: answered as the first time, applied once.
      expect((await deposit(sent("m1", ada))).response).toEqual({ status: "ok", version: 1 });
      expect((await store.readEvents(0, 10)).length).toBe(2);
      // Bob's message with the same id is his own: it runs.
      expect((await deposit(sent("m1", { identity: { user: "bob" }, principal: "bob" }))).response).toEqual({ status: "ok", version: 2 });
      // An anonymous caller shares the first release's records (kept per id alone): another request with that id is a reuse.
      expect((await deposit(sent("m1", {}, { amount: 7 }))).response).toMatchObject({ status: "error", reason: "idempotency_key_reused" });
      expect((await store.readEvents(0, 10)).map((event) => event.data)).toEqual([{ owner: "ada" }, { amount: 5 }, { amount: 5 }]);
    });
  });

  it("a start learns whether the first release left records without reading the anonymous caller's records", async () => {
    const name = `ledger-${newId()}`;
    const stub = env.LEDGER.get(env.LEDGER.idFromName(name));
    await runInDurableObject(stub, async (_object, state) => {
      const written = new SqliteStreamStore(state.storage);
      written.open();
      for (let version = 0; version < 300; version += 1) await appendDeposit(written, name, version, "");
      const meter = meterOf(state.storage.sql);
      const before = meter.rowsRead;
      // The object starts again: 300 records of the anonymous caller, none of the first release.
      const restarted = new SqliteStreamStore(state.storage);
      restarted.open();
      expect(meter.rowsRead - before).toBeLessThan(10);
      expect(await restarted.processed("", "m7")).toEqual({ fingerprint: "fp", response: { status: "ok", version: 7 } });
    });
  });

  it("asking an object about a stream that was never written leaves no storage behind", async () => {
    const stub = env.LEDGER.get(env.LEDGER.idFromName(`ledger-${newId()}`));
    await runInDurableObject(stub, async (_object, state) => {
      const store = new SqliteStreamStore(state.storage);
      store.open();
      expect(await store.streamState()).toEqual({ status: "missing", version: -1 });
      expect(await store.processed("ada", "m")).toBeNull();
      expect(await store.readEvents(0, 10)).toEqual([]);
      const tables = state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").toArray();
      expect(tables.filter((t) => !t.name.startsWith("_cf"))).toEqual([]);
    });
  });
});
