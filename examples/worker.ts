import { aggregateObject, processWorkflow, schedulerObject } from "../src/objects/index.js";
import { browserPages, durableObjectConsoleSessions } from "../src/pages/index.js";
import { createGateway, remoteNodesOf } from "../src/worker/index.js";
import { account } from "./bank/account.js";
import { bankReadSide, bankReads, readSideOperations, transferCheck } from "./bank/read-side.js";
import { bank, scheduler, transferServices } from "./bank/services.js";
import { transfer, TRANSFER_SYSTEM } from "./bank/transfer.js";
import { checkAgain } from "./bank/transfer-checks.js";
import { transferProcess, type TransferInput } from "./bank/transfer-process.js";
import type { Env } from "./env.js";
import { greeter } from "./greeter.js";
import { identify, isAdmin, principalOf, reidentify } from "./identity.js";

const services = [greeter, bank, transferServices, bankReads, readSideOperations, transferCheck.router];

/** Other nodes: the fx Worker, through its service binding. */
const nodes = { fx: (env: Env) => env.FX_NODE };

/**
 * The Durable Object class that holds each bank account (bound as ACCOUNTS in wrangler.toml). It
 * publishes its committed events to the EVENTS queue for the read side.
 */
export class AccountObject extends aggregateObject(account, { outbox: bankReadSide.outbox((env) => env.EVENTS) }) {}

/**
 * The Durable Object class that holds each transfer (bound as TRANSFERS); publishes to EVENTS too.
 * Each transfer's check (a follow-up of its `transfer` decision) is delivered from its object's
 * alarm to `check_transfer`, as the transfers' system identity, and delivered again while the
 * transfer stays unsettled (`checkAgain`).
 */
export class TransferObject extends aggregateObject(transfer, {
  outbox: bankReadSide.outbox((env) => env.EVENTS),
  followUps: {
    services,
    reidentify: (principal, env: Env) => (principal === TRANSFER_SYSTEM.user ? TRANSFER_SYSTEM : reidentify(principal, env)),
    hooks: { serviceResponded: checkAgain },
  },
}) {}

/**
 * The transfer process as a Workflow (bound as TRANSFER_WORKFLOW): withdraw, deposit, refund when
 * the destination refuses — each step a command applied once, however often it is retried.
 */
export class TransferWorkflow extends processWorkflow<Env, TransferInput>(transferProcess, { services }) {}

/**
 * The scheduler's Durable Object class (bound as SCHEDULER): one per key, delivering scheduled
 * messages to this Worker's services with the rights their callers have at delivery
 * (`reidentify`, from the current API_TOKENS). Admins see and cancel everyone's schedules; the
 * default limits apply. Failed deliveries are retried by the default policy.
 */
export class SchedulerObject extends schedulerObject<Env>({ services, nodes: (env) => remoteNodesOf(nodes, env), reidentify, isAdmin }) {}

/**
 * The console's session generation (bound as CONSOLE_SESSIONS): logging out of /console moves it
 * on, which ends every console session.
 */
export { ConsoleSessionObject } from "../src/pages/index.js";

/** The HTTP gateway: the greeter, the bank, transfers and the read models' queries. */
const gateway = createGateway<Env>({
  services,
  node: "gateway",
  nodes,
  identify,
  principalOf,
  // The admin routes and the console; failed admin-token checks are counted by ADMIN_RATE_LIMIT.
  // Erasure on request (POST /v1/streams/:stream/:id/erase, the console's Erase) through the read
  // side: an aggregate's storage, its schedules on the key of its id, its read model rows.
  admin: { token: (env) => env.ADMIN_TOKEN, aggregates: [bank, transferServices], rateLimit: (env) => env.ADMIN_RATE_LIMIT, erasure: { readSide: bankReadSide } },
  scheduler,
  // The browser pages: GET /v1/openapi.json, /docs, and /console (with the admin token).
  pages: browserPages<Env>({
    // The console's sessions end when someone logs out; its read side page shows checkpoints,
    // dead letters, catch-ups, rebuilds and sweeps.
    console: { sessions: durableObjectConsoleSessions((env: Env) => env.CONSOLE_SESSIONS), readSide: bankReadSide },
    // This names the API and gives examples; the valibot schemas describe the requests by themselves.
    openapi: {
      title: "x3m-system demo",
      description: "The greeter and the bank accounts of the demo Worker. Bank services need a bearer token (npm run dev: dev-ada, dev-bob, dev-root).",
      services: {
        greet: { summary: "Greets someone", example: { name: "Ada" } },
        open_account: { summary: "Opens an account in the caller's name", example: { account_id: "ada-1" } },
        ensure_account: { summary: "Opens the account unless it exists", example: { account_id: "ada-1" } },
        deposit: { summary: "Deposits money", example: { account_id: "ada-1", amount: 100 } },
        withdraw: { summary: "Withdraws money (owner or admin)", example: { account_id: "ada-1", amount: 30 } },
        get_account: { summary: "The account's state (owner or admin)", example: { account_id: "ada-1" } },
        close_account: { summary: "Closes the account and pays out (owner or admin)", example: { account_id: "ada-1" } },
      },
    },
  }),
});

/**
 * The demo Worker that `npm run dev` serves: HTTP through the gateway, the events queue through the
 * read side, and its sweep every minute (the Cron Trigger in wrangler.toml).
 */
export default {
  fetch: gateway.fetch,
  queue: bankReadSide.queue,
  scheduled: bankReadSide.scheduled,
} satisfies ExportedHandler<Env>;
