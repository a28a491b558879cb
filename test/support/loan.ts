import * as v from "valibot";
import { accept, Aggregate, invalid, isJsonObject, reject, reply, type CommandContext, type Message } from "../../src/core/index.js";

/** A library loan: the follow-ups' test domain (a reminder when the loan is due, cancelled when the book comes back). */
export type LoanState = { status: "new" | "out" | "returned"; book: string; reminders: number; borrower: string | null };

/** Everything that happens to a loan. */
export type LoanEvent =
  | { type: "Borrowed"; data: { book: string; days: number; borrower: string | null } }
  | { type: "Reminded"; data: { by: string | null } }
  | { type: "Returned"; data: null }
  | { type: "Extended"; data: { days: number } };

/** A day, in ms. */
export const DAY = 24 * 60 * 60 * 1000;

const LoanId = v.pipe(v.string(), v.minLength(1), v.maxLength(60));
const Borrow = v.object({
  loan_id: v.optional(LoanId),
  book: v.string(),
  days: v.optional(v.number(), 14),
  dueInMs: v.optional(v.number()),
  /**
   * Which service the reminder goes to: `remind` (checks the loan is out), `chime` (does not), or
   * `held_chime` (a test service that holds the delivery, then chimes).
   */
  via: v.optional(v.picklist(["remind", "chime", "held_chime"]), "remind"),
});
const Ref = v.object({ loan_id: LoanId });
const Extend = v.object({ loan_id: LoanId, days: v.number() });

/** Who asks, by name (the caller's `user`), or null when anonymous. */
const who = ({ caller }: CommandContext) => (isJsonObject(caller) && typeof caller["user"] === "string" ? caller["user"] : null);

/**
 * `borrow` schedules `remind` (this aggregate's own command) when the loan is due — `dueInMs`
 * overrides the days for tests; `give_back` cancels it; `extend` replaces it (or is refused when
 * the book is not out); a few commands break the rules on purpose (for the refusals).
 */
export const loan = new Aggregate<LoanState, LoanEvent>({
  stream: "loan",
  id: "loan_id",
  initialState: () => ({ status: "new", book: "", reminders: 0, borrower: null }),
  apply: (state, event) => {
    switch (event.type) {
      case "Borrowed":
        return { ...state, status: "out", book: event.data.book, borrower: event.data.borrower };
      case "Reminded":
        return { ...state, reminders: state.reminders + 1 };
      case "Returned":
        return { ...state, status: "returned" };
      case "Extended":
        return state;
    }
  },
})
  .command("borrow", { creates: true, schema: Borrow }, ({ loan_id, book, days, dueInMs, via }, _state, context) =>
    accept(
      { type: "Borrowed", data: { book, days, borrower: who(context) } },
      { schedule: { name: "reminder", service: via, request: { loan_id: loan_id ?? context.id }, inMs: dueInMs ?? days * DAY } },
    ),
  )
  .command("remind", { schema: Ref }, (_request, state, context) =>
    state.status === "out" ? { type: "Reminded", data: { by: who(context) } } : undefined,
  )
  // Reminds whatever the loan's state: only the follow-up's own bookkeeping can stop a cancelled one.
  .command("chime", { schema: Ref }, (_request, _state, context) => ({ type: "Reminded", data: { by: who(context) } }))
  .command("give_back", { schema: Ref }, (_request, state) =>
    state.status === "out" ? accept({ type: "Returned", data: null }, { cancel: "reminder" }) : invalid("loan_id", "the book is not out"),
  )
  .command("extend", { schema: Extend }, ({ loan_id, days }, state) =>
    // Refused (with an event kept all the same) unless the book is out: a refusal schedules nothing.
    state.status === "out"
      ? accept({ type: "Extended", data: { days } }, { schedule: { name: "reminder", service: "remind", request: { loan_id }, inMs: days * DAY } })
      : reject("not_out", { events: { type: "Extended", data: { days: 0 } } }),
  )
  .command("schedule_without_event", { schema: Ref }, ({ loan_id }) =>
    accept([], { schedule: { name: "lonely", service: "remind", request: { loan_id }, inMs: 1000 } }),
  )
  .command("schedule_badly", { schema: Ref }, ({ loan_id }) =>
    accept({ type: "Extended", data: { days: 1 } }, { schedule: { name: "bad name!", service: "remind", request: { loan_id }, inMs: 1000 } }),
  )
  .command("schedule_never", { schema: Ref }, ({ loan_id }) =>
    accept({ type: "Extended", data: { days: 1 } }, { schedule: { name: "never", service: "remind", request: { loan_id }, inMs: -5 } }),
  )
  .command("get_loan", { schema: Ref }, (_request, state) => reply(state));

/** The follow-up a message delivers (its `assigns.followUp`), for assertions. */
export function followUpOf(message: Message): unknown {
  return message.assigns["followUp"];
}
