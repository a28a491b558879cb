import * as v from "valibot";
import { isJsonObject, ok, Router, statement, type ReadStore } from "../../src/core/index.js";
import { identityOf } from "../identity.js";

const ListRequest = v.object({ owner: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))) });

type AccountRow = { id: string; owner: string; balance: number; status: string; version: number; updated_at: string };
type TotalsRow = { accounts: number; open_accounts: number; balance: number; deposited: number; withdrawn: number };
type DayRow = { day: string; deposits: number; deposited: number; withdrawals: number; withdrawn: number };

/**
 * The bank's queries, answered from the read models (read-models.ts) — eventually consistent:
 * an event shows here once the read side has applied it, normally well within a second.
 * `list_accounts` answers the caller's accounts (an admin may ask for another `owner`'s);
 * `bank_totals` the whole bank's balance and today's deposits. Both need an identified caller.
 */
export function bankQueries<Env>(store: (env: Env) => ReadStore, today: () => string = () => new Date().toISOString().slice(0, 10)) {
  return new Router<Env>({ authorize: (message) => (message.assigns["identity"] === undefined ? "unauthorized" : "ok") })
    .service("list_accounts", { schema: ListRequest }, async (message, { env }) => {
      const identity = message.assigns["identity"];
      const who = identityOf(isJsonObject(identity) ? identity : null);
      const owner = who?.admin === true && message.request.owner !== undefined ? message.request.owner : (who?.user ?? "");
      const rows = await store(env).query<AccountRow>(
        statement`SELECT id, owner, balance, status, version, updated_at, trace_id FROM bank_accounts WHERE owner = ${owner} ORDER BY opened_at, id`,
      );
      return ok(message, { owner, accounts: rows.map((row) => ({ ...row })) });
    })
    .service("bank_totals", async (message, { env }) => {
      const day = today();
      const [totals] = await store(env).query<TotalsRow>(
        statement`SELECT accounts, open_accounts, balance, deposited, withdrawn FROM bank_totals WHERE id = 1`,
      );
      const [daily] = await store(env).query<DayRow>(
        statement`SELECT day, deposits, deposited, withdrawals, withdrawn FROM bank_daily WHERE day = ${day}`,
      );
      return ok(message, {
        ...(totals ?? { accounts: 0, open_accounts: 0, balance: 0, deposited: 0, withdrawn: 0 }),
        today: daily === undefined ? { day, deposits: 0, deposited: 0, withdrawals: 0, withdrawn: 0 } : { ...daily },
      });
    });
}
