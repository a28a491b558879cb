import { projection, statement } from "../../src/core/index.js";
import type { AccountEvent } from "./account.js";

/*
 * The bank's read models, kept in D1 (migrations/0001_bank_read_models.sql) from the accounts'
 * events. Each handler is pure: an event in, the SQL that applies it out. The library commits it
 * with the projection's checkpoint, so each event is applied exactly once in effect.
 */

/** The trace id of the request that stored `event` (its metadata's W3C traceparent), or null. */
function traceIdOf(event: { metadata: { traceparent?: string } }): string | null {
  return /^00-([\da-f]{32})-/.exec(event.metadata.traceparent ?? "")?.[1] ?? null;
}

/** One row per account: owner, balance, status, the trace of its last change — what `list_accounts` answers from. */
export const accountsView = projection<AccountEvent>({
  name: "bank_accounts",
  streams: ["account"],
  on: {
    AccountOpened: (e) =>
      statement`INSERT INTO bank_accounts (id, owner, balance, status, opened_at, updated_at, version, trace_id)
        VALUES (${e.aggregateId}, ${e.data.owner}, 0, 'open', ${e.recordedAt}, ${e.recordedAt}, ${e.version}, ${traceIdOf(e)})`,
    MoneyDeposited: (e) =>
      statement`UPDATE bank_accounts SET balance = balance + ${e.data.amount}, updated_at = ${e.recordedAt}, version = ${e.version}, trace_id = ${traceIdOf(e)}
        WHERE id = ${e.aggregateId}`,
    MoneyWithdrawn: (e) =>
      statement`UPDATE bank_accounts SET balance = balance - ${e.data.amount}, updated_at = ${e.recordedAt}, version = ${e.version}, trace_id = ${traceIdOf(e)}
        WHERE id = ${e.aggregateId}`,
    AccountClosed: (e) =>
      statement`UPDATE bank_accounts SET status = 'closed', updated_at = ${e.recordedAt}, version = ${e.version}, trace_id = ${traceIdOf(e)} WHERE id = ${e.aggregateId}`,
  },
  reset: [statement`DELETE FROM bank_accounts`],
  // An erased account leaves no row behind: its owner and its balance go with it.
  erase: (erased) => statement`DELETE FROM bank_accounts WHERE id = ${erased.aggregateId}`,
});

/** The whole bank, and each day's deposits and withdrawals — what `bank_totals` answers from. */
export const bankTotals = projection<AccountEvent>({
  name: "bank_totals",
  streams: ["account"],
  on: {
    AccountOpened: () => statement`UPDATE bank_totals SET accounts = accounts + 1, open_accounts = open_accounts + 1 WHERE id = 1`,
    MoneyDeposited: (e) => [
      statement`UPDATE bank_totals SET balance = balance + ${e.data.amount}, deposited = deposited + ${e.data.amount} WHERE id = 1`,
      statement`INSERT INTO bank_daily (day, deposits, deposited, withdrawals, withdrawn) VALUES (${dayOf(e.recordedAt)}, 1, ${e.data.amount}, 0, 0)
        ON CONFLICT (day) DO UPDATE SET deposits = deposits + 1, deposited = deposited + excluded.deposited`,
    ],
    MoneyWithdrawn: (e) => [
      statement`UPDATE bank_totals SET balance = balance - ${e.data.amount}, withdrawn = withdrawn + ${e.data.amount} WHERE id = 1`,
      statement`INSERT INTO bank_daily (day, deposits, deposited, withdrawals, withdrawn) VALUES (${dayOf(e.recordedAt)}, 0, 0, 1, ${e.data.amount})
        ON CONFLICT (day) DO UPDATE SET withdrawals = withdrawals + 1, withdrawn = withdrawn + excluded.withdrawn`,
    ],
    AccountClosed: () => statement`UPDATE bank_totals SET open_accounts = open_accounts - 1 WHERE id = 1`,
  },
  reset: [
    statement`UPDATE bank_totals SET accounts = 0, open_accounts = 0, balance = 0, deposited = 0, withdrawn = 0 WHERE id = 1`,
    statement`DELETE FROM bank_daily`,
  ],
  // The totals hold sums and counts, nothing of one account: an erased account's money stays in
  // them (it did move through the bank), and nothing needs removing. A rebuild after an erasure
  // sums the accounts that remain.
  erase: () => [],
});

/** The UTC day of an ISO 8601 time. */
function dayOf(time: string): string {
  return time.slice(0, 10);
}
