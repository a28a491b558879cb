import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/core/shared/ids.js";
import { rawSql, sql, SqlDatabase, sqlList } from "../../src/objects/sql.js";
import { VersionedSchema, type Migration } from "../../src/objects/sqlite-migrations.js";
import { latestScheduleSchema, SCHEDULE_MIGRATIONS } from "../../src/objects/sqlite-schedule-store.js";
import { latestStreamSchema, STREAM_MIGRATIONS } from "../../src/objects/sqlite-stream-store.js";

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

  it("a write inside another's that the outer one's failure rolls back is forgotten: the next write makes its tables again", async () => {
    await inFreshObject((storage) => {
      const outer = schemaOf(storage);
      const inner = new VersionedSchema(storage, {
        name: "tags",
        migrations: [{ version: 1, description: "tags", up: (db) => db.run(sql`CREATE TABLE tags (note TEXT NOT NULL, tag TEXT NOT NULL)`) }],
      });
      outer.open();
      inner.open();
      expect(() =>
        outer.write((db) => {
          db.run(sql`INSERT INTO notes (id, body) VALUES (${"n1"}, ${"hello"})`);
          inner.write((tags) => tags.run(sql`INSERT INTO tags (note, tag) VALUES (${"n1"}, ${"greeting"})`));
          throw new Error("the outer write fails after the inner one");
        }),
      ).toThrow("the outer write fails");
      expect([outer.exists, inner.exists, tables(storage)]).toEqual([false, false, []]);
      inner.write((tags) => tags.run(sql`INSERT INTO tags (note, tag) VALUES (${"n2"}, ${"again"})`));
      expect(storage.sql.exec("SELECT note, tag FROM tags").toArray()).toEqual([{ note: "n2", tag: "again" }]);
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

/**
 * Everything SQLite knows of a schema: each table's, index's and trigger's definition (spaces and
 * quotes evened out: a renamed table's text names it in quotes), each table's columns (name, type,
 * not null, default, key, hidden) and each index's columns, uniqueness and origin — automatic
 * indexes (`sqlite_autoindex_…`, which have no text) by their table and columns.
 */
function schemaDump(storage: DurableObjectStorage): unknown {
  const rows = storage.sql
    .exec<{ type: string; name: string; tbl_name: string; sql: string | null }>(
      "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE '_cf_%' AND name <> 'x3m_schema_versions' ORDER BY type, tbl_name, name",
    )
    .toArray();
  return rows.map((row) => {
    const definition = row.sql === null ? null : row.sql.replace(/"/g, "").replace(/\s+/g, " ").replace(/\( /g, "(");
    if (row.type === "table") return { definition, columns: storage.sql.exec(`PRAGMA table_xinfo("${row.name}")`).toArray() };
    if (row.type !== "index") return { definition };
    const index = storage.sql.exec<{ name: string; unique: number; origin: string; partial: number }>(`PRAGMA index_list("${row.tbl_name}")`).toArray().find((i) => i.name === row.name);
    return {
      table: row.tbl_name,
      definition: row.name.startsWith("sqlite_autoindex_") ? "automatic" : definition,
      unique: index?.unique,
      origin: index?.origin,
      columns: storage.sql.exec(`PRAGMA index_xinfo("${row.name}")`).toArray(),
    };
  });
}

describe("a new database gets the latest schema at once", () => {
  const schemas = [
    { name: "stream", migrations: STREAM_MIGRATIONS, latest: latestStreamSchema },
    { name: "schedules", migrations: SCHEDULE_MIGRATIONS, latest: latestScheduleSchema },
  ];
  for (const { name, migrations, latest } of schemas) {
    it(`${name}: the same tables, columns, indexes and triggers as every migration in turn, and the same version recorded`, async () => {
      const made = async (withLatest: boolean) =>
        inFreshObject((storage) => {
          const schema = new VersionedSchema(storage, { name, migrations, ...(withLatest ? { latest } : {}) });
          schema.open();
          schema.write(() => undefined);
          return { version: schema.version, recorded: storage.sql.exec("SELECT name, version FROM x3m_schema_versions").toArray(), dump: schemaDump(storage) };
        });
      const stepByStep = await made(false);
      const atOnce = await made(true);
      expect(atOnce.version).toBe(migrations.length);
      expect(atOnce.recorded).toEqual(stepByStep.recorded);
      expect(JSON.stringify(atOnce.dump, null, 1)).toBe(JSON.stringify(stepByStep.dump, null, 1));
    });
  }

  it("an existing database is still upgraded by its missing migrations, not made again", async () => {
    await inFreshObject((storage) => {
      storage.sql.exec("CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)");
      storage.sql.exec("INSERT INTO notes (id, body) VALUES ('n1', 'kept')");
      const made: string[] = [];
      const schema = new VersionedSchema(storage, {
        name: "notes",
        migrations: history,
        unversioned: (db) => (db.hasTable("notes") ? 1 : 0),
        latest: () => made.push("latest"),
      });
      schema.open();
      expect(made).toEqual([]);
      expect(storage.sql.exec("SELECT id, body, author FROM notes").toArray()).toEqual([{ id: "n1", body: "kept", author: "unknown" }]);
    });
  });
});
