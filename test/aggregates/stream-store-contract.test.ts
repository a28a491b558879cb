import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MemoryStreamStore, newId, response, type AppendRequest, type StreamStore } from "../../src/core/index.js";
import { SqliteStreamStore } from "../../src/objects/index.js";

/** Runs `body` with a fresh store of each kind: in memory, and in a real Durable Object's SQLite. */
const adapters: [string, (body: (store: StreamStore) => Promise<void>) => Promise<void>][] = [
  ["MemoryStreamStore", (body) => body(new MemoryStreamStore())],
  [
    "SqliteStreamStore",
    (body) => {
      const stub = env.LEDGER.get(env.LEDGER.idFromName(`contract-${newId()}`));
      return runInDurableObject(stub, async (_instance, state) => {
        const store = new SqliteStreamStore(state.storage);
        store.open();
        await body(store);
      });
    },
  ],
];

const event = (amount: number) => ({
  type: "Deposited",
  data: { amount },
  metadata: { messageId: "m", correlationId: "c", causationId: "p", service: "deposit", tenant: "t" },
});

const append = (overrides: Partial<AppendRequest>): AppendRequest => ({
  streamName: "ledger-1",
  expectedVersion: -1,
  events: [event(1)],
  newVersion: 0,
  messageId: newId(),
  fingerprint: "f",
  response: response.ok(),
  ...overrides,
});

describe.each(adapters)("StreamStore contract: %s", (_name, withStore) => {
  it("a new stream is missing at version -1, with nothing stored", () =>
    withStore(async (store) => {
      expect(await store.streamState()).toEqual({ status: "missing", version: -1 });
      expect(await store.readEvents(0, 10)).toEqual([]);
      expect(await store.latestSnapshot(1)).toBeNull();
      expect(await store.savedState()).toBeNull();
      expect(await store.processed("m")).toBeNull();
    }));

  it("appends with the expected version, numbering events from 0, and refuses a stale version", () =>
    withStore(async (store) => {
      expect(await store.append(append({ events: [event(1), event(2)], newVersion: 1 }))).toEqual({ ok: true, version: 1 });
      expect(await store.streamState()).toEqual({ status: "live", version: 1 });
      expect(await store.append(append({ expectedVersion: 0, newVersion: 1 }))).toEqual({ ok: false, actualVersion: 1 });
      expect(await store.append(append({ expectedVersion: -1 }))).toEqual({ ok: false, actualVersion: 1 });
      const events = await store.readEvents(0, 10);
      expect(events.map((e) => [e.version, e.data])).toEqual([
        [0, { amount: 1 }],
        [1, { amount: 2 }],
      ]);
      expect(events[0]?.metadata).toEqual(event(1).metadata);
      expect(Date.parse(events[0]?.recordedAt ?? "")).not.toBeNaN();
    }));

  it("reads pages from a version", () =>
    withStore(async (store) => {
      await store.append(append({ events: [1, 2, 3, 4, 5].map(event), newVersion: 4 }));
      expect((await store.readEvents(2, 2)).map((e) => e.version)).toEqual([2, 3]);
      expect((await store.readEvents(4, 10)).map((e) => e.version)).toEqual([4]);
      expect(await store.readEvents(5, 10)).toEqual([]);
    }));

  it("records each applied message id with its fingerprint and response (idempotency)", () =>
    withStore(async (store) => {
      await store.append(append({ messageId: "once", fingerprint: "abc", response: response.created("x", 0) }));
      expect(await store.processed("once")).toEqual({ fingerprint: "abc", response: { status: "created", id: "x", version: 0 } });
      expect(await store.processed("other")).toBeNull();
    }));

  it("a failing append leaves nothing behind: events, version and record all roll back", () =>
    withStore(async (store) => {
      await store.append(append({ messageId: "first" }));
      // Recording the same message id twice fails after the events were written: all of it must roll back.
      await expect(store.append(append({ expectedVersion: 0, newVersion: 2, events: [event(2), event(3)], messageId: "first" }))).rejects.toThrow();
      expect(await store.streamState()).toEqual({ status: "live", version: 0 });
      expect((await store.readEvents(0, 10)).map((e) => e.version)).toEqual([0]);
      expect(await store.append(append({ expectedVersion: 0, newVersion: 1, messageId: "second" }))).toEqual({ ok: true, version: 1 });
    }));

  it("keeps the newest snapshot per schema", () =>
    withStore(async (store) => {
      await store.append(append({ snapshot: { version: 0, state: { n: 0 }, schema: 1 } }));
      await store.append(append({ expectedVersion: 0, newVersion: 1, snapshot: { version: 1, state: { n: 1 }, schema: 1 } }));
      await store.append(append({ expectedVersion: 1, newVersion: 2, snapshot: { version: 2, state: { m: 2 }, schema: 2 } }));
      expect(await store.latestSnapshot(1)).toEqual({ version: 1, state: { n: 1 }, schema: 1 });
      expect(await store.latestSnapshot(2)).toEqual({ version: 2, state: { m: 2 }, schema: 2 });
      expect(await store.latestSnapshot(3)).toBeNull();
    }));

  it("saves the state of a state-based stream with its version", () =>
    withStore(async (store) => {
      await store.append(append({ events: [], newVersion: 2, state: { balance: 250 } }));
      expect(await store.savedState()).toEqual({ version: 2, state: { balance: 250 } });
      expect(await store.readEvents(0, 10)).toEqual([]);
    }));

  it("soft delete keeps events and checks the expected version; hard delete removes everything", () =>
    withStore(async (store) => {
      expect(await store.softDelete(undefined)).toEqual({ ok: false, reason: "not_found" });
      await store.append(append({ messageId: "kept" }));
      expect(await store.softDelete(5)).toEqual({ ok: false, reason: "wrong_expected_version", actualVersion: 0 });
      expect(await store.softDelete(0)).toEqual({ ok: true });
      expect(await store.streamState()).toEqual({ status: "deleted", version: 0 });
      expect(await store.readEvents(0, 10)).toHaveLength(1);
      expect(await store.hardDelete(3)).toEqual({ ok: false, reason: "wrong_expected_version", actualVersion: 0 });
      expect(await store.hardDelete(undefined)).toEqual({ ok: true });
      expect(await store.streamState()).toEqual({ status: "missing", version: -1 });
      expect(await store.readEvents(0, 10)).toEqual([]);
      expect(await store.processed("kept")).toBeNull();
      expect(await store.append(append({}))).toEqual({ ok: true, version: 0 });
    }));

  it("stored data is a copy: changing what was appended or read changes nothing stored", () =>
    withStore(async (store) => {
      const request = append({});
      await store.append(request);
      (request.events[0]?.data as { amount: number }).amount = 99;
      const [read] = await store.readEvents(0, 1);
      (read?.data as { amount: number }).amount = 42;
      expect((await store.readEvents(0, 1))[0]?.data).toEqual({ amount: 1 });
    }));
});
