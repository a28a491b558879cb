import * as v from "valibot";
import { Aggregate, invalid, reply, type CommandContext } from "../../src/core/index.js";
import { identityOf } from "../identity.js";

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
};

/** Everything that can happen to a transfer. */
export type TransferEvent =
  | { type: "TransferRequested"; data: { from: string; to: string; amount: number; by: string } }
  | { type: "TransferCompleted"; data: null }
  | { type: "TransferRefundOwed"; data: { reason: string } }
  | { type: "TransferFailed"; data: { reason: string; refunded: boolean } };

const AccountId = v.pipe(v.string(), v.minLength(1), v.maxLength(200));
const TransferId = v.pipe(v.string(), v.minLength(1), v.maxLength(60));
const Amount = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000_000));
const TransferRequest = v.object({ transfer_id: v.optional(TransferId), from: AccountId, to: AccountId, amount: Amount });
const TransferRef = v.object({ transfer_id: TransferId });
const OweRequest = v.object({ transfer_id: TransferId, reason: v.pipe(v.string(), v.maxLength(500)) });
const FailRequest = v.object({ transfer_id: TransferId, reason: v.pipe(v.string(), v.maxLength(500)), refunded: v.boolean() });

/** Who asked for the transfer, or an admin (the transfer process acts as one). */
function isRequesterOrAdmin(state: TransferState, { caller }: CommandContext): boolean {
  const who = identityOf(caller);
  return who !== null && (who.admin || who.user === state.by);
}

/**
 * A transfer between two bank accounts. `transfer` records the request (`TransferRequested`); the
 * transfer process (transfer-process.ts) reacts to it — withdraw from `from`, deposit to `to`,
 * refund `from` when `to` refuses — and settles it with the private commands `complete_transfer`
 * or `fail_transfer`; `owe_refund` records that a refund is owed before it is attempted.
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
        return { ...state, refundOwed: event.data.reason };
      case "TransferFailed":
        return { ...state, status: "failed", reason: event.data.reason, refunded: event.data.refunded };
    }
  },
  access: isRequesterOrAdmin,
})
  .command("transfer", { creates: true, schema: TransferRequest }, ({ from, to, amount }, _state, { caller }) => {
    if (from === to) return invalid("to", "must differ from `from`");
    const by = identityOf(caller)?.user;
    if (by === undefined) return invalid("", "an identified caller is needed");
    return { type: "TransferRequested", data: { from, to, amount, by } };
  })
  .command("get_transfer", { schema: TransferRef }, (_request, state, { id }) => reply({ id, ...state }))
  .command("complete_transfer", { schema: TransferRef }, (_request, state) =>
    state.status === "requested" ? { type: "TransferCompleted", data: null } : undefined,
  )
  .command("owe_refund", { schema: OweRequest }, ({ reason }, state) =>
    state.status === "requested" && state.refundOwed === undefined ? { type: "TransferRefundOwed", data: { reason } } : undefined,
  )
  .command("fail_transfer", { schema: FailRequest }, ({ reason, refunded }, state) =>
    state.status === "requested" ? { type: "TransferFailed", data: { reason, refunded } } : undefined,
  );
