// An in-memory SQLite database with the demo's read models (migrations/), as D1 holds them: the
// read side's in-memory equivalent of D1 on Node (node:sqlite, Node 22.13+). Plain JavaScript so
// that the type check needs no Node typings; the JSDoc below gives TypeScript its type.
import { readdirSync, readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";

/** @returns {import("../../../src/core/index.js").SyncSqliteDatabase} */
export function readModels() {
  const db = new DatabaseSync(":memory:");
  const folder = new URL("../../../migrations/", import.meta.url);
  // Every migration, in order, as `wrangler d1 migrations apply` applies them.
  for (const file of readdirSync(folder).filter((name) => name.endsWith(".sql")).sort()) db.exec(readFileSync(new URL(file, folder), "utf8"));
  return db;
}
