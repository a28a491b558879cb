import { z } from "zod";
import { addEvent, Aggregate, created, error, halt, ok, response, type Message } from "../../src/core/index.js";
import { identityOf } from "../identity.js";

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

const AccountId = z.string().min(1).max(200);
const Amount = z.number().int().positive().max(1_000_000_000);
const AccountRequest = z.object({ account_id: AccountId });
const MoneyRequest = z.object({ account_id: AccountId, amount: Amount });
const OpenRequest = z.object({ account_id: AccountId.optional() });

type AccountMessage = Message<unknown, AccountEvent>;

/** Only the owner or an admin may act on an account's money or see it. */
function mayManage(message: AccountMessage, state: AccountState): boolean {
  const identity = identityOf(message);
  return identity !== null && (identity.admin || identity.user === state.owner);
}

function closed(message: AccountMessage): AccountMessage {
  return halt(message, response.validationError([{ path: "account_id", message: "the account is closed" }]));
}

/** Opens the account in its caller's name. */
function open(message: AccountMessage): AccountMessage {
  const owner = identityOf(message)?.user ?? "anonymous";
  const opened = addEvent(message, { type: "AccountOpened", data: { owner } });
  return created(opened, message.aggregateMeta.id ?? "");
}

/**
 * The bank account aggregate: pure decisions over its state. A withdrawal beyond the balance
 * stores a `WithdrawalRejected` event and still answers `insufficient_funds`.
 */
export const account = new Aggregate<AccountState, AccountEvent>({
  stream: "account",
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
  snapshot: { every: 50, schema: 1 },
})
  .command("open_account", { schema: OpenRequest }, (message) => open(message))
  .command("ensure_account", { schema: AccountRequest }, (message, state) =>
    state.status === "new" ? open(message) : ok(message),
  )
  .command("deposit", { schema: MoneyRequest }, (message, state) => {
    if (state.status === "closed") return closed(message);
    return ok(addEvent(message, { type: "MoneyDeposited", data: { amount: message.request.amount } }));
  })
  .command("withdraw", { schema: MoneyRequest }, (message, state) => {
    if (!mayManage(message, state)) return halt(message, response.forbidden());
    if (state.status === "closed") return closed(message);
    const { amount } = message.request;
    if (amount > state.balance) {
      const rejected = addEvent(message, { type: "WithdrawalRejected", data: { amount, balance: state.balance } });
      return error(rejected, "insufficient_funds", { balance: state.balance });
    }
    return ok(addEvent(message, { type: "MoneyWithdrawn", data: { amount } }));
  })
  .command("get_account", { schema: AccountRequest }, (message, state) => {
    if (!mayManage(message, state)) return halt(message, response.forbidden());
    return ok(message, { id: message.aggregateMeta.id ?? null, ...state });
  })
  .command("close_account", { schema: AccountRequest }, (message, state) => {
    if (!mayManage(message, state)) return halt(message, response.forbidden());
    if (state.status === "closed") return closed(message);
    const by = identityOf(message)?.user ?? "unknown";
    const payout =
      state.balance > 0 ? addEvent(message, { type: "MoneyWithdrawn", data: { amount: state.balance } }) : message;
    return ok(addEvent(payout, { type: "AccountClosed", data: { by } }), { paidOut: state.balance });
  });
