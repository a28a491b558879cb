import { newMessage, type Message } from "../messaging/message.js";
import { isJsonObject, jsonProblem, utf8Length, type JsonObject } from "../shared/json.js";
import { dispatchAtOf, MIN_INTERVAL_MS, parseSchedule, type Recurrence, type ScheduleSpec } from "./schedule.js";
import type { ScheduledEntry } from "./schedule-store.js";
import { ownerOf } from "./scheduler.js";

/*
 * Follow-ups: messages a decision asks to be delivered later — the deadline pattern ("remind the
 * borrower when the loan is due", "cancel the order if it is still unpaid in 30 minutes"). They
 * belong to the aggregate that scheduled them: only its later decisions cancel them (by name),
 * they are stored in the same transaction as the decision's events, and the aggregate's own
 * store delivers them (a Durable Object's alarm, a timer in memory) through the scheduler's
 * runner — at least once, with retries, the caller's rights checked again at delivery.
 */

/**
 * A message to deliver later, as a decision returns it (see `accept`): its name in the
 * aggregate, the service and request it carries, and when — exactly one of `inMs`, `at`
 * (RFC 3339), `cron` (5 fields; in `timeZone`, UTC by default) or `everyMs`, a recurring one
 * with its `missed` runs policy.
 *
 * ```ts
 * { name: "reminder", service: "send_reminder", request: { loan_id }, inMs: 14 * DAY }
 * ```
 */
export type FollowUp = {
  /**
   * Its name in this aggregate (1-64 letters, digits, `_`, `.` or `-`): scheduling a name that is
   * pending replaces it, and a later decision cancels it by name.
   */
  name: string;
  /** The service it is delivered to (one of this Worker's, or another node's). */
  service: string;
  /** The request it carries (default `{}`). */
  request?: JsonObject;
  /**
   * Whose rights it is delivered with: by default the caller who sent the command (their
   * principal); or a principal the decision names — a system principal the object's `reidentify`
   * resolves, for duties that must not depend on the caller staying around. Either way the
   * principal is identified again at delivery, and `authorize` judges the rights it has then.
   */
  principal?: string;
} & ScheduleSpec;

/** What a decision changes of its aggregate's follow-ups: what it schedules, and the names it cancels. */
export type FollowUpChanges = { schedule: readonly FollowUp[]; cancel: readonly string[] };

/**
 * What one append writes of the follow-ups, in its transaction: entries to store (each replacing
 * a pending entry of its name — the entry's `key` is the name), names whose pending entries go,
 * and the follow-up the command itself delivered (by entry id), which goes unless it recurs.
 */
export type FollowUpWrites = { schedule: readonly ScheduledEntry[]; cancel: readonly string[]; delivered?: string };

/** A follow-up waiting in its aggregate, as stream reads and the console show it. */
export type PendingFollowUp = {
  /** The entry id: `<stream name>:<version>:<name>` (each delivery's message id; recurring ones add `-<n>`). */
  id: string;
  name: string;
  service: string;
  /** When it is tried next (ISO 8601): its due time, a retry's, or the end of a delivery under way. */
  nextAttemptAt: string;
  /** Deliveries started (of the current occurrence). */
  attempts: number;
  recurrence: Recurrence | null;
  /** Whose rights it is delivered with (their principal), or null: anonymously. */
  owner: string | null;
};

/** How an aggregate's store delivers follow-ups, as far as deciding needs to know it. */
export type FollowUpPolicy = {
  /** Whether the caller can be identified again at delivery (a `reidentify` hook is configured). */
  reidentify: boolean;
  /** The shortest interval of a recurring follow-up (default one minute). */
  minIntervalMs?: number;
};

/** Follow-ups one decision may schedule, at most. */
export const MAX_FOLLOW_UPS_PER_DECISION = 20;

/** Follow-ups one aggregate may have pending, at most: a store refuses an append that would exceed it. */
export const MAX_PENDING_FOLLOW_UPS = 1000;

/** The largest request a follow-up carries, in UTF-8 bytes of its JSON. */
export const MAX_FOLLOW_UP_REQUEST_BYTES = 64 * 1024;

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The id of the follow-up named `name` that a stream scheduled at `version`: the same for every
 * retry of the command (answered from its record) and of the delivery, so each is applied once.
 */
export function followUpId(streamName: string, version: number, name: string): string {
  return `${streamName}:${version}:${name}`;
}

/** Where a delivered message says it comes from, when it is a follow-up: its stream, name and entry id. */
export type FollowUpOrigin = { stream: string; name: string; id: string };

/** The follow-up a message is a delivery of (from its `assigns.followUp`), or null. */
export function followUpOrigin(message: Pick<Message, "assigns">): FollowUpOrigin | null {
  const origin = message.assigns["followUp"];
  if (!isJsonObject(origin)) return null;
  const { stream, name, id } = origin;
  return typeof stream === "string" && typeof name === "string" && typeof id === "string" ? { stream, name, id } : null;
}

