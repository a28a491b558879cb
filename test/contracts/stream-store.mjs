// The StreamStore contract (src/core/aggregates/stream-store.ts): every adapter must pass it. Each case gets
// a fresh, empty store.
import { equal, rejects } from "./assert.mjs";

let counter = 0;
const event = (amount) => ({
  type: "Deposited",
  data: { amount },
  metadata: { messageId: "m", correlationId: "c", causationId: "p", service: "deposit", tenant: "t" },
  schemaVersion: 1,
});
const append = (overrides) => ({
  streamName: "ledger-1",
  expectedVersion: -1,
  events: [event(1)],
  newVersion: 0,
  principal: "ada",
  messageId: `msg-${(counter += 1)}`,
  fingerprint: "f",
  response: { status: "ok" },
  ...overrides,
});

/** @type {{ name: string, run: (store: import("../../src/core/aggregates/stream-store.js").StreamStore) => Promise<void> }[]} */
export const streamStoreContract = [
  {
    name: "a new stream is missing at version -1, with nothing stored",
    async run(store) {
      equal(await store.streamState(), { status: "missing", version: -1 }, "state");
      equal(await store.readEvents(0, 10), [], "events");
      equal(await store.latestSnapshot(1), null, "snapshot");
      equal(await store.savedState(), null, "saved state");
      equal(await store.processed("ada", "m"), null, "processed");
    },
  },
  {
    name: "appends with the expected version, numbering events from 0, and refuses a stale version",
    async run(store) {
      equal(await store.append(append({ events: [event(1), event(2)], newVersion: 1 })), { ok: true, version: 1 }, "append");
      equal(await store.streamState(), { status: "live", version: 1 }, "state");
      equal(await store.append(append({ expectedVersion: 0, newVersion: 1 })), { ok: false, actualVersion: 1 }, "stale");
      equal(await store.append(append({ expectedVersion: -1 })), { ok: false, actualVersion: 1 }, "new on existing");
      const events = await store.readEvents(0, 10);
      equal(events.map((e) => [e.version, e.data]), [[0, { amount: 1 }], [1, { amount: 2 }]], "events");
      equal(events[0].metadata, event(1).metadata, "metadata");
      equal(events[0].schemaVersion, 1, "schema version");
      if (Number.isNaN(Date.parse(events[0].recordedAt))) throw new Error("recordedAt is not a date");
    },
  },
  {
    name: "reads pages from a version",
    async run(store) {
      await store.append(append({ events: [1, 2, 3, 4, 5].map(event), newVersion: 4 }));
      equal((await store.readEvents(2, 2)).map((e) => e.version), [2, 3], "middle page");
      equal((await store.readEvents(4, 10)).map((e) => e.version), [4], "last page");
      equal(await store.readEvents(5, 10), [], "past the end");
    },
  },
  {
    name: "records each applied message id with its fingerprint and response, per caller (idempotency)",
    async run(store) {
      await store.append(append({ messageId: "once", fingerprint: "abc", response: { status: "created", id: "x", version: 0 } }));
      equal(await store.processed("ada", "once"), { fingerprint: "abc", response: { status: "created", id: "x", version: 0 } }, "recorded");
      equal(await store.processed("ada", "other"), null, "unknown");
      equal(await store.processed("bob", "once"), null, "another caller's");
      // Another caller may use the same id: it is their own record.
      await store.append(append({ expectedVersion: 0, newVersion: 1, principal: "bob", messageId: "once", fingerprint: "def" }));
      equal((await store.processed("bob", "once"))?.fingerprint, "def", "bob's");
      equal((await store.processed("ada", "once"))?.fingerprint, "abc", "ada's still");
    },
  },
  {
    name: "stores each event's schema version and gives it back",
    async run(store) {
      await store.append(append({ events: [{ ...event(1), schemaVersion: 3 }, event(2)], newVersion: 1 }));
      equal((await store.readEvents(0, 10)).map((e) => e.schemaVersion), [3, 1], "versions");
    },
  },
  {
    name: "replays what a load folds — version, type, data, schema version — in order from a version",
    async run(store) {
      await store.append(append({ events: [{ ...event(1), schemaVersion: 2 }, event(2), event(3)], newVersion: 2 }));
      const read = (await store.readEvents(1, 10)).map(({ version, type, data, schemaVersion }) => ({ version, type, data, schemaVersion }));
      equal(await store.replayEvents(1, 10), read, "the same as a read, without metadata");
      equal((await store.replayEvents(0, 2)).map((e) => e.version), [0, 1], "paged");
      equal(await store.replayEvents(3, 10), [], "nothing past the end");
    },
  },
  {
    name: "compacts idempotency records by age and count in the append that asks for it",
    async run(store) {
      await store.append(append({ messageId: "a" }));
      await store.append(append({ expectedVersion: 0, newVersion: 1, messageId: "b" }));
      await store.append(append({ expectedVersion: 1, newVersion: 2, messageId: "c" }));
      // Nothing is older than the epoch: only the count rule applies, keeping the newest two.
      await store.append(append({ expectedVersion: 2, newVersion: 3, messageId: "d", retention: { recordedBefore: "1970-01-01T00:00:00.000Z", keepLast: 2 } }));
      equal(await store.processed("ada", "a"), null, "oldest gone");
      equal(await store.processed("ada", "b"), null, "second gone");
      equal((await store.processed("ada", "c"))?.fingerprint, "f", "kept");
      equal((await store.processed("ada", "d"))?.fingerprint, "f", "newest kept");
      // Everything recorded before a time in the future goes, the append's own record included.
      await store.append(append({ expectedVersion: 3, newVersion: 4, messageId: "e", retention: { recordedBefore: "9999-01-01T00:00:00.000Z" } }));
      equal(await store.processed("ada", "c"), null, "aged out");
      equal((await store.readEvents(0, 10)).length, 5, "events untouched");
    },
  },
  {
    name: "compaction drops the oldest records in the order they were made, even those made at one version",
    async run(store) {
      await store.append(append({ messageId: "first" }));
      // A command whose events were all filtered out records its message at the version it found.
      await store.append(append({ expectedVersion: 0, newVersion: 0, events: [], messageId: "same-version" }));
      await store.append(append({ expectedVersion: 0, newVersion: 1, messageId: "bob's", principal: "bob" }));
      await store.append(append({ expectedVersion: 1, newVersion: 2, messageId: "last", retention: { recordedBefore: "1970-01-01T00:00:00.000Z", keepLast: 3 } }));
      equal(await store.processed("ada", "first"), null, "oldest gone");
      equal((await store.processed("ada", "same-version"))?.fingerprint, "f", "second kept");
      equal((await store.processed("bob", "bob's"))?.fingerprint, "f", "another caller's kept");
      equal((await store.processed("ada", "last"))?.fingerprint, "f", "newest kept");
      await store.append(append({ expectedVersion: 2, newVersion: 3, messageId: "after", retention: { recordedBefore: "1970-01-01T00:00:00.000Z", keepLast: 1 } }));
      equal(await store.processed("ada", "last"), null, "all but the newest gone");
      equal((await store.processed("ada", "after"))?.fingerprint, "f", "the newest stays");
    },
  },
  {
    name: "a failing append leaves nothing behind: events, version and record all roll back",
    async run(store) {
      await store.append(append({ messageId: "first" }));
      await rejects(store.append(append({ expectedVersion: 0, newVersion: 2, events: [event(2), event(3)], messageId: "first" })), "duplicate record");
      equal(await store.streamState(), { status: "live", version: 0 }, "state");
      equal((await store.readEvents(0, 10)).map((e) => e.version), [0], "events");
      equal(await store.append(append({ expectedVersion: 0, newVersion: 1, messageId: "second" })), { ok: true, version: 1 }, "next");
    },
  },
  {
    name: "keeps the newest snapshot per schema",
    async run(store) {
      await store.append(append({ snapshot: { version: 0, state: { n: 0 }, schema: 1 } }));
      await store.append(append({ expectedVersion: 0, newVersion: 1, snapshot: { version: 1, state: { n: 1 }, schema: 1 } }));
      await store.append(append({ expectedVersion: 1, newVersion: 2, snapshot: { version: 2, state: { m: 2 }, schema: 2 } }));
      equal(await store.latestSnapshot(1), { version: 1, state: { n: 1 }, schema: 1 }, "schema 1");
      equal(await store.latestSnapshot(2), { version: 2, state: { m: 2 }, schema: 2 }, "schema 2");
      equal(await store.latestSnapshot(3), null, "schema 3");
    },
  },
  {
    name: "saves the state of a state-based stream with its version",
    async run(store) {
      await store.append(append({ events: [], newVersion: 2, state: { balance: 250 } }));
      equal(await store.savedState(), { version: 2, state: { balance: 250 } }, "saved");
      equal(await store.readEvents(0, 10), [], "no events");
    },
  },
  {
    name: "soft delete keeps events and checks the expected version; hard delete removes everything",
    async run(store) {
      equal(await store.softDelete(undefined), { ok: false, reason: "not_found" }, "missing");
      await store.append(append({ messageId: "kept" }));
      equal(await store.softDelete(5), { ok: false, reason: "wrong_expected_version", actualVersion: 0 }, "wrong version");
      equal(await store.softDelete(0), { ok: true }, "soft");
      equal(await store.streamState(), { status: "deleted", version: 0 }, "deleted");
      equal((await store.readEvents(0, 10)).length, 1, "events kept");
      equal(await store.hardDelete(3), { ok: false, reason: "wrong_expected_version", actualVersion: 0 }, "hard wrong version");
      equal(await store.hardDelete(undefined), { ok: true }, "hard");
      equal(await store.streamState(), { status: "missing", version: -1 }, "gone");
      equal(await store.readEvents(0, 10), [], "no events");
      equal(await store.processed("ada", "kept"), null, "no record");
      equal(await store.append(append({})), { ok: true, version: 0 }, "starts afresh");
    },
  },
  {
    name: "stored data is a copy: changing what was appended or read changes nothing stored",
    async run(store) {
      const request = append({});
      await store.append(request);
      request.events[0].data.amount = 99;
      const [read] = await store.readEvents(0, 1);
      read.data.amount = 42;
      equal((await store.readEvents(0, 1))[0].data, { amount: 1 }, "stored");
    },
  },
];
