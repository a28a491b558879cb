import * as v from "valibot";
import { accept, Aggregate, invalid, reply, type CommandContext } from "../../src/core/index.js";
import { identityOf } from "../identity.js";
import { Id } from "./ids.js";

/** The identity the transfers' own duties act as (their process, their checks): an admin the accounts accept, set only by code. */
export const TRANSFER_SYSTEM = { user: "system:transfers", admin: true };

/**
 * How long a transfer may stay unsettled before its process is revived. A transfer takes
 * milliseconds; this is for one whose Workflow instance stalled or never started.
 */
export const TRANSFER_OVERDUE_MS = 30_000;

/** Checks per transfer, at most: the n-th comes TRANSFER_OVERDUE_MS × 2^(n-1) after the one before. */
export const TRANSFER_CHECKS = 4;

/** A transfer between two accounts, as the transfer process moves it along. */
export type TransferState = {
  status: "new" | "requested" | "completed" | "failed";
  from: string;
  to: string;
  amount: number;
  /** Who asked for it. */
  by: string;
  reason?: string;
  refunded?: boolean;
  /** Why the source is owed its money back: recorded before the refund is attempted. */
  refundOwed?: string;
  /**
   * What the destination answered when it refused (its reason: `not_found`, closed…): for admins
   * only. The requester is told only that it did not take the transfer — whether an account they
   * may not see is missing or closed is not theirs to learn.
   */
  refusal?: string;
};

/** Everything that can happen to a transfer. */
export type TransferEvent =
  | { type: "TransferRequested"; data: { from: string; to: string; amount: number; by: string } }
  | { type: "TransferCompleted"; data: null }
  | { type: "TransferRefundOwed"; data: { reason: string; refusal?: string } }
  | { type: "TransferFailed"; data: { reason: string; refunded: boolean } };

/** What the requester is told when the destination refused, whatever it answered (missing, closed…). */
export const DESTINATION_REFUSED = "the destination did not take the transfer";

const AccountId = Id;
const TransferId = v.pipe(Id, v.maxLength(60));
const Amount = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000_000));
const TransferRequest = v.object({ transfer_id: v.optional(TransferId), from: AccountId, to: AccountId, amount: Amount });
const TransferRef = v.object({ transfer_id: TransferId });
const OweRequest = v.object({
  transfer_id: TransferId,
  reason: v.pipe(v.string(), v.maxLength(500)),
  refusal: v.optional(v.pipe(v.string(), v.maxLength(500))),
});
const FailRequest = v.object({ transfer_id: TransferId, reason: v.pipe(v.string(), v.maxLength(500)), refunded: v.boolean() });

/** Who asked for the transfer, or an admin (the transfer process acts as one). */
function isRequesterOrAdmin(state: TransferState, { caller }: CommandContext): boolean {
  const who = identityOf(caller);
  return who !== null && (who.admin || who.user === state.by);
}

/**
 * A transfer between two bank accounts. `transfer` records the request (`TransferRequested`) and
 * schedules its own check, a follow-up TRANSFER_OVERDUE_MS later (`check_transfer`, in
 * transfer-checks.ts, revives a stalled process); the transfer process (transfer-process.ts)
 * reacts to the request — withdraw from `from`, deposit to `to`, refund `from` when `to` refuses
 * — and settles it with the private commands `complete_transfer` or `fail_transfer`, which cancel
 * the check; `owe_refund` records that a refund is owed before it is attempted.
 */
export const transfer = new Aggregate<TransferState, TransferEvent>({
  stream: "transfer",
  id: "transfer_id",
  initialState: () => ({ status: "new", from: "", to: "", amount: 0, by: "" }),
  apply: (state, event) => {
    switch (event.type) {
      case "TransferRequested":
        return { ...state, ...event.data, status: "requested" };
      case "TransferCompleted":
        return { ...state, status: "completed" };
      case "TransferRefundOwed":
        return { ...state, refundOwed: event.data.reason, ...(event.data.refusal === undefined ? {} : { refusal: event.data.refusal }) };
      case "TransferFailed":
        return { ...state, status: "failed", reason: event.data.reason, refunded: event.data.refunded };
    }
  },
  access: isRequesterOrAdmin,
})
  .command("transfer", { creates: true, schema: TransferRequest }, ({ from, to, amount }, _state, { caller, id }) => {
    if (from === to) return invalid("to", "must differ from `from`");
    const by = identityOf(caller)?.user;
    if (by === undefined) return invalid("", "an identified caller is needed");
    // The check runs as the transfers' system identity: it must not depend on the requester
    // staying around (a revoked token would otherwise leave a stalled transfer unchecked).
    const check = { name: "check", service: "check_transfer", request: { transfer_id: id }, inMs: TRANSFER_OVERDUE_MS, principal: TRANSFER_SYSTEM.user };
    return accept({ type: "TransferRequested", data: { from, to, amount, by } }, { schedule: check });
  })
  .command("get_transfer", { schema: TransferRef }, (_request, { refusal, ...state }, { id, caller }) =>
    // What the destination answered is for admins: to the requester, a missing and a closed account read the same.
    reply(identityOf(caller)?.admin === true && refusal !== undefined ? { id, ...state, refusal } : { id, ...state }),
  )
  .command("complete_transfer", { schema: TransferRef }, (_request, state) =>
    state.status === "requested" ? accept({ type: "TransferCompleted", data: null }, { cancel: "check" }) : undefined,
  )
  .command("owe_refund", { schema: OweRequest }, ({ reason, refusal }, state) =>
    state.status === "requested" && state.refundOwed === undefined
      ? { type: "TransferRefundOwed", data: refusal === undefined ? { reason } : { reason, refusal } }
      : undefined,
  )
  .command("fail_transfer", { schema: FailRequest }, ({ reason, refunded }, state) =>
    state.status === "requested" ? accept({ type: "TransferFailed", data: { reason, refunded } }, { cancel: "check" }) : undefined,
  );
