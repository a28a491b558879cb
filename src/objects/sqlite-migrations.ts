import { sql, SqlDatabase } from "./sql.js";

/*
 * A schema with a history, in a Durable Object's SQLite storage. Each schema (a name) records its
 * version in one row of `x3m_schema_versions`, and its code lists every migration since the
 * first, in order. Two rules make it safe:
 *
 * - Nothing is created by reading. An object that has never written anything has no tables and
 *   no version row, and asking it about an unknown key leaves no storage behind (otherwise anyone
 *   could create databases just by asking). The first write runs every migration, in the write's
 *   own transaction.
 * - An object whose tables exist is upgraded when it opens: `open()`, called once under
 *   `blockConcurrencyWhile` in the constructor, runs the migrations it lacks in one transaction
 *   before any request is served. A failure rolls the whole upgrade back and resets the object.
 */

/** One step of a schema's history: from version `version - 1` to `version`. */
export type Migration = {
  /** 1 for the first migration, then 2, 3… without gaps. */
  version: number;
  /** What it changes (for logs and readers of the code). */
  description: string;
  /** Runs its statements; it runs inside a transaction, so a throw leaves nothing changed. */
  up(db: SqlDatabase): void;
};

/** Options of a {@link VersionedSchema}. */
export type VersionedSchemaOptions = {
  /** The schema's name: its version row is kept under it (several schemas may share a database). */
  name: string;
  /** Every migration, in order: versions 1, 2, 3… Never edit one that has shipped; add the next. */
  migrations: readonly Migration[];
  /**
   * The version of a database written before versions were recorded (no version row): for
   * instance 1 when the first migration's tables exist. Default: 0 (nothing there).
   */
  unversioned?: (db: SqlDatabase) => number;
  /**
   * The latest version's schema made at once, for a database where nothing exists yet: what every
   * migration in turn would leave (tables rebuilt, columns added and dropped), without the
   * statements that build and tear down the versions in between — the first write of every new
   * object runs it. It must make exactly that schema (test it against the migrations). Default:
   * the migrations, one after the other.
   */
  latest?: (db: SqlDatabase) => void;
};

const VERSIONS_TABLE = "x3m_schema_versions";

/**
 * The schemas over each storage. A write of one schema may run inside another's (an aggregate's
 * follow-ups are written inside its append): when a write fails, its transaction takes with it
 * whatever the writes inside it created, so every schema over that storage learns its version again.
 */
const schemasOver = new WeakMap<DurableObjectStorage, Set<VersionedSchema>>();

/**
 * A schema brought to its latest version: by `open()` for a database that exists, by the first
 * `write()` for one that does not. See the top of this file for why.
 */
export class VersionedSchema {
  readonly #storage: DurableObjectStorage;
  readonly #db: SqlDatabase;
  readonly #name: string;
  readonly #migrations: readonly Migration[];
  readonly #unversioned: (db: SqlDatabase) => number;
  readonly #latest: ((db: SqlDatabase) => void) | undefined;
  /** Every schema over this storage, this one included (see {@link schemasOver}). */
  readonly #overSameStorage: Set<VersionedSchema>;
  #version = 0;

  /** A schema over `storage`; call {@link open} once, in the constructor, under `blockConcurrencyWhile`. */
  constructor(storage: DurableObjectStorage, options: VersionedSchemaOptions) {
    options.migrations.forEach((migration, index) => {
      if (migration.version !== index + 1) {
        throw new Error(`schema ${options.name}: migration ${index + 1} says it is version ${migration.version}`);
      }
    });
    this.#storage = storage;
    this.#db = new SqlDatabase(storage.sql);
    this.#name = options.name;
    this.#migrations = options.migrations;
    this.#unversioned = options.unversioned ?? (() => 0);
    this.#latest = options.latest;
    this.#overSameStorage = schemasOver.get(storage) ?? new Set<VersionedSchema>();
    this.#overSameStorage.add(this);
    schemasOver.set(storage, this.#overSameStorage);
  }

  /** The newest version this code knows. */
  get latest(): number {
    return this.#migrations.length;
  }

  /** The version of the database (0: nothing written yet), as last learnt. */
  get version(): number {
    return this.#version;
  }

  /** Whether the schema exists (anything was ever written). */
  get exists(): boolean {
    return this.#version > 0;
  }

  /** The database, for the statements of the store that owns the schema. */
  get db(): SqlDatabase {
    return this.#db;
  }

  /**
   * Learns the database's version and, when its tables exist, upgrades it to the latest in one
   * transaction. Reads only when nothing was ever written. Throws when the database is newer than
   * this code (a rollback of the code would otherwise write rows the newer code cannot read).
   */
  open(): void {
    const recorded = this.#recorded();
    this.#version = recorded ?? this.#unversioned(this.#db);
    if (this.#version > this.latest) {
      throw new Error(`schema ${this.#name} is at version ${this.#version}, newer than this code knows (${this.latest})`);
    }
    // A database from before versions were recorded gets its version row even when it is current.
    if (this.#version > 0 && (this.#version < this.latest || recorded === null)) this.#storage.transactionSync(() => this.#upgrade());
  }

  /** Forgets the schema (after `deleteAll`): the next write creates it again. */
  forget(): void {
    this.#version = 0;
  }

  /**
   * Runs `write` in one synchronous transaction with the latest schema in place (created by this
   * very transaction when nothing existed). If it throws, everything rolls back — schema creation
   * included, this schema's and that of any schema written inside it — and every schema over the
   * storage learns what exists again.
   */
  write<T>(write: (db: SqlDatabase) => T): T {
    try {
      return this.#storage.transactionSync(() => {
        if (this.#version < this.latest) this.#upgrade();
        return write(this.#db);
      });
    } catch (error) {
      for (const schema of this.#overSameStorage) schema.#relearn();
      throw error;
    }
  }

  /** Reads the version again; a storage that cannot be read now leaves it as it was (the write's own error is the one thrown). */
  #relearn(): void {
    try {
      this.#version = this.#read();
    } catch {
      // The next write or start reads it again.
    }
  }

  #read(): number {
    return this.#recorded() ?? this.#unversioned(this.#db);
  }

  /** The version recorded in the version table, or null when none is. */
  #recorded(): number | null {
    if (!this.#db.hasTable(VERSIONS_TABLE)) return null;
    return this.#db.first<{ version: number }>(sql`SELECT version FROM x3m_schema_versions WHERE name = ${this.#name}`)?.version ?? null;
  }

  /** Runs the missing migrations (or makes the latest schema, where nothing exists) and records the version (inside the caller's transaction). */
  #upgrade(): void {
    if (this.#version === 0 && this.#latest !== undefined) this.#latest(this.#db);
    else for (const migration of this.#migrations.slice(this.#version)) migration.up(this.#db);
    this.#db.run(sql`CREATE TABLE IF NOT EXISTS x3m_schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)`);
    this.#db.run(
      sql`INSERT INTO x3m_schema_versions (name, version) VALUES (${this.#name}, ${this.latest})
          ON CONFLICT (name) DO UPDATE SET version = excluded.version`,
    );
    this.#version = this.latest;
  }
}
