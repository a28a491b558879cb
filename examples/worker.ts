import { aggregateObject, durableObjectScheduler, schedulerObject } from "../src/objects/index.js";
import { createGateway, processWorkflow, remoteNodesOf } from "../src/worker/index.js";
import { account } from "./bank/account.js";
import { bankReadSide, bankReads, readSideOperations } from "./bank/read-side.js";
import { bank, transferServices } from "./bank/services.js";
import { transfer } from "./bank/transfer.js";
import { transferProcess, type TransferInput } from "./bank/transfer-process.js";
import type { Env } from "./env.js";
import { greeter } from "./greeter.js";
import { identify } from "./identity.js";

const services = [greeter, bank, transferServices, bankReads, readSideOperations];

/** Other nodes: the fx Worker, through its service binding. */
const nodes = { fx: (env: Env) => env.FX_NODE };

/**
 * The Durable Object class that holds each bank account (bound as ACCOUNTS in wrangler.toml). It
 * publishes its committed events to the EVENTS queue for the read side.
 */
export class AccountObject extends aggregateObject(account, { outbox: { queue: (env: Env) => env.EVENTS } }) {}

/** The Durable Object class that holds each transfer (bound as TRANSFERS); publishes to EVENTS too. */
export class TransferObject extends aggregateObject(transfer, { outbox: { queue: (env: Env) => env.EVENTS } }) {}

/**
 * The transfer process as a Workflow (bound as TRANSFER_WORKFLOW): withdraw, deposit, refund when
 * the destination refuses — each step a command applied once, however often it is retried.
 */
export class TransferWorkflow extends processWorkflow<Env, TransferInput>(transferProcess, { services }) {}

/**
 * The scheduler's Durable Object class (bound as SCHEDULER): one per key, delivering scheduled
 * messages to this Worker's services. Failed deliveries are retried by the default policy.
 */
export class SchedulerObject extends schedulerObject<Env>({ services, nodes: (env) => remoteNodesOf(nodes, env) }) {}

/** The HTTP gateway: the greeter, the bank, transfers and the read models' queries. */
const gateway = createGateway<Env>({
  services,
  node: "gateway",
  nodes,
  identify,
  admin: { token: (env) => env.ADMIN_TOKEN, aggregates: [bank, transferServices] },
  scheduler: durableObjectScheduler((env) => env.SCHEDULER),
});

/** The demo Worker that `npm run dev` serves: HTTP through the gateway, the events queue through the read side. */
export default {
  fetch: gateway.fetch,
  queue: bankReadSide.queue,
} satisfies ExportedHandler<Env>;
