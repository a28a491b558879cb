import type { Json, JsonObject } from "../shared/json.js";
import type { DomainEvent, DryRun, Message } from "../messaging/message.js";
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
  /** The whole message, for what the fields above do not cover (trace context, custom assigns). */
  message: Message;
};

/** A refusal a decision may answer with: a domain error, or forbidden, unauthorized, validation_error. */
export type RejectionResponse = ErrorResponse | ForbiddenResponse | UnauthorizedResponse | ValidationErrorResponse;

/** The command was carried out: these events happen, and the caller may get `reply` back. */
export type Accepted<Event extends DomainEvent> = { outcome: "accepted"; events: Event[]; reply?: Json };

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

function listOf<Event extends DomainEvent>(events: Event | readonly Event[]): Event[] {
  return Array.isArray(events) ? [...(events as readonly Event[])] : [events as Event];
}

/**
 * The message a decision amounts to: its events, and its response — the rejection, or on
 * success `created` (with the aggregate id) for a command that creates the aggregate and `ok`
 * (with the payload) otherwise. The aggregate instance adds the version when it stores them.
 */
export function decidedMessage<Event extends DomainEvent>(
  message: Message<unknown, Event>,
  decision: Decision<Event>,
  mode: CommandMode,
  context: Pick<CommandContext, "id" | "exists">,
): Message<unknown, Event> {
  let events: Event[];
  let answer: ServiceResponse;
  if (isOutcome(decision)) {
    events = decision.events;
    answer = decision.outcome === "rejected" ? decision.response : response.ok(decision.reply);
  } else {
    events = decision === undefined || decision === null ? [] : listOf(decision);
    answer = response.ok();
  }
  const creates = mode === "new" || (mode === "maybe" && !context.exists);
  if (answer.status === "ok" && creates) answer = response.created(context.id);
  return { ...message, events, response: answer, halted: true };
}
