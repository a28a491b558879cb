// x3m-system without Cloudflare: the seed README's greeter, a bank-account aggregate, a
// scheduled message and a decision's follow-ups, in one plain script, with the in-memory adapters. It runs unchanged on
// Node, Deno and Bun (after `npm run build`):
//   node smoke/plain-script.mjs | deno run -A smoke/plain-script.mjs | bun smoke/plain-script.mjs
import {
  accept,
  Aggregate,
  aggregateRouter,
  Dispatcher,
  MemoryAggregates,
  MemoryScheduler,
  newMessage,
  ok,
  reject,
  reply,
  Router,
  silentLogger,
} from "../dist/core/index.js";

/** Runs the four examples and returns what happened. */
export async function main() {
  // 1. The seed README's greeter.
  const greet = (message) => ok(message, `Hello, ${String(message.rawRequest?.name)}!`);
  const greeter = new Router({ authorize: () => "ok" }).service("greet", greet);

  // 2. A bank account, event sourced, its instances kept in memory.
  const account = new Aggregate({
    stream: "account",
    initialState: () => ({ balance: 0, open: false }),
    apply: (state, event) => {
      switch (event.type) {
        case "Opened":
          return { ...state, open: true };
        case "Deposited":
          return { ...state, balance: state.balance + event.data.amount };
        case "Withdrawn":
          return { ...state, balance: state.balance - event.data.amount };
        default:
          return state;
      }
    },
    snapshot: { every: 10 },
  })
    .command("open", { creates: true }, () => ({ type: "Opened", data: null }))
    .command("deposit", {}, (request) => ({ type: "Deposited", data: { amount: Number(request.amount) } }))
    .command("withdraw", {}, (request, state) => {
      const amount = Number(request.amount);
      if (amount > state.balance) return reject("insufficient_funds", { events: { type: "WithdrawalRejected", data: { amount } } });
      return { type: "Withdrawn", data: { amount } };
    })
    .command("balance", {}, (_request, state) => reply(state.balance))
    // A hold that lets go of itself 50 ms later (a follow-up of its own decision), unless released first.
    .command("hold", {}, (request) =>
      accept({ type: "Held", data: null }, { schedule: { name: "expiry", service: "expire", request: { id: request.id }, inMs: 50 } }),
    )
    .command("expire", {}, () => ({ type: "Expired", data: null }))
    .command("release", {}, () => accept({ type: "Released", data: null }, { cancel: "expiry" }));
  let dispatcher;
  const accounts = new MemoryAggregates(account, { logger: silentLogger, followUps: { dispatch: (m, o) => dispatcher.dispatch(m, o) } });
  const bank = aggregateRouter(account, accounts, { authorize: () => "ok" });

  dispatcher = new Dispatcher({ services: [greeter, bank], env: {}, logger: silentLogger });
  const send = async (service, rawRequest, id) => (await dispatcher.dispatch(newMessage(service, { rawRequest, id }))).response;

  const greeting = await send("greet", { name: "Ada" });
  const opened = await send("open", { id: "acc-1" });
  const deposits = await Promise.all(Array.from({ length: 25 }, () => send("deposit", { id: "acc-1", amount: 4 })));
  const retried = await send("deposit", { id: "acc-1", amount: 4 }, "same-id");
  const retriedAgain = await send("deposit", { id: "acc-1", amount: 4 }, "same-id");
  const refused = await send("withdraw", { id: "acc-1", amount: 1000 });
  const balance = await send("balance", { id: "acc-1" });

  // 3. A scheduled message: a deposit 50 ms from now, delivered by the in-memory scheduler.
  const scheduler = new MemoryScheduler({ dispatch: (m, o) => dispatcher.dispatch(m, o), logger: silentLogger });
  const scheduled = await scheduler.schedule({}, {
    key: "acc-1",
    message: newMessage("deposit", { rawRequest: { id: "acc-1", amount: 100 } }),
    spec: { inMs: 50 },
  });
  for (let waited = 0; (await scheduler.list({}, "acc-1")).length > 0 && waited < 5000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  scheduler.close();
  const afterSchedule = await send("balance", { id: "acc-1" });

  // 4. Follow-ups: acc-1's hold expires by itself; acc-2's is released first, and never expires.
  await send("open", { id: "acc-2" });
  await send("hold", { id: "acc-1" });
  await send("hold", { id: "acc-2" });
  await send("release", { id: "acc-2" });
  const pending = async (id) => (await accounts.readStream({}, `account-${id}`, { from: 0, limit: 100 })).followUps.length;
  for (let waited = 0; (await pending("acc-1")) > 0 && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 100));
  accounts.close();
  const eventsOf = async (id) => (await accounts.readStream({}, `account-${id}`, { from: 29, limit: 100 })).events.map((event) => event.type);
  const followUps = { expired: await eventsOf("acc-1"), released: (await accounts.readStream({}, "account-acc-2", { from: 0, limit: 100 })).events.map((e) => e.type) };

  return { greeting, opened, deposits, retried, retriedAgain, refused, balance, scheduled, afterSchedule, followUps };
}

const isMain = import.meta.url === `file://${globalThis.process?.argv?.[1] ?? ""}` || (globalThis.Deno !== undefined && import.meta.main);
if (isMain) console.log(JSON.stringify(await main(), null, 2));
