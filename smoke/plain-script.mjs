// x3m-system without Cloudflare: the seed README's greeter, a bank-account aggregate and a
// scheduled message, in one plain script, with the in-memory adapters. It runs unchanged on
// Node, Deno and Bun (after `npm run build`):
//   node smoke/plain-script.mjs | deno run -A smoke/plain-script.mjs | bun smoke/plain-script.mjs
import {
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

/** Runs the three examples and returns what happened. */
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
    .command("balance", {}, (_request, state) => reply(state.balance));
  const bank = aggregateRouter(account, new MemoryAggregates(account, { logger: silentLogger }), { authorize: () => "ok" });

  const dispatcher = new Dispatcher({ services: [greeter, bank], env: {}, logger: silentLogger });
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

  return { greeting, opened, deposits, retried, retriedAgain, refused, balance, scheduled, afterSchedule };
}

const isMain = import.meta.url === `file://${globalThis.process?.argv?.[1] ?? ""}` || (globalThis.Deno !== undefined && import.meta.main);
if (isMain) console.log(JSON.stringify(await main(), null, 2));
