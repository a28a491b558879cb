/*
 * The SQL a projection writes, as a value: statement text with `?` placeholders and the values
 * bound to them. The same statement runs on D1 in production and on an in-memory SQLite database
 * (Node's `node:sqlite`, Bun's `bun:sqlite`) elsewhere, so one projection serves both.
 *
 *   statement`UPDATE accounts SET balance = balance + ${amount} WHERE id = ${id}`
 */

/** A value bound to a statement: TEXT, a number, NULL; booleans are bound as 1 and 0. */
export type ReadValue = string | number | null;

/** One SQL statement and the values bound to its `?` placeholders, in order. */
export type ReadStatement = { readonly sql: string; readonly params: readonly ReadValue[] };

/** What may be interpolated into {@link statement}. */
export type StatementArgument = ReadValue | boolean;

/**
 * A statement from a template: each `${value}` becomes a bound parameter — never statement text —
 * so data cannot change what a statement does. `undefined` is refused (it is always a bug: say
 * `null`), as is a number that is not finite.
 */
export function statement(strings: TemplateStringsArray, ...values: readonly StatementArgument[]): ReadStatement {
  const params = values.map((value, index) => bindable(value, index));
  return { sql: strings.join("?"), params };
}

function bindable(value: StatementArgument | undefined, index: number): ReadValue {
  if (value === undefined) throw new TypeError(`statement parameter ${index + 1} is undefined (use null)`);
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError(`statement parameter ${index + 1} is not a finite number`);
  return value;
}
