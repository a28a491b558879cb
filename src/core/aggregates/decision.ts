import type { Json, JsonObject } from "../shared/json.js";
import type { DomainEvent, DryRun, Message } from "../messaging/message.js";
import type { FollowUp, FollowUpChanges } from "../scheduling/follow-up.js";
import type { CommandMode } from "./aggregate-protocol.js";
import {
  response,
  type ErrorResponse,
  type ForbiddenResponse,
  type ServiceResponse,
  type UnauthorizedResponse,
  type ValidationErrorResponse,
} from "../messaging/response.js";

/**
 * What a decision sees besides the request and the state: which aggregate, at which version,
 * for whom, and whether anything will be stored.
 */
export type CommandContext = {
  /** The aggregate's id (the part after `<stream>-` in its stream name). */
  id: string;
  /** The aggregate's version before this command (-1 when it has no events yet). */
  version: number;
  /** Whether the aggregate exists (it has events and is not deleted). */
  exists: boolean;
  /** The caller's identity, as the app's `identify` hook made it, or null for an anonymous caller. */
  caller: JsonObject | null;
  /** Who the caller is for good (`assigns.principal`), or null for an anonymous caller. */
  principal: string | null;
  /** A dry run stores nothing, whatever the decision says. */
  dryRun: DryRun;
  /**
   * When the command runs (epoch ms). A decision that depends on the time reads it here, not from
   * `Date.now()`: `aggregateSpec`'s `when(…, { now })` sets it, so such a decision can be tested.
   */
  now: number;
  /** The whole message, for what the fields above do not cover (trace context, custom assigns). */
  message: Message;
};

/** A refusal a decision may answer with: a domain error, or forbidden, unauthorized, validation_error. */
export type RejectionResponse = ErrorResponse | ForbiddenResponse | UnauthorizedResponse | ValidationErrorResponse;

/**
 * The command was carried out: these events happen, the caller may get `reply` back, and the
 * aggregate's follow-ups change — `schedule` adds (or replaces, by name) messages to deliver
 * later, `cancel` removes pending ones by name (see {@link accept}).
 */
export type Accepted<Event extends DomainEvent> = {
  outcome: "accepted";
  events: Event[];
  reply?: Json;
  schedule?: readonly FollowUp[];
  cancel?: readonly string[];
};

/**
 * The command was refused with `response`; `events` are stored all the same (a record of the
 * refusal, such as a `WithdrawalRejected` event).
 */
export type Rejected<Event extends DomainEvent> = { outcome: "rejected"; response: RejectionResponse; events: Event[] };

/** An accepted or rejected command, as {@link reply} and {@link reject} make them. */
export type Outcome<Event extends DomainEvent> = Accepted<Event> | Rejected<Event>;

/**
 * What a decision returns: one event, several events, nothing (`undefined`, `null` or `[]`), or
 * an {@link Outcome} — a rejection ({@link reject}, {@link invalid}) or events with a reply
 * payload ({@link reply}). The library turns it into the reply message: `created` with the id for a
 * command that creates the aggregate, `ok` with the version (and the payload) otherwise.
 */
export type Decision<Event extends DomainEvent> = Event | readonly Event[] | Outcome<Event> | null | undefined | void;

/**
 * Accepts the command with a payload for the caller, and the events it produces (if any).
 *
 * ```ts
 * .command("get_account", { schema }, (_request, state) => reply(state))
 * ```
 */
export function reply<Event extends DomainEvent = never>(payload: Json, events: Event | readonly Event[] = []): Accepted<Event> {
  return { outcome: "accepted", events: listOf(events), reply: payload };
}

/** Options of {@link accept}: a reply payload, and the follow-ups the command schedules or cancels. */
export type AcceptOptions = {
  /** The payload the caller gets back (`ok` with it, or `created`). */
  reply?: Json;
  /**
   * Messages to deliver later, each named ({@link FollowUp}): stored in the same transaction as
   * the events, delivered at least once (with an id derived from the stream, the version and the
   * name, so each is applied once), with the rights the caller has at delivery. A pending follow-up
   * of the same name is replaced.
   */
  schedule?: FollowUp | readonly FollowUp[];
  /** Names of pending follow-ups to cancel (a name with none pending is ignored). */
  cancel?: string | readonly string[];
};