/** What a decision's follow-ups become, given the command that decided them. */
export type FollowUpContext = {
  /** The aggregate's stream name. */
  streamName: string;
  /** The stream's version after the command's events (it names the entries). */
  version: number;
  /** The command's message: its caller is whose rights the follow-ups carry; its ids cause theirs. */
  command: Message;
  /** Now (epoch ms): what `inMs` counts from. */
  now: number;
  policy: FollowUpPolicy;
};

/**
 * The entries a decision's follow-ups are stored as, or why they cannot be (a bad name, a
 * schedule that is not one, a request that is not a JSON object, a caller whose rights could not
 * be checked at delivery). Pure: the aggregate instance calls it before it appends.
 */
export function planFollowUps(changes: FollowUpChanges, context: FollowUpContext): { writes: FollowUpWrites } | { problem: string } {
  const { schedule, cancel } = changes;
  if (!Array.isArray(schedule) || !Array.isArray(cancel)) return { problem: "schedule and cancel must be lists" };
  if (schedule.length > MAX_FOLLOW_UPS_PER_DECISION) return { problem: `a decision schedules at most ${MAX_FOLLOW_UPS_PER_DECISION} follow-ups` };
  for (const name of cancel) if (typeof name !== "string" || !NAME.test(name)) return { problem: `cancel ${JSON.stringify(name)}: not a follow-up name` };
  const caller = ownerOf(context.command);
  const names = new Set<string>();
  const entries: ScheduledEntry[] = [];
  for (const followUp of schedule) {
    const named = isJsonObject(followUp) ? followUp.principal : undefined;
    if (named !== undefined && (typeof named !== "string" || named === "")) return { problem: `follow-up ${JSON.stringify(followUp.name)}: principal must be a non-empty string` };
    const owner = named ?? caller;
    if (owner !== null && !context.policy.reidentify) {
      return { problem: "a follow-up's rights cannot be checked again at delivery: give the aggregate's object a `reidentify` hook" };
    }
    const entry = entryOf(followUp, owner, context);
    if (typeof entry === "string") return { problem: `follow-up ${JSON.stringify(isJsonObject(followUp) ? followUp["name"] : followUp)}: ${entry}` };
    if (names.has(entry.key)) return { problem: `follow-up ${entry.key} is scheduled twice` };
    names.add(entry.key);
    entries.push(entry);
  }
  return { writes: { schedule: entries, cancel: [...cancel] } };
}

function entryOf(followUp: FollowUp, owner: string | null, context: FollowUpContext): ScheduledEntry | string {
  if (!isJsonObject(followUp)) return "must be an object";
  const { name, service } = followUp;
  const request: unknown = followUp.request ?? {};
  if (typeof name !== "string" || !NAME.test(name)) return "name: use 1-64 letters, digits, _, . or -";
  if (typeof service !== "string" || service === "") return "service must be a non-empty string";
  if (!isJsonObject(request)) return "request must be a JSON object";
  const problem = jsonProblem(request, "request");
  if (problem !== null) return problem;
  if (utf8Length(JSON.stringify(request), MAX_FOLLOW_UP_REQUEST_BYTES) > MAX_FOLLOW_UP_REQUEST_BYTES) {
    return `request must be at most ${MAX_FOLLOW_UP_REQUEST_BYTES} bytes of JSON`;
  }
  const { now, command, streamName } = context;
  const parsed = parseSchedule(followUp, now, context.policy.minIntervalMs ?? MIN_INTERVAL_MS);
  if (typeof parsed === "string") return parsed;
  const id = followUpId(streamName, context.version, name);
  const message = newMessage(service, {
    id,
    correlationId: command.correlationId,
    causationId: command.id,
    trace: command.trace,
    rawRequest: request,
    assigns: {
      ...(owner === null ? {} : { principal: owner }),
      dispatchAt: dispatchAtOf(parsed.dueAt, parsed.recurrence),
      dispatchAttempts: 0,
      followUp: { stream: streamName, name, id },
    },
  });
  return {
    id,
    owner,
    key: name,
    service,
    dueAt: parsed.dueAt,
    template: message,
    message,
    attempts: 0,
    late: parsed.dueAt < now,
    recurrence: parsed.recurrence,
    occurrence: 0,
    publicOnly: false,
    createdAt: new Date(now).toISOString(),
  };
}

/** A stored entry as {@link PendingFollowUp}. */
export function pendingFollowUp(entry: Pick<ScheduledEntry, "id" | "key" | "service" | "dueAt" | "attempts" | "recurrence" | "owner">): PendingFollowUp {
  return {
    id: entry.id,
    name: entry.key,
    service: entry.service,
    nextAttemptAt: new Date(entry.dueAt).toISOString(),
    attempts: entry.attempts,
    recurrence: entry.recurrence,
    owner: entry.owner,
  };
}
