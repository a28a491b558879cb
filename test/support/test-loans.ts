import { aggregateRouter, Dispatcher, Router, silentLogger } from "../../src/core/index.js";
import { aggregateObject, durableObjectAggregates } from "../../src/objects/index.js";
import { loan } from "./loan.js";

/** Principals that are nobody any more: their follow-ups are denied at delivery. */
export const goneBorrowers = new Set<string>();

/** Holds `held_chime` deliveries while true (polled: a promise of the test's would not wake the object). */
export const loanFaults = { holding: false, held: 0 };

/** The loans' commands as services (LOANS). */
export const loans = aggregateRouter(loan, durableObjectAggregates((env: Cloudflare.Env) => env.LOANS), { authorize: () => "ok" });

const toLoans = new Dispatcher<Cloudflare.Env>({ services: [loans], logger: silentLogger });

/** `held_chime`: waits while `loanFaults.holding`, then delivers the same message to `chime`. */
const held = new Router<Cloudflare.Env>({ authorize: () => "ok" }).privateService("held_chime", async (message, { env }) => {
  loanFaults.held += 1;
  while (loanFaults.holding) await new Promise((resolve) => setTimeout(resolve, 5));
  return toLoans.dispatch({ ...message, serviceName: "chime" }, { env });
});

/** Loans whose follow-ups are delivered from their own alarm, to the loans and `held_chime`. */
export class LoanObject extends aggregateObject(loan, {
  logger: silentLogger,
  followUps: {
    services: [loans, held],
    reidentify: (principal) => (goneBorrowers.has(principal) ? null : { user: principal }),
  },
}) {}
