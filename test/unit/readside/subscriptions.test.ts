import { afterEach, describe, expect, it } from "vitest";
import { catchUp, projectedEvent, projection, rebuild, SqlReadStore, sqliteExecutor, statement, SubscriptionRunner, silentLogger } from "../../../src/core/index.js";
import { envelopeOf } from "../../../src/core/readside/event-envelope.js";
import { type Delivery } from "../../../src/core/readside/subscription-runner.js";
import { type RebuildProgress } from "../../../src/core/readside/rebuild.js";
import type { AccountEvent } from "../../../examples/bank/account.js";
import { accountsView, bankTotals } from "../../../examples/bank/read-models.js";
import { closeBanks, memoryBank, readModels } from "./memory-bank.js";
import { recordingLogger } from "../../support/recorders.js";

afterEach(closeBanks);

/** A seeded random source, so that a failure can be replayed. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

type AccountRow = { id: string; owner: string; balance: number; status: string; version: number };

async function accountRows(bank: ReturnType<typeof memoryBank>): Promise<AccountRow[]> {
  return bank.store.query<AccountRow>(statement`SELECT id, owner, balance, status, version FROM bank_accounts ORDER BY id`);
}

/** Every envelope stream `streamName` would publish, read back from the aggregate. */
async function envelopesOf(bank: ReturnType<typeof memoryBank>, streamName: string) {
  const page = await bank.accounts.readStream({}, streamName, { from: 0, limit: 1000 });
  return page.events.map((event) => envelopeOf(projectedEvent("account", streamName, event), "now").envelope);
}

const delivery = (body: unknown, attempts = 1, id = `d${Math.random()}`): Delivery => ({ id, attempts, body });

