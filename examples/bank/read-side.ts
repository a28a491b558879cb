import * as v from "valibot";
import { isJsonObject, ok, Router, error } from "../../src/core/index.js";
import { readSide, workflowLauncher } from "../../src/worker/index.js";
import type { Env } from "../env.js";
import { identityOf } from "../identity.js";
import { bankQueries } from "./queries.js";
import { accountsView, bankTotals } from "./read-models.js";
import { bank, transfers, transferServices } from "./services.js";
import { transferChecks } from "./transfer-checks.js";
import { transferManager } from "./transfer-process.js";

/** Where transfer processes run: instances of the TRANSFER_WORKFLOW Workflow. */
const transferLauncher = workflowLauncher((env: Env) => env.TRANSFER_WORKFLOW);

/** The transfer process manager: a Workflow instance per `TransferRequested`. */
const transfersManager = transferManager(transferLauncher);

/** The transfers' checks: `check_transfer`, where each transfer's own follow-up revives a stalled process. */
export const transferCheck = transferChecks<Env>({ transfers, manager: transfersManager });

/**
 * The bank's read side: the events the accounts and transfers publish (queue EVENTS) go to the two
 * projections (D1 READ_MODELS) and to the transfer process manager, which runs each transfer as a
 * Workflow (TRANSFER_WORKFLOW). Gaps are read back from the aggregates' objects; the sweep (the
 * Worker's Cron Trigger) delivers whatever the queue lost.
 */
export const bankReadSide = readSide<Env>({
  subscribers: [accountsView, bankTotals, transfersManager],
  database: (env) => env.READ_MODELS,
  sources: [bank, transferServices],
  deadLetterQueue: (env) => env.DEAD_LETTERS,
});

/** `list_accounts` and `bank_totals`, answered from D1. */
export const bankReads = bankQueries<Env>((env) => bankReadSide.store(env));

/** How long an operator's rebuild or catch-up may run in its call: well inside the gateway's 5 s timeout. */
const REPLAY_BUDGET_MS = 4_000;

const ProjectionRequest = v.object({ projection: v.picklist([accountsView.name, bankTotals.name]) });

/**
 * Operators' services (admin callers only): rebuild a projection from the aggregates' streams,
 * catch one up, and list dead letters.
 */
export const readSideOperations = new Router<Env>({
  authorize: (message) => {
    const identity = message.assigns["identity"];
    if (identity === undefined) return "unauthorized";
    return identityOf(isJsonObject(identity) ? identity : null)?.admin === true ? "ok" : "forbidden";
  },
})
  // Each stops starting streams before the call's timeout (the gateway's 5 s): a rebuild that
  // stopped early says so, and catch_up_projection, called again until it says done, finishes it.
  // A dry run (POST /v1/validate/…, the "Dry run" box of /docs) checks the request and the caller's
  // rights, and changes nothing: the handler runs for it as for a real call, so it says so here.
  .service("rebuild_projection", { schema: ProjectionRequest }, async (message, { env }) => {
    if (message.dryRun !== false) return ok(message, { projection: message.request.projection, dryRun: true });
    const progress = await bankReadSide.rebuild(env, message.request.projection, { signal: AbortSignal.timeout(REPLAY_BUDGET_MS) });
    return progress.failed.length === 0 && !progress.stopped ? ok(message, progress) : error(message, "rebuild_incomplete", progress);
  })
  .service("catch_up_projection", { schema: ProjectionRequest }, async (message, { env }) => {
    if (message.dryRun !== false) return ok(message, { projection: message.request.projection, dryRun: true });
    const progress = await bankReadSide.catchUp(env, message.request.projection, { signal: AbortSignal.timeout(REPLAY_BUDGET_MS) });
    return progress.failed.length === 0 && !progress.stopped ? ok(message, progress) : error(message, "catch_up_incomplete", progress);
  })
  .service("dead_letters", async (message, { env }) => ok(message, { deadLetters: await bankReadSide.deadLetters(env, 50) }));
