import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryStreamStore } from "../../src/core/aggregates/memory-stream-store.js";
import { newId } from "../../src/core/shared/ids.js";
import { type StreamStore } from "../../src/core/aggregates/stream-store.js";
import { SqliteStreamStore } from "../../src/objects/sqlite-stream-store.js";
import { streamStoreContract } from "../contracts/stream-store.mjs";

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

// The same contract runs on Node, Deno and Bun against the in-memory store (smoke/run.mjs).
describe.each(adapters)("StreamStore contract: %s", (_name, withStore) => {
  for (const { name, run } of streamStoreContract) it(name, () => withStore(run));
});

describe("SqliteStreamStore after a hard delete", () => {
  afterEach(() => vi.useRealTimers());

  it("stamps a stream opened again later than its deletion, even within the millisecond (the read side drops an erased stream's events by that instant)", async () => {
    const stub = env.LEDGER.get(env.LEDGER.idFromName(`again-${newId()}`));
    await runInDurableObject(stub, async (_instance, state) => {
      let deletedAt = "";
      const store = new SqliteStreamStore(state.storage, { onStorageEmptied: (removed) => (deletedAt = removed.deletedAt) });
      store.open();
      const opened = (messageId: string) => ({
        streamName: "ledger-again",
        expectedVersion: -1,
        events: [{ type: "Opened", data: {}, metadata: { messageId, correlationId: messageId, causationId: messageId, service: "open" }, schemaVersion: 1 }],
        newVersion: 0,
        principal: "",
        messageId,
        fingerprint: "f",
        response: { status: "created" as const, id: "again", version: 0 },
      });
      await store.append(opened("m-1"));
      await store.hardDelete(undefined);
      // The new stream's commit in the same millisecond as the delete: the clock held still.
      vi.useFakeTimers({ toFake: ["Date"], now: Date.parse(deletedAt) });
      await store.append(opened("m-2"));
      const [event] = await store.readEvents(0, 1);
      expect(deletedAt).not.toBe("");
      expect(event?.recordedAt !== undefined && event.recordedAt > deletedAt).toBe(true);
    });
  });
});