describe("projections fed by an in-memory queue (the demo's own handlers, on Node)", () => {
  it("after 300 random commands delivered shuffled and duplicated, the read models equal the aggregates", async () => {
    const random = seeded(7);
    const bank = memoryBank({ chaos: { reorder: true, duplicate: 0.3, random }, batchSize: 7 });
    const ids = ["a", "b", "c", "d", "e"];
    for (const id of ids) await bank.call("open_account", { account_id: id });
    for (let i = 0; i < 300; i += 1) {
      const account_id = ids[Math.floor(random() * ids.length)] as string;
      const amount = 1 + Math.floor(random() * 50);
      await bank.call(random() < 0.6 ? "deposit" : "withdraw", { account_id, amount });
    }
    await bank.settle();

    const expected = await Promise.all(
      ids.map(async (id) => {
        const reply = await bank.call("get_account", { account_id: id });
        const state = reply?.status === "ok" ? (reply.payload as { balance: number; owner: string; status: string }) : null;
        return { id, owner: state?.owner, balance: state?.balance, status: state?.status, version: reply?.status === "ok" ? reply.version : -1 };
      }),
    );
    // `version` in the read model is the last event that changed the row (rejections change nothing).
    expect((await accountRows(bank)).map(({ version: _v, ...row }) => row)).toEqual(expected.map(({ version: _v, ...row }) => row));
    const [totals] = await bank.store.query<{ balance: number; accounts: number }>(statement`SELECT balance, accounts FROM bank_totals`);
    expect(totals).toEqual({ balance: expected.reduce((sum, row) => sum + (row.balance ?? 0), 0), accounts: 5 });
    expect(bank.queue.delivered).toBeGreaterThan(300);
    expect(bank.queue.deadLetters).toEqual([]);
  });

  it("a redelivered event is skipped: each version is applied once", async () => {
    const bank = memoryBank();
    await bank.call("open_account", { account_id: "r1" });
    await bank.call("deposit", { account_id: "r1", amount: 10 });
    await bank.settle();
    const envelopes = await envelopesOf(bank, "account-r1");
    const outcomes = await bank.runner.deliver([...envelopes, ...envelopes].map((body) => delivery(body, 2)), bank.scope);
    expect(outcomes.map((o) => o.kind)).toEqual(["ack", "ack", "ack", "ack"]);
    expect(await accountRows(bank)).toEqual([{ id: "r1", owner: "ada", balance: 10, status: "open", version: 1 }]);
  });

  it("a stream first refused (nothing stored) and then written publishes its events like any other", async () => {
    const bank = memoryBank();
    expect(await bank.call("deposit", { account_id: "late-1", amount: 5 })).toMatchObject({ status: "error", reason: "not_found" });
    await bank.call("open_account", { account_id: "late-1" });
    await bank.call("deposit", { account_id: "late-1", amount: 7 });
    await bank.settle();
    expect(await accountRows(bank)).toEqual([{ id: "late-1", owner: "ada", balance: 7, status: "open", version: 1 }]);
  });

  it("an event delivered ahead of the ones before it fills the gap from the stream, in version order", async () => {
    const bank = memoryBank();
    bank.queue.deadLetters.length = 0;
    await bank.call("open_account", { account_id: "g1" });
    for (const amount of [1, 2, 3, 4]) await bank.call("deposit", { account_id: "g1", amount });
    // Nothing delivered yet: only the last event arrives, first.
    const envelopes = await envelopesOf(bank, "account-g1");
    const outcomes = await bank.runner.deliver([delivery(envelopes[4])], bank.scope);
    expect(outcomes).toEqual([{ kind: "ack" }]);
    expect(await accountRows(bank)).toEqual([{ id: "g1", owner: "ada", balance: 10, status: "open", version: 4 }]);
    // The queue's own copies, arriving late, are duplicates now.
    await bank.settle();
    expect(await accountRows(bank)).toEqual([{ id: "g1", owner: "ada", balance: 10, status: "open", version: 4 }]);
  });

  it("two consumers delivering the same stream at once apply each event once (the checkpoint guards the commit)", async () => {
    const bank = memoryBank();
    await bank.call("open_account", { account_id: "c1" });
    for (let i = 0; i < 20; i += 1) await bank.call("deposit", { account_id: "c1", amount: 1 });
    const envelopes = await envelopesOf(bank, "account-c1");
    const otherStore = new SqlReadStore(sqliteExecutorOf(bank));
    let conflicts = 0;
    const commit = otherStore.commit.bind(otherStore);
    otherStore.commit = async (units) => {
      const results = await commit(units);
      conflicts += results.filter((r) => !r.ok && r.conflict).length;
      return results;
    };
    const other = new SubscriptionRunner({ subscribers: [accountsView, bankTotals], store: otherStore, logger: silentLogger });
    const halves = [envelopes.slice(0, 15), envelopes.slice(5)];
    const [first, second] = await Promise.all([
      bank.runner.deliver(halves[0]!.map((body) => delivery(body)), bank.scope),
      other.deliver(halves[1]!.map((body) => delivery(body)), bank.scope),
    ]);
    expect([...first!, ...second!].map((o) => o.kind)).toEqual(Array.from({ length: halves[0]!.length + halves[1]!.length }, () => "ack"));
    // The second consumer lost the race on both projections, and redid its work from the new checkpoints.
    expect(conflicts).toBeGreaterThan(0);
    expect(await accountRows(bank)).toEqual([{ id: "c1", owner: "ada", balance: 20, status: "open", version: 20 }]);
    const [totals] = await bank.store.query(statement`SELECT deposited FROM bank_totals`);
    expect(totals).toEqual({ deposited: 20 });
  });

  it("a handler that keeps failing is retried, then dead-lettered with its error (its log line in the event's trace); the stream's later events wait, and apply in order once it is fixed", async () => {
    let broken = true;
    const fragile = projection<AccountEvent>({
      name: "fragile",
      streams: ["account"],
      on: {
        MoneyDeposited: (e) => {
          if (broken && e.data.amount === 13) throw new Error("13 is unlucky");
          return statement`INSERT INTO fragile_log (stream, version) VALUES (${e.streamName}, ${e.version})`;
        },
      },
    });
    const log = recordingLogger();
    const bank = memoryBank({ subscribers: () => [fragile], maxAttempts: 3, logger: log.logger });
    bank.db.exec("CREATE TABLE fragile_log (stream TEXT, version INTEGER, PRIMARY KEY (stream, version))");
    await bank.call("open_account", { account_id: "p1" });
    for (const amount of [5, 13, 7]) await bank.call("deposit", { account_id: "p1", amount });
    await bank.settle();

    expect(bank.queue.deadLetters.map((l) => [l.subscriber, l.streamName, l.version, l.attempts])).toEqual([
      ["fragile", "account-p1", 2, 3],
      ["fragile", "account-p1", 3, 3],
    ]);
    expect(bank.queue.deadLetters[0]?.error).toBe("handler failed: 13 is unlucky");
    const [unlucky] = (await bank.accounts.readStream({}, "account-p1", { from: 2, limit: 1 })).events;
    expect(unlucky?.metadata.traceparent).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-01$/);
    const deadLettered = log.lines.filter((line) => line.message.startsWith("event dead-lettered"));
    expect(deadLettered.map((line) => [line.fields["version"], line.fields["traceId"]])).toEqual([
      [2, unlucky?.metadata.traceparent?.split("-")[1]],
      [3, expect.stringMatching(/^[\da-f]{32}$/)],
    ]);
    expect((await bank.store.deadLetters(10)).map((l) => l.version)).toEqual([3, 2]);
    const applied = () => bank.store.query<{ version: number }>(statement`SELECT version FROM fragile_log ORDER BY version`);
    expect((await applied()).map((r) => r.version)).toEqual([1]);

    broken = false;
    const progress = await catchUp(bank.runner, "fragile", bank.scope);
    expect(progress).toMatchObject({ streamsDone: 1, streamsTotal: 1, events: 2, failed: [] });
    expect((await applied()).map((r) => r.version)).toEqual([1, 2, 3]);
  });

  it("a failing event is delivered again later, each time later (from 1 s, doubling)", async () => {
    const failing = projection<AccountEvent>({ name: "failing", streams: ["account"], on: { AccountOpened: () => { throw new Error("down"); } } });
    const bank = memoryBank({ subscribers: () => [failing], maxAttempts: 10 });
    await bank.call("open_account", { account_id: "f1" });
    const [envelope] = await envelopesOf(bank, "account-f1");
    const delays = [];
    for (const attempts of [1, 2, 3, 4]) {
      const [outcome] = await bank.runner.deliver([delivery(envelope, attempts)], bank.scope);
      delays.push(outcome?.kind === "retry" ? outcome.delaySeconds : null);
    }
    expect(delays.map((d) => (d === null ? null : d >= 1))).toEqual([true, true, true, true]);
    // Doubling, less up to a fifth of jitter: each at least 1.6 times the one before.
    for (let i = 1; i < delays.length; i += 1) expect(delays[i]!).toBeGreaterThanOrEqual(Math.floor(delays[i - 1]! * 1.6));
    expect((await bank.runner.deliver([delivery(envelope, 4)], bank.scope))[0]).toMatchObject({ kind: "retry", errors: ["failing: handler failed: down"] });
  });

  it("a rebuild empties a projection and replays every stream of the catalog into it, reporting progress", async () => {
    const bank = memoryBank();
    for (const id of ["x1", "x2", "x3"]) {
      await bank.call("open_account", { account_id: id });
      await bank.call("deposit", { account_id: id, amount: 100 });
      await bank.call("withdraw", { account_id: id, amount: 30 });
    }
    await bank.settle();
    const before = await accountRows(bank);
    bank.db.exec("UPDATE bank_accounts SET balance = -1"); // damage it

    const reports: RebuildProgress[] = [];
    const progress = await rebuild(bank.runner, "bank_accounts", bank.scope, { onProgress: (p) => reports.push(p) });
    expect(progress).toMatchObject({ subscriber: "bank_accounts", streamsDone: 3, streamsTotal: 3, events: 9, failed: [] });
    expect(reports.map((r) => r.streamsDone)).toEqual([1, 2, 3]);
    expect(reports.at(-1)?.events).toBe(9);
    expect(await accountRows(bank)).toEqual(before);
  });

  it("an event given up on twice (its message delivered again) is one dead letter, the latest; messages that are no event are each kept", async () => {
    const bank = memoryBank();
    const letter = (version: number, error: string, subscriber = "bank_accounts", streamName = "account-x") => ({
      subscriber,
      streamName,
      version,
      error,
      attempts: 5,
      envelope: { version },
      recordedAt: new Date().toISOString(),
    });
    await bank.store.deadLetter(letter(3, "first try"));
    await bank.store.deadLetter(letter(4, "another event"));
    await bank.store.deadLetter(letter(3, "given up on again"));
    await bank.store.deadLetter(letter(3, "another subscriber", "bank_totals"));
    await bank.store.deadLetter(letter(-1, "not an event", "*", ""));
    await bank.store.deadLetter(letter(-1, "not an event either", "*", ""));
    expect((await bank.store.deadLetters(10)).map((l) => [l.subscriber, l.version, l.error])).toEqual([
      ["*", -1, "not an event either"],
      ["*", -1, "not an event"],
      ["bank_totals", 3, "another subscriber"],
      ["bank_accounts", 3, "given up on again"],
      ["bank_accounts", 4, "another event"],
    ]);
  });

  it("a process manager is never rebuilt: its checkpoints stay and no process starts again", async () => {
    const bank = memoryBank();
    await bank.call("open_account", { account_id: "p1" });
    await bank.call("open_account", { account_id: "p2" });
    await bank.call("deposit", { account_id: "p1", amount: 10 });
    await bank.call("transfer", { transfer_id: "t1", from: "p1", to: "p2", amount: 4 });
    await bank.settle();
    const started = bank.processes.instanceIds.length;
    expect(started).toBe(1);
    const manager = bank.runner.subscribers.find((s) => "kind" in s && s.kind === "process");
    expect(manager).toBeDefined();
    await expect(rebuild(bank.runner, manager!.name, bank.scope)).rejects.toThrow(/process manager/);
    expect(bank.processes.instanceIds.length).toBe(started);
  });

  it("a rebuild stopped by its signal says so, and a catch-up afterwards finishes it", async () => {
    const bank = memoryBank();
    for (const id of ["s1", "s2", "s3"]) {
      await bank.call("open_account", { account_id: id });
      await bank.call("deposit", { account_id: id, amount: 10 });
    }
    await bank.settle();
    const before = await accountRows(bank);

    const stop = new AbortController();
    const onProgress = (p: RebuildProgress) => p.streamsDone === 1 && stop.abort();
    const stopped = await rebuild(bank.runner, "bank_accounts", bank.scope, { concurrency: 1, signal: stop.signal, onProgress });
    expect(stopped).toMatchObject({ streamsDone: 1, streamsTotal: 3, events: 2, failed: [], stopped: true });
    expect(await accountRows(bank)).toHaveLength(1);

    const finished = await catchUp(bank.runner, "bank_accounts", bank.scope);
    expect(finished).toMatchObject({ streamsDone: 3, streamsTotal: 3, events: 4, stopped: false });
    expect(await accountRows(bank)).toEqual(before);
  });

  it("a projection added later catches up on every stream the catalog knows", async () => {
    const bank = memoryBank();
    await bank.call("open_account", { account_id: "n1" });
    await bank.call("deposit", { account_id: "n1", amount: 5 });
    await bank.settle();
    const late = projection<AccountEvent>({
      name: "late",
      streams: ["account"],
      on: { MoneyDeposited: (e) => statement`INSERT INTO late_seen (stream, amount) VALUES (${e.streamName}, ${e.data.amount})` },
    });
    bank.db.exec("CREATE TABLE late_seen (stream TEXT, amount INTEGER)");
    const runner = new SubscriptionRunner({ subscribers: [late], store: bank.store, logger: silentLogger });
    expect(await catchUp(runner, "late", bank.scope)).toMatchObject({ streamsDone: 1, events: 2 });
    expect(await bank.store.query(statement`SELECT stream, amount FROM late_seen`)).toEqual([{ stream: "account-n1", amount: 5 }]);
  });

  it("a message that is not an event envelope is dead-lettered at once, without touching any read model", async () => {
    const bank = memoryBank();
    const outcomes = await bank.runner.deliver([delivery({ not: "an envelope" })], bank.scope);
    expect(outcomes).toMatchObject([{ kind: "dead_letter", letters: [{ subscriber: "*", error: expect.stringMatching(/^not an event envelope/) }] }]);
  });

  it("a unit whose checkpoint moved is refused whole while the others in its batch commit", async () => {
    const db = readModels();
    db.exec("CREATE TABLE seen (what TEXT)");
    const store = new SqlReadStore(sqliteExecutor(db));
    const unit = (streamName: string, expected: number, version: number) => ({
      subscriber: "s",
      streamName,
      expected,
      version,
      statements: [statement`INSERT INTO seen (what) VALUES (${`${streamName}@${version}`})`],
    });
    expect(await store.commit([unit("a", -1, 0), unit("a", 0, 3), unit("b", -1, 1)])).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(await store.commit([unit("a", 3, 4), unit("b", 0, 2), unit("c", -1, 0)], [{ stream: "x", streamName: "c", version: 0 }])).toEqual([
      { ok: true },
      { ok: false, conflict: true },
      { ok: true },
    ]);
    expect(db.prepare("SELECT what FROM seen ORDER BY rowid").all()).toEqual([{ what: "a@0" }, { what: "a@3" }, { what: "b@1" }, { what: "a@4" }, { what: "c@0" }].map((r) => ({ ...r })));
    const checkpoints = await store.checkpoints(["s"], ["a", "b", "c"]);
    expect(checkpoints.get("s")).toEqual(new Map([["a", 4], ["b", 1], ["c", 0]]));
    expect(await store.streams("x", { after: null, limit: 10 })).toEqual([{ stream: "x", streamName: "c", version: 0 }]);
  });

  it("the read side's tables are created by its first use, beside the app's", async () => {
    const db = readModels();
    const store = new SqlReadStore(sqliteExecutor(db));
    expect(await store.checkpoints(["x"], ["s"])).toEqual(new Map([["x", new Map()]]));
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'x3m_%' ORDER BY name").all() as { name: string }[];
    expect(tables.map((t) => t.name)).toEqual(["x3m_checkpoints", "x3m_dead_letters", "x3m_erasures", "x3m_guard", "x3m_stream_usage", "x3m_streams", "x3m_sweeps"]);
  });
});

/** A second executor over the same in-memory database (another consumer, same D1). */
function sqliteExecutorOf(bank: ReturnType<typeof memoryBank>) {
  return sqliteExecutor(bank.db);
}
