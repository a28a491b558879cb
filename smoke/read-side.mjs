// The read side without Cloudflare: an aggregate publishing through its (in-memory) outbox to an
// in-memory queue that reorders and duplicates deliveries, a projection into an in-memory SQLite
// database, and a process manager whose processes run in memory. The same handlers a Worker
// runs with Queues, D1 and Workflows; this script runs unchanged on Node, Deno and Bun (after
// `npm run build`): node smoke/read-side.mjs | deno run -A smoke/read-side.mjs | bun smoke/read-side.mjs
import {
  Aggregate,
  aggregateRouter,
  aggregateSource,
  Dispatcher,
  MemoryAggregates,
  MemoryProcesses,
  MemoryQueue,
  newMessage,
  processManager,
  projection,
  publishToQueue,
  rebuild,
  reply,
  silentLogger,
  sqliteExecutor,
  SqlReadStore,
  statement,
  SubscriptionRunner,
  sweep,
} from "../dist/core/index.js";

/** An in-memory SQLite database: bun:sqlite on Bun, node:sqlite on Node (22.13+) and Deno (2.2+). */
async function memoryDatabase() {
  if (globalThis.Bun) {
    const { Database } = await import("bun:sqlite");
    return new Database(":memory:");
  }
  const { DatabaseSync } = await import("node:sqlite");
  return new DatabaseSync(":memory:");
}

