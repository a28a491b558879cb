import { afterEach, describe, expect, it } from "vitest";
import { catchUp, projection, silentLogger, statement, sweep, type ProjectedEvent } from "../../../src/core/index.js";
import type { AccountEvent } from "../../../examples/bank/account.js";
import { accountsView } from "../../../examples/bank/read-models.js";
import { closeBanks, memoryBank } from "./memory-bank.js";

afterEach(closeBanks);

type Opened = ProjectedEvent<Extract<AccountEvent, { type: "AccountOpened" }>>;

/** A projection of opened accounts into `picky`, which throws for the accounts `fails` names. */
function picky(fails: (event: Opened) => string | null) {
  return projection<AccountEvent>({
    name: "picky",
    streams: ["account"],
    on: {
      AccountOpened: (event: Opened) => {
        const problem = fails(event);
        if (problem !== null) throw new Error(problem);
        return statement`INSERT INTO picky (id) VALUES (${event.aggregateId})`;
      },
    },
    reset: [],
  });
}

/** A bank whose consumer gives an event up at its first failure, with `picky` beside the accounts view. */
function bankWith(fails: (event: Opened) => string | null) {
  const bank = memoryBank({ subscribers: () => [accountsView, picky(fails)], maxAttempts: 1 });
  bank.db.exec("CREATE TABLE picky (id TEXT PRIMARY KEY)");
  return bank;
}

const sweepQuietly = (bank: ReturnType<typeof memoryBank>) => sweep(bank.runner, bank.scope, { quietMs: 0, logger: silentLogger });

describe("dead letters: the sweep tries every stream again in turn", () => {
  it("a fixed subscriber's dead letter is applied by the sweep even behind 100 letters of a subscriber the app has removed", async () => {
    let broken = true;
    const bank = bankWith(() => (broken ? "picky is broken" : null));
    for (let i = 0; i < 100; i += 1) {
      await bank.store.deadLetter({ subscriber: "old_projection", streamName: `account-old${i}`, version: 0, error: "boom", attempts: 5, envelope: {}, recordedAt: "2026-01-01T00:00:00.000Z" });
    }
    await bank.call("open_account", { account_id: "p" }, "ada");
    await bank.settle();
    await sweepQuietly(bank);
    expect(await bank.store.query(statement`SELECT subscriber, stream FROM x3m_dead_letters WHERE subscriber = 'picky'`)).toEqual([{ subscriber: "picky", stream: "account-p" }]);

    broken = false;
    // Quiet now: only the dead letter brings the stream back to the sweep.
    await sweepQuietly(bank);
    expect(await bank.store.query(statement`SELECT id FROM picky`)).toEqual([{ id: "p" }]);
    expect(await bank.store.query(statement`SELECT stream FROM x3m_dead_letters WHERE subscriber = 'picky'`)).toEqual([]);
    // The removed subscriber's letters stay for operators.
    expect(await bank.store.query(statement`SELECT COUNT(*) AS n FROM x3m_dead_letters WHERE subscriber = 'old_projection'`)).toEqual([{ n: 100 }]);
  });

  it("100 streams that still fail do not hold back a stream whose cause was fixed: a letter kept again goes to the back", async () => {
    let outage = true;
    const bank = bankWith((event) => (event.aggregateId.startsWith("bad") ? "poison: never projected" : outage ? "a passing failure" : null));
    for (let i = 0; i < 100; i += 1) {
      // Two letters each: the sweep keeps the first again (at its checkpoint), the second stays as it was.
      await bank.call("open_account", { account_id: `bad${i}` }, "ada");
      await bank.call("deposit", { account_id: `bad${i}`, amount: 1 }, "ada");
    }
    await bank.settle();
    await bank.call("open_account", { account_id: "p" }, "ada");
    await bank.settle();
    await sweepQuietly(bank);

    outage = false;
    for (let run = 0; run < 3; run += 1) await sweepQuietly(bank);
    expect(await bank.store.query(statement`SELECT id FROM picky`)).toEqual([{ id: "p" }]);
    expect(await bank.store.query(statement`SELECT COUNT(DISTINCT stream) AS n FROM x3m_dead_letters WHERE subscriber = 'picky'`)).toEqual([{ n: 100 }]);
  });
});

