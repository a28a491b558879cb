import * as v from "valibot";
import {
  newMessage,
  ok,
  projectedEvent,
  Router,
  type AggregateClient,
  type ProcessManager,
  type ReviveResult,
  type SchedulerClient,
  type Subscriber,
} from "../../src/core/index.js";

/**
 * How long a transfer may stay unsettled before its process is revived. A transfer takes
 * milliseconds; this is for one whose Workflow instance stalled or never started.
 */
export const TRANSFER_OVERDUE_MS = 30_000;

/** Checks per transfer: the n-th comes TRANSFER_OVERDUE_MS × 2^(n-1) after the one before. */
export const TRANSFER_CHECKS = 4;

const CheckRequest = v.object({
  transfer_id: v.pipe(v.string(), v.minLength(1), v.maxLength(60)),
  check: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(TRANSFER_CHECKS)),
});

/** Where the watchdog finds the transfers, schedules its checks, and whose processes it revives. */
export type TransferWatchOptions<Env> = {
  transfers: AggregateClient<Env>;
  scheduler: SchedulerClient<Env>;
  /** The transfers' process manager: it derives each process from its `TransferRequested`. */
  manager: ProcessManager;
};

/** What one check found: the transfer settled, or unsettled and what reviving its process did. */
export type TransferCheck = { settled: true } | { settled: false; revived: ReviveResult; nextCheck: number | null };

/**
 * The transfers' watchdog. A process that stalls — its Workflow instance errored, or (locally)
 * was running when `wrangler dev` stopped, which does not resume it — would leave money withdrawn
 * and never deposited. So each `TransferRequested` schedules a check (the scheduler's alarms
 * survive restarts); a check that finds the transfer unsettled revives its process — which reads
 * the transfer first and records a refund owed before paying it, so running it again from its
 * start applies nothing twice — and schedules the next, up to {@link TRANSFER_CHECKS}.
 */
export function transferWatch<Env>(options: TransferWatchOptions<Env>) {
  const schedule = async (env: Env, transferId: string, check: number) => {
    // The id is the check's: scheduling it again (a redelivered event) is answered as the first time.
    const message = newMessage("check_transfer", { id: `transfer-${transferId}:check-${check}`, rawRequest: { transfer_id: transferId, check } });
    const answer = await options.scheduler.schedule(env, {
      key: `transfer-${transferId}`,
      message,
      spec: { inMs: TRANSFER_OVERDUE_MS * 2 ** (check - 1) },
    });
    if (answer.status !== "ok") throw new Error(`check ${check} of transfer ${transferId} not scheduled: ${JSON.stringify(answer)}`);
  };

  /** Revives the transfer's process unless the transfer is settled. */
  const check = async (env: Env, transferId: string): Promise<{ settled: true } | { settled: false; revived: ReviveResult }> => {
    const streamName = `transfer-${transferId}`;
    const page = await options.transfers.readStream(env, streamName, { from: 0, limit: 10 });
    const requested = page.events[0];
    const settled = page.events.some((event) => event.type === "TransferCompleted" || event.type === "TransferFailed");
    if (settled || requested === undefined || requested.type !== "TransferRequested") return { settled: true };
    const revived = await options.manager.revive(projectedEvent("transfer", streamName, requested), env);
    return revived === null ? { settled: true } : { settled: false, revived };
  };

  /** For each TransferRequested, the first check. */
  const subscriber: Subscriber = {
    name: "transfer-watch",
    streams: ["transfer"],
    async handle(event, context) {
      if (event.type === "TransferRequested") await schedule(context.env as Env, event.aggregateId, 1);
      return [];
    },
    reset: () => [],
  };

  /**
   * `check_transfer`, the service the scheduler delivers checks to: private, so only this
   * Worker's own code reaches it (HTTP cannot call or schedule a private service).
   */
  const router = new Router<Env>({ authorize: () => "ok" }).privateService("check_transfer", { schema: CheckRequest }, async (message, { env }) => {
    const { transfer_id, check: n } = message.request;
    const found = await check(env, transfer_id);
    if (found.settled) return ok(message, found);
    const nextCheck = n < TRANSFER_CHECKS ? n + 1 : null;
    if (nextCheck !== null) await schedule(env, transfer_id, nextCheck);
    const result: TransferCheck = { ...found, nextCheck };
    return ok(message, result);
  });

  return { subscriber, router, check };
}
