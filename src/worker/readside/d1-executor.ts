import type { ReadStatement } from "../../core/readside/read-statement.js";
import type { SqlExecutor } from "../../core/readside/sql-executor.js";

/**
 * A {@link SqlExecutor} over a D1 database: a batch is one `db.batch` — D1 runs it as one
 * transaction, so a failed statement rolls back the whole batch.
 */
export function d1Executor(db: D1Database): SqlExecutor {
  const prepared = (query: ReadStatement) => db.prepare(query.sql).bind(...query.params);
  return {
    async batch(statements) {
      if (statements.length > 0) await db.batch(statements.map(prepared));
    },
    async all<Row extends Record<string, unknown>>(query: ReadStatement) {
      return (await prepared(query).all<Row>()).results;
    },
  };
}
