import * as v from "valibot";
import {
  isJsonObject,
  ok,
  projectedEvent,
  retryTransientFailures,
  Router,
  type AggregateClient,
  type Message,
  type ProcessManager,
  type ReviveResult,
  type ServiceRespondedDecision,
} from "../../src/core/index.js";
import { TRANSFER_CHECKS, TRANSFER_OVERDUE_MS } from "./transfer.js";

const CheckRequest = v.object({ transfer_id: v.pipe(v.string(), v.minLength(1), v.maxLength(60)) });

/** What a check found: the transfer settled, or unsettled and what reviving its process did. */
export type TransferCheck = { settled: true } | { settled: false; revived: ReviveResult };

/**
 * The transfers' checks. A process that stalls — its Workflow instance errored, or (locally) was
 * running when `wrangler dev` stopped, which does not resume it — would leave money withdrawn and
 * never deposited. So each transfer schedules a check when it is requested (a follow-up of its
 * own decision, stored with its `TransferRequested`, cancelled when it settles): a check that
 * finds it unsettled revives its process — which reads the transfer first and records a refund
 * owed before paying it, so running it again from its start applies nothing twice — and is
 * delivered again later ({@link checkAgain}), up to TRANSFER_CHECKS times.
 */
export function transferChecks<Env>(options: { transfers: AggregateClient<Env>; manager: ProcessManager }) {
  /** Revives the transfer's process unless the transfer is settled. */
  const check = async (env: Env, transferId: string): Promise<TransferCheck> => {
    const streamName = `transfer-${transferId}`;
    const page = await options.transfers.readStream(env, streamName, { from: 0, limit: 10 });
    const requested = page.events[0];
    const settled = page.events.some((event) => event.type === "TransferCompleted" || event.type === "TransferFailed");
    if (settled || requested === undefined || requested.type !== "TransferRequested") return { settled: true };
    const revived = await options.manager.revive(projectedEvent("transfer", streamName, requested), env);
    return revived === null ? { settled: true } : { settled: false, revived };
  };

  /**
   * `check_transfer`, where the transfers' checks are delivered: private, so only this Worker's
   * own code reaches it (HTTP cannot call or schedule a private service).
   */
  const router = new Router<Env>({ authorize: () => "ok" }).privateService("check_transfer", { schema: CheckRequest }, async (message, { env }) =>
    ok(message, await check(env, message.request.transfer_id)),
  );

  return { router, check };
}

const retryTransient = retryTransientFailures();

/**
 * The transfers' `serviceResponded`: a check that found its transfer unsettled is delivered
 * again, TRANSFER_OVERDUE_MS × 2^n after the n-th, up to TRANSFER_CHECKS checks; anything else
 * as by default (transient failures retried).
 */
export function checkAgain(reply: Message): ServiceRespondedDecision {
  const answer = reply.response;
  if (reply.serviceName !== "check_transfer" || answer?.status !== "ok") return retryTransient(reply);
  const attempts = typeof reply.assigns["dispatchAttempts"] === "number" ? reply.assigns["dispatchAttempts"] : 1;
  const unsettled = isJsonObject(answer.payload) && answer.payload["settled"] === false;
  return unsettled && attempts < TRANSFER_CHECKS ? { retry: { inMs: TRANSFER_OVERDUE_MS * 2 ** attempts } } : "ok";
}