/** A seeded random source, so that a failure can be replayed. */
function seeded(seed) {
  let state = seed;
  return () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

/** Runs the read side in memory and returns what happened. */
export async function main() {
  const account = new Aggregate({
    stream: "account",
    initialState: () => ({ balance: 0 }),
    apply: (state, event) => ({ balance: state.balance + (event.type === "Deposited" ? 1 : event.type === "Withdrawn" ? -1 : 0) * event.data.amount }),
  })
    .command("deposit", { creates: "if-missing" }, (request) => ({ type: "Deposited", data: { amount: Number(request.amount) } }))
    .command("withdraw", {}, (request, state) =>
      Number(request.amount) > state.balance ? [] : { type: "Withdrawn", data: { amount: Number(request.amount) } },
    )
    .command("balance", {}, (_request, state) => reply(state.balance))
    .command("move", {}, (request) => ({ type: "MoveRequested", data: { to: String(request.to), amount: Number(request.amount) } }));

  const db = await memoryDatabase();
  db.exec("CREATE TABLE balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)");
  const store = new SqlReadStore(sqliteExecutor(db));
  const balances = projection({
    name: "balances",
    streams: ["account"],
    on: {
      Deposited: (e) => statement`INSERT INTO balances (id, balance) VALUES (${e.aggregateId}, ${e.data.amount})
        ON CONFLICT (id) DO UPDATE SET balance = balance + excluded.balance`,
      Withdrawn: (e) => statement`UPDATE balances SET balance = balance - ${e.data.amount} WHERE id = ${e.aggregateId}`,
    },
    reset: [statement`DELETE FROM balances`],
  });

  let deliver = async () => [];
  const random = seeded(42);
  const queue = new MemoryQueue({ consumer: (batch) => deliver(batch), batchSize: 7, chaos: { reorder: true, duplicate: 0.3, random } });
  const accounts = new MemoryAggregates(account, { logger: silentLogger, publish: publishToQueue(account, queue) });
  const bank = aggregateRouter(account, accounts, { authorize: () => "ok" });
  const dispatcher = new Dispatcher({ services: [bank], env: {}, logger: silentLogger });
  const dispatch = (message) => dispatcher.dispatch(message);

  // A process per MoveRequested: withdraw here, deposit there; each step applied once.
  const move = {
    name: "move",
    identity: { user: "system" },
    async run({ input }, process) {
      const out = await process.command("withdraw", "withdraw", { id: input.from, amount: input.amount });
      if (out.status !== "ok") return { outcome: "refused" };
      await process.command("deposit", "deposit", { id: input.to, amount: input.amount });
      return { outcome: "moved" };
    },
  };
  const processes = new MemoryProcesses(move, { dispatch, wait: async () => {}, logger: silentLogger });
  const mover = processManager({
    name: "movers",
    streams: ["account"],
    start: { MoveRequested: (e) => ({ from: e.aggregateId, to: e.data.to, amount: e.data.amount }) },
    launcher: () => processes,
  });
  const runner = new SubscriptionRunner({ subscribers: [balances, mover], store, logger: silentLogger });
  const scope = { env: {}, source: aggregateSource({ account: accounts }, {}) };
  deliver = (batch) => runner.deliver(batch, scope);
  const send = async (service, rawRequest) => (await dispatch(newMessage(service, { rawRequest }))).response;
  const settle = async () => {
    for (let round = 0; round < 20 && (queue.size > 0 || round === 0); round += 1) {
      await queue.drain();
      await processes.settled();
    }
    if (queue.size > 0) throw new Error(`the queue still holds ${queue.size} messages after 20 rounds`);
  };

  for (let i = 0; i < 200; i += 1) await send("deposit", { id: `a${i % 5}`, amount: 1 + (i % 9) });
  await send("move", { id: "a0", to: "a1", amount: 50 });
  await settle();

  const rows = () => db.prepare("SELECT id, balance FROM balances ORDER BY id").all().map((row) => ({ id: row.id, balance: row.balance }));
  const aggregates = [];
  for (let i = 0; i < 5; i += 1) aggregates.push({ id: `a${i}`, balance: (await send("balance", { id: `a${i}` })).payload });
  const projected = rows();
  db.exec("UPDATE balances SET balance = 0");
  const rebuilt = await rebuild(runner, "balances", scope);
  // What the deposits and the one move of 50 leave, worked out here: a move applied twice shows.
  const expected = Array.from({ length: 5 }, (_, n) => ({ id: `a${n}`, balance: 0 }));
  for (let i = 0; i < 200; i += 1) expected[i % 5].balance += 1 + (i % 9);
  expected[0].balance -= 50;
  expected[1].balance += 50;
  // A queue that loses every message (past its retention, a stopped server): the outbox recorded
  // each stream in the catalog as it sent, and the sweep delivers what the projection missed.
  const wallet = new Aggregate({ stream: "wallet", initialState: () => ({}), apply: (state) => state }).command(
    "add",
    { creates: "if-missing" },
    (request) => ({ type: "Added", data: { amount: Number(request.amount) } }),
  );
  db.exec("CREATE TABLE wallets (id TEXT PRIMARY KEY, total INTEGER NOT NULL)");
  const totals = projection({
    name: "wallets",
    streams: ["wallet"],
    on: { Added: (e) => statement`INSERT INTO wallets (id, total) VALUES (${e.aggregateId}, ${e.data.amount}) ON CONFLICT (id) DO UPDATE SET total = total + excluded.total` },
  });
  const walletRunner = new SubscriptionRunner({ subscribers: [totals], store, logger: silentLogger });
  const lossy = new MemoryQueue({ consumer: (batch) => walletRunner.deliver(batch, walletScope), chaos: { drop: 1 } });
  const wallets = new MemoryAggregates(wallet, { logger: silentLogger, publish: publishToQueue(wallet, lossy, { catalog: store }) });
  const walletScope = { env: {}, source: aggregateSource({ wallet: wallets }, {}) };
  for (const amount of [1, 2, 3]) await wallets.execute({}, { streamName: "wallet-w1", command: "add", message: newMessage("add", { rawRequest: { id: "w1", amount } }) });
  await lossy.drain();
  const walletRows = () => db.prepare("SELECT id, total FROM wallets").all().map((row) => ({ id: row.id, total: row.total }));
  const before = walletRows();
  await sweep(walletRunner, walletScope, { quietMs: 0, logger: silentLogger });
  const swept = { lost: lossy.lost, before, after: walletRows() };

  return { expected, aggregates, projected, rebuilt: { progress: rebuilt, rows: rows() }, delivered: queue.delivered, processes: processes.instanceIds.map((id) => processes.status(id)), swept };
}