/**
 * Accepts the command: its events, and what it schedules or cancels (and a reply payload). A
 * decision that schedules or cancels stores at least one event: the follow-ups go with it.
 *
 * ```ts
 * .command("borrow", { schema }, ({ loan_id, days }) =>
 *   accept({ type: "Borrowed", data: { days } }, {
 *     schedule: { name: "reminder", service: "remind_borrower", request: { loan_id }, inMs: days * DAY },
 *   }))
 * .command("give_back", { schema }, () => accept({ type: "Returned", data: null }, { cancel: "reminder" }))
 * ```
 */
export function accept<Event extends DomainEvent = never>(events: Event | readonly Event[], options: AcceptOptions = {}): Accepted<Event> {
  const accepted: Accepted<Event> = { outcome: "accepted", events: listOf(events) };
  if (options.reply !== undefined) accepted.reply = options.reply;
  if (options.schedule !== undefined) accepted.schedule = listOf(options.schedule);
  if (options.cancel !== undefined) accepted.cancel = typeof options.cancel === "string" ? [options.cancel] : [...options.cancel];
  return accepted;
}

/** Options of {@link reject}. */
export type RejectOptions<Event extends DomainEvent> = {
  /** Says more about the refusal (an error's `details`). */
  details?: Json;
  /** Events stored even though the command was refused (a record of the refusal). */
  events?: Event | readonly Event[];
};

/**
 * Refuses the command: with a domain reason (`error` with that reason, HTTP 400 unless the status
 * table maps it), or with a refusal response such as `response.forbidden()`. Events given in
 * `options.events` are stored all the same.
 *
 * ```ts
 * if (amount > state.balance) return reject("insufficient_funds", { details: { balance }, events: rejected });
 * ```
 */
export function reject<Event extends DomainEvent = never>(
  reason: string | RejectionResponse,
  options: RejectOptions<Event> = {},
): Rejected<Event> {
  const refusal = typeof reason === "string" ? response.error(reason, options.details) : reason;
  return { outcome: "rejected", response: refusal, events: listOf(options.events ?? []) };
}

/** Refuses the command as invalid (`validation_error`, HTTP 422) because of the request field `path`. */
export function invalid(path: string, message: string): Rejected<never> {
  return reject(response.validationError([{ path, message }]));
}

/** Whether a decision is an {@link Outcome} rather than events. */
function isOutcome<Event extends DomainEvent>(decision: Decision<Event>): decision is Outcome<Event> {
  return typeof decision === "object" && decision !== null && !Array.isArray(decision) && "outcome" in decision;
}

function listOf<T extends object>(items: T | readonly T[]): T[] {
  return Array.isArray(items) ? [...(items as readonly T[])] : [items as T];
}

/** What a decision amounts to: the message (its events and response), and its follow-up changes. */
export type DecisionResult<Event extends DomainEvent> = {
  message: Message<unknown, Event>;
  /** What it schedules and cancels, or null when it touches no follow-up. */
  followUps: FollowUpChanges | null;
};

/**
 * What a decision amounts to: its events, its response — the rejection, or on success `created`
 * (with the aggregate id) for a command that creates the aggregate and `ok` (with the payload)
 * otherwise — and its follow-ups. The aggregate instance adds the version when it stores them.
 */
export function decidedMessage<Event extends DomainEvent>(
  message: Message<unknown, Event>,
  decision: Decision<Event>,
  mode: CommandMode,
  context: Pick<CommandContext, "id" | "exists">,
): DecisionResult<Event> {
  let events: Event[];
  let answer: ServiceResponse;
  let followUps: FollowUpChanges | null = null;
  if (isOutcome(decision)) {
    events = decision.events;
    answer = decision.outcome === "rejected" ? decision.response : response.ok(decision.reply);
    if (decision.outcome === "accepted" && (decision.schedule !== undefined || decision.cancel !== undefined)) {
      followUps = { schedule: decision.schedule ?? [], cancel: decision.cancel ?? [] };
    }
  } else {
    events = decision === undefined || decision === null ? [] : listOf(decision);
    answer = response.ok();
  }
  const creates = mode === "new" || (mode === "maybe" && !context.exists);
  if (answer.status === "ok" && creates) answer = response.created(context.id);
  return { message: { ...message, events, response: answer, halted: true }, followUps };
}
