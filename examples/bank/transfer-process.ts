import {
  processManager,
  type Json,
  type ProcessDefinition,
  type ProcessLauncher,
  type ProcessManager,
  type ServiceResponse,
} from "../../src/core/index.js";
import { DESTINATION_REFUSED, TRANSFER_SYSTEM, type TransferEvent, type TransferState } from "./transfer.js";

/** What a transfer process starts with: the transfer's id and its request. */
export type TransferInput = { transfer_id: string; from: string; to: string; amount: number; by: string };

/**
 * Moves money for one transfer: withdraw from `from` — as the requester, so only the owner of
 * `from` can move its money — then deposit to `to`; when `to` refuses (closed or missing),
 * refund `from`. Each step is a command whose message id is derived from the instance and the
 * step, so a retried step is applied once; the transfer is settled with `complete_transfer` or
 * `fail_transfer`.
 *
 * It may be run again from its start (the transfer's check revives a stalled instance), and a refusal is
 * decided again when asked again — a destination opened meanwhile would now take the deposit,
 * after the source was refunded. So the process reads the transfer first (a settled one is done)
 * and records that a refund is owed (`owe_refund`) before it refunds: a run again finds the
 * refund owed and finishes it instead of deciding the deposit again.
 */
export const transferProcess: ProcessDefinition<TransferInput> = {
  name: "transfer",
  identity: TRANSFER_SYSTEM,
  async run({ input }, process): Promise<Json> {
    const { transfer_id, from, to, amount, by } = input;
    const read = await process.command("read", "get_transfer", { transfer_id });
    const transfer = read.status === "ok" ? (read.payload as Partial<TransferState>) : null;
    if (transfer?.status === "completed" || transfer?.status === "failed") return { outcome: transfer.status, reason: transfer.reason ?? null };

    let reason = transfer?.refundOwed;
    if (reason === undefined) {
      const debit = await process.command("withdraw", "withdraw", { account_id: from, amount }, { identity: { user: by, admin: false } });
      if (debit.status !== "ok") {
        const refused = `the source refused: ${refusal(debit)}`;
        await process.command("fail", "fail_transfer", { transfer_id, reason: refused, refunded: false });
        return { outcome: "failed", reason: refused };
      }
      const credit = await process.command("deposit", "deposit", { account_id: to, amount });
      if (credit.status === "ok") {
        await process.command("complete", "complete_transfer", { transfer_id });
        return { outcome: "completed" };
      }
      // The requester may not see the destination: whatever it answered (missing, closed…), they
      // are told the same. What it answered is kept for admins (the transfer's stream, the console).
      reason = DESTINATION_REFUSED;
      await process.command("owe", "owe_refund", { transfer_id, reason, refusal: refusal(credit) });
    }
    const refund = await process.command("refund", "deposit", { account_id: from, amount });
    const refunded = refund.status === "ok";
    await process.command("fail", "fail_transfer", { transfer_id, reason, refunded });
    return { outcome: refunded ? "refunded" : "refund_refused", reason };
  },
};

/**
 * The process manager that starts a transfer process for each `TransferRequested`, with an
 * instance id derived from that event; `launcher` is where instances run (a Workflow in the
 * Worker, memory in tests).
 */
export function transferManager(launcher: (env: unknown) => ProcessLauncher): ProcessManager {
  return processManager<TransferEvent, TransferInput>({
    name: "transfers",
    streams: ["transfer"],
    start: { TransferRequested: (event) => ({ transfer_id: event.aggregateId, ...event.data }) },
    launcher,
    // An erased transfer: the manager keeps nothing in D1. Its process instance, if one ran, is
    // left as it is — a Workflow instance cannot be deleted; its history (the accounts and the
    // amount) stays until the platform's retention ends — and a step that reaches the erased
    // transfer afterwards is answered not_found, as for an unknown one.
    erase: () => [],
  });
}

/** A refusal in a few words: its reason, or its status. */
function refusal(answer: ServiceResponse): string {
  if (answer.status === "error") return answer.reason;
  if (answer.status === "validation_error") return answer.errors.map((e) => e.message).join("; ");
  return answer.status;
}
