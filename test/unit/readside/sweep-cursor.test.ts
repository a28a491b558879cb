import { afterEach, describe, expect, it } from "vitest";
import { silentLogger, statement, sweep } from "../../../src/core/index.js";
import { accountsView } from "../../../examples/bank/read-models.js";
import { closeBanks, memoryBank } from "./memory-bank.js";

afterEach(closeBanks);

describe("the sweep's cursor", () => {
  it("a sweep at once (quietMs 0) does not pass streams recorded just now: one whose catalog write landed late behind them is still swept", async () => {
    const bank = memoryBank({ subscribers: () => [accountsView] });
    await bank.call("open_account", { account_id: "a" }, "ada");
    await bank.call("open_account", { account_id: "b" }, "ada");
    await bank.settle();
    // b's queue message was lost, and its catalog write was stamped before a's but landed after
    // the operator's "Sweep now" read the catalog.
    bank.db.exec("DELETE FROM bank_accounts WHERE id = 'b'; DELETE FROM x3m_checkpoints WHERE stream = 'account-b'");
    const [a] = await bank.store.query<{ last_seen: string }>(statement`SELECT last_seen FROM x3m_streams WHERE stream = 'account-a'`);
    const [b] = await bank.store.query<Record<string, string | number>>(statement`SELECT * FROM x3m_streams WHERE stream = 'account-b'`);
    bank.db.exec("DELETE FROM x3m_streams WHERE stream = 'account-b'");
    expect((await sweep(bank.runner, bank.scope, { quietMs: 0, logger: silentLogger })).streams).toBe(1);
    bank.db
      .prepare("INSERT INTO x3m_streams (stream_type, stream, version, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)")
      .run(b!["stream_type"]!, b!["stream"]!, b!["version"]!, b!["first_seen"]!, new Date(Date.parse(a!.last_seen) - 1000).toISOString());

    // The Cron's next run, once the quiet time has passed.
    const later = await sweep(bank.runner, bank.scope, { now: () => Date.now() + 20_000, logger: silentLogger });
    expect(later.caughtUp).toEqual([{ subscriber: "bank_accounts", streamName: "account-b", applied: 1 }]);
    expect(await bank.store.query(statement`SELECT id FROM bank_accounts ORDER BY id`)).toEqual([{ id: "a" }, { id: "b" }]);
  });
});
