import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, it } from "vitest";
import { MemoryScheduleStore } from "../../src/core/scheduling/memory-schedule-store.js";
import { newId } from "../../src/core/shared/ids.js";
import { type ScheduleStore } from "../../src/core/scheduling/schedule-store.js";
import { SqliteScheduleStore } from "../../src/objects/sqlite-schedule-store.js";
import { scheduleStoreContract } from "../contracts/schedule-store.mjs";

/** Runs `body` with a fresh store of each kind: in memory, and in a real Durable Object's SQLite. */
const adapters: [string, (body: (store: ScheduleStore) => Promise<void>) => Promise<void>][] = [
  ["MemoryScheduleStore", (body) => body(new MemoryScheduleStore())],
  [
    "SqliteScheduleStore",
    (body) => {
      const stub = env.TEST_SCHEDULER.get(env.TEST_SCHEDULER.idFromName(`contract-${newId()}`));
      return runInDurableObject(stub, async (_instance, state) => {
        const store = new SqliteScheduleStore(state.storage);
        store.open();
        await body(store);
      });
    },
  ],
];

// The same contract runs on Node, Deno and Bun against the in-memory store (smoke/run.mjs).
describe.each(adapters)("ScheduleStore contract: %s", (_name, withStore) => {
  for (const { name, run } of scheduleStoreContract) it(name, () => withStore(run));
});