describe("dead letters past their stream's end, and attempts", () => {
  it("100 letters of events past their streams' end (hard-deleted) are forgotten by the sweep and do not hold back a stream whose cause was fixed", async () => {
    let broken = true;
    const bank = bankWith(() => (broken ? "picky is broken" : null));
    for (let i = 0; i < 100; i += 1) {
      // Streams that no longer exist: their objects read as empty, so nothing can apply these.
      await bank.store.deadLetter({ subscriber: "picky", streamName: `account-gone${i}`, version: 3, error: "boom", attempts: 5, envelope: {}, recordedAt: "2026-01-01T00:00:00.000Z" });
    }
    await bank.call("open_account", { account_id: "p" }, "ada");
    await bank.settle();
    // And a letter past the end of a stream that exists (version 0 is its last event).
    await bank.store.deadLetter({ subscriber: "picky", streamName: "account-p", version: 7, error: "boom", attempts: 5, envelope: {}, recordedAt: "2026-01-01T00:00:00.000Z" });
    // Still broken: the sweep tries p (its outbox recorded it) and keeps it again; the cursor passes it.
    const first = await sweepQuietly(bank);
    expect(first.failed.map((failure) => failure.streamName)).toEqual(["account-p"]);
    expect(first.resolved).toBe(100);

    broken = false;
    // Quiet now: only its letters bring p back.
    for (let run = 0; run < 2; run += 1) await sweepQuietly(bank);
    expect(await bank.store.query(statement`SELECT id FROM picky`)).toEqual([{ id: "p" }]);
    expect(await bank.store.deadLetters(200)).toEqual([]);
  });

  it("a letter the sweep keeps again keeps the attempts counted so far, not 1", async () => {
    const bank = bankWith(() => "picky is broken");
    await bank.call("open_account", { account_id: "p" }, "ada");
    await bank.settle();
    const [letter] = await bank.store.deadLetters(10);
    // As the queue consumer keeps it after five deliveries.
    await bank.store.deadLetter({ ...letter!, attempts: 5 });
    await sweepQuietly(bank);
    expect((await bank.store.deadLetters(10)).map((kept) => [kept.version, kept.attempts])).toEqual([[0, 5]]);
  });

  it("a message delivered again after its dead letter (the dead-letter queue was down) keeps the queue's count, not a sum", async () => {
    const bank = memoryBank({ subscribers: () => [accountsView, picky(() => "picky is broken")], maxAttempts: 3 });
    bank.db.exec("CREATE TABLE picky (id TEXT PRIMARY KEY)");
    await bank.call("open_account", { account_id: "p" }, "ada");
    await bank.settle();
    const [letter] = await bank.store.deadLetters(10);
    expect(letter?.attempts).toBe(3);
    // Its send to the dead-letter queue failed: the queue delivers the message a fourth time.
    const [outcome] = await bank.runner.deliver([{ id: "m", attempts: 4, body: letter!.envelope }], bank.scope);
    expect(outcome?.kind).toBe("dead_letter");
    expect((await bank.store.deadLetters(10)).map((kept) => kept.attempts)).toEqual([4]);
  });
});

describe("dead letters: a catch-up forgets those it applied", () => {
  it("a catch-up that applies a dead-lettered event forgets its letter, as the sweep does", async () => {
    let broken = true;
    const bank = bankWith(() => (broken ? "picky is broken" : null));
    await bank.call("open_account", { account_id: "p" }, "ada");
    await bank.settle();
    expect(await bank.store.deadLetters(10)).toMatchObject([{ subscriber: "picky", streamName: "account-p", version: 0 }]);

    broken = false;
    const progress = await catchUp(bank.runner, "picky", bank.scope);
    expect(progress.events).toBe(1);
    expect(await bank.store.query(statement`SELECT id FROM picky`)).toEqual([{ id: "p" }]);
    expect(await bank.store.deadLetters(10)).toEqual([]);
  });
});
