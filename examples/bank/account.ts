import * as v from "valibot";
import { Aggregate, invalid, reject, reply, type CommandContext } from "../../src/core/index.js";
import { identityOf } from "../identity.js";
import { Id } from "./ids.js";

/** An account's state. Plain JSON, so it can be snapshotted as it is. */
export type AccountState = {
  owner: string | null;
  balance: number;
  status: "new" | "open" | "closed";
};

/** Everything that can happen to an account. */
export type AccountEvent =
  | { type: "AccountOpened"; data: { owner: string } }
  | { type: "MoneyDeposited"; data: { amount: number } }
  | { type: "MoneyWithdrawn"; data: { amount: number } }
  | { type: "WithdrawalRejected"; data: { amount: number; balance: number } }
  | { type: "AccountClosed"; data: { by: string } };

const AccountId = Id;
const Amount = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000_000));
const AccountRequest = v.object({ account_id: AccountId });
const MoneyRequest = v.object({ account_id: AccountId, amount: Amount });
/** `region: "eu"` opens the account in the EU jurisdiction (the residency rule in services.ts). */
const OpenRequest = v.object({ account_id: v.optional(AccountId), region: v.optional(v.picklist(["eu"])) });

/** Only the owner or an admin may touch an account, or even learn that it exists. */
function isOwnerOrAdmin(state: AccountState, { caller }: CommandContext): boolean {
  const who = identityOf(caller);
  return who !== null && (who.admin || who.user === state.owner);
}

const opened = ({ caller }: CommandContext): AccountEvent => ({ type: "AccountOpened", data: { owner: identityOf(caller)?.user ?? "anonymous" } });

const closed = invalid("account_id", "the account is closed");

/**
 * The bank account aggregate: pure decisions over its state. A withdrawal beyond the balance
 * stores a `WithdrawalRejected` event and still answers `insufficient_funds`.
 */
export const account = new Aggregate<AccountState, AccountEvent>({
  stream: "account",
  id: "account_id",
  initialState: () => ({ owner: null, balance: 0, status: "new" }),
  apply: (state, event) => {
    switch (event.type) {
      case "AccountOpened":
        return { ...state, owner: event.data.owner, status: "open" };
      case "MoneyDeposited":
        return { ...state, balance: state.balance + event.data.amount };
      case "MoneyWithdrawn":
        return { ...state, balance: state.balance - event.data.amount };
      case "WithdrawalRejected":
        return state;
      case "AccountClosed":
        return { ...state, status: "closed" };
    }
  },
  access: isOwnerOrAdmin,
  snapshot: { every: 50, schema: 1 },
})
  .command("open_account", { creates: true, schema: OpenRequest }, (_request, _state, context) => opened(context))
  .command("ensure_account", { creates: "if-missing", schema: AccountRequest }, (_request, state, context) =>
    state.status === "new" ? opened(context) : undefined,
  )
  .command("deposit", { schema: MoneyRequest }, ({ amount }, state) =>
    state.status === "closed" ? closed : { type: "MoneyDeposited", data: { amount } },
  )
  .command("withdraw", { schema: MoneyRequest }, ({ amount }, { status, balance }) => {
    if (status === "closed") return closed;
    if (amount > balance) {
      return reject("insufficient_funds", { details: { balance }, events: { type: "WithdrawalRejected", data: { amount, balance } } });
    }
    return { type: "MoneyWithdrawn", data: { amount } };
  })
  .command("get_account", { schema: AccountRequest }, (_request, state, { id }) => reply({ id, ...state }))
  .command("close_account", { schema: AccountRequest }, (_request, state, { caller }) => {
    if (state.status === "closed") return closed;
    const payout: AccountEvent[] = state.balance > 0 ? [{ type: "MoneyWithdrawn", data: { amount: state.balance } }] : [];
    return reply({ paidOut: state.balance }, [...payout, { type: "AccountClosed", data: { by: identityOf(caller)?.user ?? "unknown" } }]);
  });
