import { describe, expect, it } from "vitest";
import { sqliteExecutor, SqlReadStore } from "../../../src/core/index.js";
import type { SqlExecutor } from "../../../src/core/readside/sql-executor.js";
import { readModels } from "./sqlite.mjs";

describe("the read store's tables", () => {
  it("a first creation that never settles (its request's client went away) holds up no later call", async () => {
    const db = sqliteExecutor(readModels());
    let batches = 0;
    // On Workers, a request's unfinished D1 call never settles once its client is gone.
    const executor: SqlExecutor = { all: (query) => db.all(query), batch: (statements) => (batches++ === 0 ? new Promise<void>(() => {}) : db.batch(statements)) };
    const store = new SqlReadStore(executor);
    void store.deadLetters(10);
    const next = store.deadLetters(10);
    const hung = new Promise((resolve) => setTimeout(() => resolve("no answer within 1 s"), 1000));
    expect(await Promise.race([next, hung])).toEqual([]);
  });
});
