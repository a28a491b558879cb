import { aggregateRouter, aggregateSource, Dispatcher, MemoryAggregates, MemoryProcesses, MemoryQueue, newMessage, publishToQueue, silentLogger, sqliteExecutor, SqlReadStore, SubscriptionRunner, type AuthorizeResult, type JsonObject, type Logger, type Message, type Subscriber } from "../../../src/core/index.js";
import { type MemoryQueueOptions } from "../../../src/core/readside/memory-queue.js";
import { type RunScope } from "../../../src/core/readside/subscription-runner.js";
import { account } from "../../../examples/bank/account.js";
import { bankQueries } from "../../../examples/bank/queries.js";
import { accountsView, bankTotals } from "../../../examples/bank/read-models.js";
import { transfer, TRANSFER_SYSTEM } from "../../../examples/bank/transfer.js";
import { checkAgain, transferChecks } from "../../../examples/bank/transfer-checks.js";
import { transferManager, transferProcess, type TransferInput } from "../../../examples/bank/transfer-process.js";

import { readModels } from "./sqlite.mjs";

export { readModels };

/** The in-memory transfers made so far, whose follow-up timers {@link closeBanks} stops. */
const opened: { close(): void }[] = [];

/** Stops the follow-up timers of every bank made so far (call it after each test). */
export function closeBanks(): void {
  for (const aggregates of opened.splice(0)) aggregates.close();
}

/** Options of {@link memoryBank}. */
export type MemoryBankOptions = {
  /** The subscribers (default: the demo's two projections and its transfer process manager). */
  subscribers?: (processes: MemoryProcesses<TransferInput>) => Subscriber[];
  chaos?: MemoryQueueOptions["chaos"];
  batchSize?: number;
  maxAttempts?: number;
  /** Where the read side's consumer logs (default: nowhere). */
  logger?: Logger;
  /** Wraps how a process's commands are sent (default: straight to the bank's services). */
  processDispatch?: (dispatch: (message: Message) => Promise<Message>) => (message: Message) => Promise<Message>;
};

const identified = (message: Message): AuthorizeResult => (message.assigns["identity"] === undefined ? "unauthorized" : "ok");

/**
 * The bank demo's whole read side in this process: the account and transfer aggregates in memory,
 * publishing to an in-memory queue, delivered to the demo's projections (in-memory SQLite) and
 * transfer process manager (in-memory processes) — the same handlers the Worker runs.
 */
export function memoryBank(options: MemoryBankOptions = {}) {
  const db = readModels();
  const store = new SqlReadStore(sqliteExecutor(db));
  // The consumer is wired below; the queue only calls it when drained.
  let deliver: (batch: Parameters<MemoryQueueOptions["consumer"]>[0]) => ReturnType<MemoryQueueOptions["consumer"]> = async () => [];
  const queue = new MemoryQueue({ consumer: (batch) => deliver(batch), batchSize: options.batchSize ?? 10, ...(options.chaos ? { chaos: options.chaos } : {}) });
  const accounts = new MemoryAggregates(account, { logger: silentLogger, publish: publishToQueue(account, queue, { catalog: store }) });
  // Each transfer's check (a follow-up of its request) is delivered to `check_transfer` as the
  // transfers' system identity, as the Worker's TransferObject delivers it.
  const transfers = new MemoryAggregates(transfer, {
    logger: silentLogger,
    publish: publishToQueue(transfer, queue, { catalog: store }),
    followUps: {
      dispatch: (message, dispatchOptions) => dispatcher.dispatch(message, dispatchOptions),
      reidentify: (principal) => (principal === TRANSFER_SYSTEM.user ? TRANSFER_SYSTEM : { user: principal, admin: false }),
      hooks: { serviceResponded: checkAgain },
    },
  });
  opened.push(transfers);
  const bank = aggregateRouter(account, accounts, { authorize: identified });
  const transferServices = aggregateRouter(transfer, transfers, { authorize: identified, private: ["complete_transfer", "owe_refund", "fail_transfer"] });
  const queries = bankQueries(() => store);
  const checks = transferChecks<unknown>({ transfers, manager: transferManager(() => processes) });
  const dispatcher: Dispatcher<unknown> = new Dispatcher({ services: [bank, transferServices, queries, checks.router], logger: silentLogger });
  const dispatch = (message: Message) => dispatcher.dispatch(message, { timeoutMs: 10_000 });
  const processes = new MemoryProcesses(transferProcess, {
    dispatch: options.processDispatch?.(dispatch) ?? dispatch,
    wait: async () => {},
    logger: silentLogger,
  });
  const subscribers = options.subscribers?.(processes) ?? [accountsView, bankTotals, transferManager(() => processes)];
  const runner = new SubscriptionRunner({ subscribers, store, logger: options.logger ?? silentLogger, maxAttempts: options.maxAttempts ?? 5 });
  const scope: RunScope = { env: {}, source: aggregateSource([bank, transferServices], {}) };
  deliver = (batch) => runner.deliver(batch, scope);

  /** Sends `service` as `user` and answers the response. */
  const call = async (service: string, request: JsonObject, user = "ada", messageId?: string) =>
    (
      await dispatch(
        newMessage(service, { rawRequest: request, assigns: { identity: { user, admin: false }, principal: user }, ...(messageId ? { id: messageId } : {}) }),
      )
    ).response;

  /** Delivers everything queued, and lets every process started meanwhile finish (and what they publish). */
  const settle = async () => {
    for (let round = 0; round < 20; round += 1) {
      await queue.drain();
      await processes.settled();
      if (queue.size === 0) return;
    }
    throw new Error("the read side did not settle");
  };

  return { db, store, queue, runner, scope, accounts, transfers, processes, call, dispatch, settle };
}
