import { aggregateObject, durableObjectScheduler, schedulerObject } from "../src/objects/index.js";
import { createGateway, remoteNodesOf } from "../src/worker/index.js";
import { account } from "./bank/account.js";
import { accounts, bank } from "./bank/services.js";
import type { Env } from "./env.js";
import { greeter } from "./greeter.js";
import { identify, isAdmin, principalOf, reidentify } from "./identity.js";

const services = [greeter, bank];

/** Other nodes: the fx Worker, through its service binding. */
const nodes = { fx: (env: Env) => env.FX_NODE };

/** The Durable Object class that holds each bank account (bound as ACCOUNTS in wrangler.toml). */
export class AccountObject extends aggregateObject(account) {}

/**
 * The scheduler's Durable Object class (bound as SCHEDULER): one per key, delivering scheduled
 * messages to this Worker's services with the rights their callers have at delivery
 * (`reidentify`, from the current API_TOKENS). Admins see and cancel everyone's schedules; the
 * default limits apply. Failed deliveries are retried by the default policy.
 */
export class SchedulerObject extends schedulerObject<Env>({ services, nodes: (env) => remoteNodesOf(nodes, env), reidentify, isAdmin }) {}

/** The demo Worker that `npm run dev` serves: the greeter and the bank behind the HTTP gateway. */
export default createGateway<Env>({
  services,
  node: "gateway",
  nodes,
  identify,
  principalOf,
  admin: { token: (env) => env.ADMIN_TOKEN, aggregates: [accounts] },
  scheduler: durableObjectScheduler((env) => env.SCHEDULER),
});
