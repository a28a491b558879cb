import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/core/shared/ids.js";
import { rawSql, sql, SqlDatabase, sqlList } from "../../src/objects/sql.js";
import { VersionedSchema, type Migration } from "../../src/objects/sqlite-migrations.js";

/** Runs `body` in a fresh Durable Object's storage (one the scheduler tests never use). */
const inFreshObject = <T>(body: (storage: DurableObjectStorage) => T | Promise<T>) =>
  runInDurableObject(env.TEST_SCHEDULER.get(env.TEST_SCHEDULER.idFromName(`sql-${newId()}`)), (_instance, state) => body(state.storage));

const tables = (storage: DurableObjectStorage) =>
  storage.sql
    .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name")
    .toArray()
    .map((row) => row.name);

const history: Migration[] = [
  { version: 1, description: "notes", up: (db) => db.run(sql`CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)`) },
  { version: 2, description: "notes.author", up: (db) => db.run(sql`ALTER TABLE notes ADD COLUMN author TEXT NOT NULL DEFAULT 'unknown'`) },
];
const schemaOf = (storage: DurableObjectStorage, migrations = history) =>
  new VersionedSchema(storage, { name: "notes", migrations, unversioned: (db) => (db.hasTable("notes") ? 1 : 0) });

describe("sql tagged template", () => {
  it("binds every interpolated value as a parameter and splices fragments with theirs", () => {
    const owner = "x' OR '1'='1";
    const filter = sql`AND owner = ${owner}`;
    const query = sql`SELECT * FROM t WHERE id = ${"a"} ${filter} AND n IN ${sqlList([1, 2])} AND flag = ${true} ${rawSql("ORDER BY id")}`;
    expect(query.text).toBe("SELECT * FROM t WHERE id = ? AND owner = ? AND n IN (SELECT value FROM json_each(?)) AND flag = ? ORDER BY id");
    expect(query.params).toEqual(["a", owner, "[1,2]", 1]);
  });

  it("refuses undefined, non-finite numbers and more parameters than a statement may bind", async () => {
    expect(() => sql`SELECT ${undefined as unknown as null}`).toThrow(/undefined/);
    expect(() => sql`SELECT ${Number.NaN}`).toThrow(/finite/);
    await inFreshObject((storage) => {
      const db = new SqlDatabase(storage.sql);
      const many = Array.from({ length: 101 }, (_, i) => sql`${i}`);
      const query = many.reduce((a, b) => sql`${a}, ${b}`);
      expect(() => db.all(sql`SELECT ${query}`)).toThrow(/100/);
      expect(db.all<{ value: number }>(sql`SELECT value FROM json_each(${JSON.stringify([1, 2, 3])})`).map((r) => r.value)).toEqual([1, 2, 3]);
    });
  });
});

describe("VersionedSchema", () => {
  it("reading a database nobody wrote to leaves no storage behind; the first write creates the latest version", async () => {
    await inFreshObject((storage) => {
      const schema = schemaOf(storage);
      schema.open();
      expect([schema.exists, schema.version]).toEqual([false, 0]);
      expect(tables(storage)).toEqual([]);
      schema.write((db) => db.run(sql`INSERT INTO notes (id, body, author) VALUES (${"n1"}, ${"hello"}, ${"ada"})`));
      expect(schema.version).toBe(2);
      expect(tables(storage)).toEqual(["notes", "x3m_schema_versions"]);
      expect(storage.sql.exec("SELECT name, version FROM x3m_schema_versions").toArray()).toEqual([{ name: "notes", version: 2 }]);
    });
  });

  it("upgrades a database written before versions were recorded, in place, keeping its rows", async () => {
    await inFreshObject((storage) => {
      storage.sql.exec("CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)");
      storage.sql.exec("INSERT INTO notes (id, body) VALUES ('old', 'kept')");
      const schema = schemaOf(storage);
      schema.open();
      expect(schema.version).toBe(2);
      expect(storage.sql.exec("SELECT id, body, author FROM notes").toArray()).toEqual([{ id: "old", body: "kept", author: "unknown" }]);
      // Opened again, nothing runs twice.
      const again = schemaOf(storage);
      again.open();
      expect(again.version).toBe(2);
    });
  });

  it("a failing write rolls back the schema it created; a failing upgrade leaves the old version", async () => {
    await inFreshObject((storage) => {
      const schema = schemaOf(storage);
      schema.open();
      expect(() =>
        schema.write(() => {
          throw new Error("changed my mind");
        }),
      ).toThrow("changed my mind");
      expect([schema.version, tables(storage)]).toEqual([0, []]);

      storage.sql.exec("CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)");
      const broken: Migration[] = [history[0] as Migration, { version: 2, description: "broken", up: (db) => db.run(sql`ALTER TABLE nowhere ADD COLUMN x TEXT`) }];
      expect(() => schemaOf(storage, broken).open()).toThrow(/nowhere/);
      expect(tables(storage)).toEqual(["notes"]);
    });
  });

  it("refuses a database newer than the code, and migrations that are not numbered 1, 2, 3…", async () => {
    await inFreshObject((storage) => {
      schemaOf(storage).write(() => 0);
      expect(() => schemaOf(storage, history.slice(0, 1)).open()).toThrow(/newer than this code/);
      expect(() => schemaOf(storage, [history[1] as Migration])).toThrow(/version/);
    });
  });
});
