/*
 * SQL on a Durable Object's SQLite storage without positional bookkeeping: a statement is written
 * as a tagged template, each interpolated value becomes a bound parameter (never text), and rows
 * come back typed. Nothing here knows any table; the stores build on it.
 *
 *   const db = new SqlDatabase(ctx.storage.sql);
 *   db.all<{ id: string }>(sql`SELECT id FROM things WHERE owner = ${owner} LIMIT ${limit}`);
 */

/** A value SQLite stores and returns: TEXT, INTEGER or REAL, NULL, BLOB. */
export type SqlValue = string | number | null | ArrayBuffer;

/** What may be interpolated into {@link sql}: a value (booleans are stored as 1 and 0), or a fragment. */
export type SqlArgument = SqlValue | boolean | SqlQuery;

/** A row as a statement returns it: column name → value. */
export type SqlRow = Record<string, SqlValue>;

/**
 * The platform's limit of bound parameters per statement (Cloudflare: 100 per statement). Lists go in one
 * parameter instead, with {@link sqlList}.
 */
export const MAX_SQL_PARAMETERS = 100;

/** A statement (or a fragment of one) and its bound parameters, in order. Built by {@link sql}. */
export class SqlQuery {
  /** The statement's text, with one `?` per parameter. */
  readonly text: string;
  /** The values bound to its `?`, in order. */
  readonly params: readonly SqlValue[];

  /** Use {@link sql} or {@link rawSql} rather than this constructor. */
  constructor(text: string, params: readonly SqlValue[]) {
    this.text = text;
    this.params = params;
  }
}

/**
 * Builds a statement from a template: every `${value}` is bound as a parameter, so a value can
 * never change the statement; a `${fragment}` built by `sql` (or {@link rawSql}, {@link sqlList})
 * is spliced in with its own parameters. `undefined` is refused (it is always a bug: say `null`).
 */
export function sql(strings: TemplateStringsArray, ...values: readonly SqlArgument[]): SqlQuery {
  let text = strings[0] ?? "";
  const params: SqlValue[] = [];
  values.forEach((value, index) => {
    if (value instanceof SqlQuery) {
      text += value.text;
      params.push(...value.params);
    } else {
      text += "?";
      params.push(bindable(value, index));
    }
    text += strings[index + 1] ?? "";
  });
  return new SqlQuery(text, params);
}

/**
 * Text spliced into a statement as it is — fixed SQL, table names chosen by the code. Never pass
 * caller input here: that is what {@link sql}'s parameters are for.
 */
export function rawSql(text: string): SqlQuery {
  return new SqlQuery(text, []);
}

/**
 * A list of values as ONE parameter, for `x IN ${sqlList(ids)}`: it becomes
 * `(SELECT value FROM json_each(?))` bound to the list's JSON, so a list of any length stays
 * within {@link MAX_SQL_PARAMETERS}. Values come back from `json_each` as SQLite reads JSON:
 * strings as TEXT, whole numbers as INTEGER.
 */
export function sqlList(values: readonly (string | number)[]): SqlQuery {
  return new SqlQuery("(SELECT value FROM json_each(?))", [JSON.stringify(values)]);
}

function bindable(value: SqlValue | boolean, index: number): SqlValue {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value === undefined) throw new TypeError(`sql: value ${index + 1} is undefined (bind null instead)`);
  if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError(`sql: value ${index + 1} is not a finite number`);
  return value;
}

/**
 * The rows a database's statements read and wrote — what the platform bills a SQLite-backed
 * Durable Object for — counted from every statement's cursor since the object started. Every
 * {@link SqlDatabase} over the same storage adds to the same meter ({@link meterOf}).
 */
export type SqlMeter = { rowsRead: number; rowsWritten: number };

const meters = new WeakMap<SqlStorage, SqlMeter>();

/** The meter of `storage`: one per object, shared by every database over it. */
export function meterOf(storage: SqlStorage): SqlMeter {
  let meter = meters.get(storage);
  if (meter === undefined) {
    meter = { rowsRead: 0, rowsWritten: 0 };
    meters.set(storage, meter);
  }
  return meter;
}

/**
 * A Durable Object's SQLite database, spoken to in {@link SqlQuery} statements. Each call runs one
 * statement synchronously; group several in `storage.transactionSync` to make them atomic.
 */
export class SqlDatabase {
  readonly #sql: SqlStorage;
  readonly #meter: SqlMeter;

  /** A database over `storage.sql`. */
  constructor(storage: SqlStorage) {
    this.#sql = storage;
    this.#meter = meterOf(storage);
  }

  /** Every row the statement returns. */
  all<Row extends SqlRow>(query: SqlQuery): Row[] {
    const cursor = this.#exec<Row>(query);
    return this.#metered(cursor, cursor.toArray());
  }

  /**
   * Every row the statement returns, as arrays of values in the order of its columns: cheaper
   * than {@link all}'s objects when a hot path reads many rows.
   */
  tuples<Row extends readonly SqlValue[]>(query: SqlQuery): Row[] {
    const cursor = this.#exec(query);
    // The runtime's raw iterator has `toArray()` (one call, not one per row), which its types omit.
    const rows = cursor.raw<SqlValue[]>() as IterableIterator<SqlValue[]> & { toArray(): SqlValue[][] };
    return this.#metered(cursor, rows.toArray() as unknown as Row[]);
  }

  /**
   * The first row the statement returns, or null. The statement runs to its end (a cursor left
   * open keeps its statement busy): say `LIMIT 1` when many rows may match.
   */
  first<Row extends SqlRow>(query: SqlQuery): Row | null {
    const cursor = this.#exec<Row>(query);
    return this.#metered(cursor, cursor.toArray()[0] ?? null);
  }

  /** Runs a statement that returns no rows; answers how many rows it wrote. */
  run(query: SqlQuery): number {
    const cursor = this.#exec(query);
    this.#metered(cursor, null);
    return cursor.rowsWritten;
  }

  /** `result`, once the cursor that made it is counted (its counts are final when it is consumed). */
  #metered<T>(cursor: SqlStorageCursor<Record<string, SqlStorageValue>>, result: T): T {
    this.#meter.rowsRead += cursor.rowsRead;
    this.#meter.rowsWritten += cursor.rowsWritten;
    return result;
  }

  /** Whether a table of this name exists. */
  hasTable(name: string): boolean {
    return this.first(sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ${name}`) !== null;
  }

  #exec<Row extends SqlRow>(query: SqlQuery): SqlStorageCursor<Row> {
    if (query.params.length > MAX_SQL_PARAMETERS) {
      throw new RangeError(`sql: ${query.params.length} parameters, more than the ${MAX_SQL_PARAMETERS} a statement may bind (use sqlList)`);
    }
    return this.#sql.exec<Row>(query.text, ...query.params);
  }
}
