import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, it } from "vitest";
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
