import type { ReadStatement } from "./read-statement.js";

/**
 * What {@link SqlReadStore} needs of a SQLite database: a transaction of statements, and the
 * rows of one. D1 (`d1Executor` from x3m-system/worker) and an embedded SQLite
 * ({@link sqliteExecutor}) both give it.
 */
export interface SqlExecutor {
  /** Runs `statements` in one transaction: all of them, or — when one fails — none (and rejects). */
  batch(statements: readonly ReadStatement[]): Promise<void>;
  /** The rows of one statement. */
  all<Row extends Record<string, unknown>>(query: ReadStatement): Promise<Row[]>;
}

/** A prepared statement of an embedded SQLite database: `node:sqlite`'s `StatementSync`, `bun:sqlite`'s `Statement`. */
export interface SyncSqliteStatement {
  all(...params: ReadStatement["params"][number][]): unknown[];
  run(...params: ReadStatement["params"][number][]): unknown;
}

/**
 * An embedded, synchronous SQLite database: `new DatabaseSync(":memory:")` from `node:sqlite`
 * (Node 22.13+, Deno 2.2+) or `new Database(":memory:")` from `bun:sqlite` — the read side's
 * in-memory equivalent of D1.
 */
export interface SyncSqliteDatabase {
  exec(sql: string): unknown;
  prepare(sql: string): SyncSqliteStatement;
}

/**
 * A {@link SqlExecutor} over an embedded SQLite database. Statements run synchronously, so a
 * batch is one transaction that nothing else interleaves with, as on D1.
 */
export function sqliteExecutor(db: SyncSqliteDatabase): SqlExecutor {
  return {
    async batch(statements) {
      db.exec("BEGIN");
      try {
        for (const { sql, params } of statements) db.prepare(sql).run(...params);
        db.exec("COMMIT");
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    },
    async all<Row extends Record<string, unknown>>(query: ReadStatement) {
      return db.prepare(query.sql).all(...query.params) as Row[];
    },
  };
}
