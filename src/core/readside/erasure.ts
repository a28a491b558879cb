import type { StreamAccess } from "../aggregates/aggregate-router.js";
import { response, type ErrorResponse } from "../messaging/response.js";
import { EVERY_OWNER, type SchedulerClient } from "../scheduling/scheduler.js";
import { mapBounded } from "../shared/bounded.js";
import { newId } from "../shared/ids.js";
import { readKey } from "../shared/keys.js";
import type { Logger } from "../shared/logger.js";
import { storageRemovedOf, type ErasureNotice, type ErasureReceipt, type ScheduleErasure, type SubscriberErasure } from "./erasure-receipt.js";
import type { ErasureFootprint } from "./read-store.js";
import type { ReadStatement } from "./read-statement.js";
import type { Subscriber } from "./subscriber.js";
import type { SubscriptionRunner } from "./subscription-runner.js";

/*
 * Erasing one aggregate end to end, in this order:
 *
 * 1. its object's storage (a hard delete: events, snapshots, outbox, idempotency records,
 *    follow-ups and their alarm), which answers what it removed and when — by the clock its
 *    events were recorded by;
 * 2. its pending schedules, on the scheduler keys that name it (its id by default), as an admin;
 * 3. the read side, in one batch: the receipt (the audit log's record, which from then on makes
 *    the consumer drop the stream's events recorded at or before the erasure — those still on the
 *    queue), each subscriber's `erase` statements, and the stream's checkpoints, catalog row,
 *    usage row and dead letters.
 *
 * The object goes first, so that nothing is committed to the stream after the read side has let
 * it go. A step that fails leaves the next erase of the same aggregate something to do: it goes
 * on (the object answers that it holds nothing) and answers a new receipt. Once nothing is left
 * anywhere, an erase answers the receipt it kept — the same one, however often it is retried.
 */

/** One erasure as it is asked for. */
export type EraseRequest<Env> = {
  /** The aggregate type's stream access: its router. */
  aggregate: StreamAccess<Env>;
  id: string;
  /** The scheduler whose pending messages on `scheduleKeys` go too (none: no schedules are looked at). */
  scheduler?: SchedulerClient<Env> | undefined;
  /** The scheduler keys that name the aggregate (default: its id). */
  scheduleKeys?: readonly string[] | undefined;
  /** Who asks: through which door, and the operator they named. */
  by: { via: string; operator?: string | null | undefined };
  /** Why (a ticket number…): kept in the receipt. */
  reason?: string | null | undefined;
};

/** Cancels per key at once, at most. */
const CANCEL_CONCURRENCY = 8;

/** Lists of a key's pending schedules, at most: each is cancelled before the next is asked for. */
const LIST_ROUNDS = 10;

/**
 * Erases aggregate `request.id` end to end (see above) and answers its receipt — kept in the read
 * side's audit log — or a refusal: `invalid_id`; `not_found` when nothing of it is stored anywhere
 * and no receipt is kept; the hard delete's own refusal; `internal_error` when the read side could
 * not record it (erase again: what is left is done then). Never throws.
 */
export async function eraseAggregate<Env>(runner: SubscriptionRunner, env: Env, request: EraseRequest<Env>, logger: Logger): Promise<ErasureReceipt | ErrorResponse> {
  const read = readKey(request.id);
  if (!read.ok) return response.error("invalid_id", { problem: read.problem });
  const id = read.key;
  const stream = request.aggregate.stream;
  const streamName = `${stream}-${id}`;
  const followers = runner.subscribers.filter((subscriber) => subscriber.streams.includes(stream));
  try {
    const footprint = await runner.store.erasureFootprint(streamName, followers.map((subscriber) => subscriber.name));
    const deleted = await request.aggregate.deleteStream(env, id, { mode: "hard" });
    if (deleted.status !== "ok" && !(deleted.status === "error" && deleted.reason === "not_found")) {
      return deleted.status === "error" ? deleted : response.error("internal_error");
    }
    const object = deleted.status === "ok" ? { found: true, removed: storageRemovedOf(deleted.payload) } : { found: false, removed: null };
    const schedules = request.scheduler === undefined ? [] : await cancelSchedules(request.scheduler, env, request.scheduleKeys ?? [id]);
    const kept = footprint.receipt;
    if (!object.found && isEmpty(footprint) && schedules.every((item) => item.cancelled === 0 && item.error === undefined)) {
      // Nothing left anywhere: the receipt of the erasure that removed it — unless something
      // failed then, or a subscriber that did not handle erasure does now — or nothing was ever here.
      if (kept === null) return response.error("not_found");
      if (kept.complete && !handlesNow(kept, followers)) return kept;
    }
    const erasureId = newId();
    const erasedAt = object.removed?.deletedAt ?? new Date().toISOString();
    const notice: ErasureNotice = { stream, streamName, aggregateId: id, erasureId, erasedAt };
    const hooks = await Promise.all(followers.map((subscriber) => erasureOf(subscriber, notice, env)));
    const receipt = await record(runner, hooks, logger, {
      erasureId,
      stream,
      streamName,
      erasedAt,
      by: { via: request.by.via, operator: request.by.operator ?? null },
      reason: request.reason ?? null,
      complete: false,
      object,
      schedules,
      subscribers: hooks.map((hook) => hook.entry),
      readSide: { checkpoints: footprint.checkpoints, catalog: footprint.catalog, usage: footprint.usage, deadLetters: footprint.deadLetters },
    });
    try {
      await catalogAgainIfOpened(runner, env, request.aggregate, id, streamName);
    } catch (error) {
      // The erasure itself is done; the stream's next command (or its outbox) records it again.
      logger.warn("erasure: could not look whether the aggregate was opened again meanwhile", { erasureId, stream, error });
    }
    if (receipt.complete) logger.info("aggregate erased", { erasureId, stream });
    else logger.warn("aggregate erased, but not everywhere: erase it again once the cause is fixed", { erasureId, stream, failures: failuresOf(receipt) });
    return receipt;
  } catch (error) {
    logger.error("erasure did not finish: erase the aggregate again", { stream, error });
    return response.error("internal_error");
  }
}

/**
 * A stream opened again under the id while the erasure ran — after the hard delete, before the
 * read side's batch — had its events taken for ones already applied (the erased stream's
 * checkpoints still stood), and the batch then removed the catalog row its outbox had written:
 * nothing would deliver them until its next command. The catalog learns of it again, so that the
 * next sweep delivers it, from its version 0, to every subscriber.
 */
async function catalogAgainIfOpened<Env>(runner: SubscriptionRunner, env: Env, aggregate: StreamAccess<Env>, id: string, streamName: string): Promise<void> {
  const page = await aggregate.readStream(env, id, { from: 0, limit: 1 });
  if (page.status !== "missing" && page.version >= 0) await runner.store.record([{ stream: aggregate.stream, streamName, version: page.version }]);
}

/** One subscriber's part: its entry in the receipt and the statements its hook answered. */
type HookResult = { entry: SubscriberErasure; statements: readonly ReadStatement[] };

/** What `subscriber` does about the erasure: its hook's statements, or why it has none. */
async function erasureOf(subscriber: Subscriber, notice: ErasureNotice, env: unknown): Promise<HookResult> {
  const base = { name: subscriber.name, kind: kindOf(subscriber) };
  if (subscriber.erase === undefined) return { entry: { ...base, outcome: "not_handled", statements: 0 }, statements: [] };
  try {
    const statements = [...(await subscriber.erase(notice, { env }))];
    return { entry: { ...base, outcome: "erased", statements: statements.length }, statements };
  } catch (error) {
    return { entry: { ...base, outcome: "failed", statements: 0, error: errorText(error) }, statements: [] };
  }
}

/**
 * Writes the erasure to the read store: everything in one batch; when that fails (one
 * subscriber's statements may be at fault), the receipt and the read side's own rows first, then
 * each subscriber's statements alone, then the receipt as it turned out. Answers that receipt.
 */
async function record(runner: SubscriptionRunner, hooks: readonly HookResult[], logger: Logger, draft: ErasureReceipt): Promise<ErasureReceipt> {
  const whole = completed({ ...draft, subscribers: hooks.map((hook) => hook.entry) });
  try {
    await runner.store.erase({ receipt: whole, statements: hooks.flatMap((hook) => hook.statements) });
    return whole;
  } catch (error) {
    logger.warn("erasure: the read side's batch failed; each subscriber's statements are tried alone", { erasureId: draft.erasureId, error });
  }
  const pending = (entry: SubscriberErasure): SubscriberErasure =>
    entry.outcome === "erased" ? { ...entry, outcome: "failed", error: "not applied yet: erase again" } : entry;
  const provisional = completed({ ...draft, subscribers: hooks.map((hook) => pending(hook.entry)) });
  // From here the stream's events in flight are dropped, whatever becomes of the statements.
  await runner.store.erase({ receipt: provisional, statements: [] });
  const entries: SubscriberErasure[] = [];
  for (const hook of hooks) {
    if (hook.entry.outcome !== "erased") {
      entries.push(hook.entry);
      continue;
    }
    try {
      await runner.store.erase({ receipt: provisional, statements: hook.statements });
      entries.push(hook.entry);
    } catch (error) {
      entries.push({ ...hook.entry, outcome: "failed", error: errorText(error) });
    }
  }
  const final = completed({ ...draft, subscribers: entries });
  await runner.store.erase({ receipt: final, statements: [] });
  return final;
}

/** The receipt with `complete` saying whether anything failed. */
function completed(receipt: ErasureReceipt): ErasureReceipt {
  const complete = receipt.subscribers.every((entry) => entry.outcome !== "failed") && receipt.schedules.every((entry) => entry.error === undefined);
  return { ...receipt, complete };
}

/** What failed, for the log: subscribers and schedule keys. */
function failuresOf(receipt: ErasureReceipt): string[] {
  return [
    ...receipt.subscribers.filter((entry) => entry.outcome === "failed").map((entry) => `${entry.name}: ${entry.error ?? "failed"}`),
    ...receipt.schedules.filter((entry) => entry.error !== undefined).map((entry) => `schedules of ${entry.key}: ${entry.error ?? ""}`),
  ];
}

/**
 * Cancels every pending schedule of each key, as an admin (every owner's): listed, cancelled, and
 * listed again until none is left (or a list cancels nothing more).
 */
async function cancelSchedules<Env>(scheduler: SchedulerClient<Env>, env: Env, keys: readonly string[]): Promise<ScheduleErasure[]> {
  return Promise.all(
    [...new Set(keys)].map(async (key): Promise<ScheduleErasure> => {
      const read = readKey(key);
      if (!read.ok) return { key, cancelled: 0, error: `not a key: ${read.problem}` };
      let cancelled = 0;
      try {
        for (let round = 0; round < LIST_ROUNDS; round += 1) {
          const ids = [...new Set((await scheduler.list(env, read.key, EVERY_OWNER)).map((entry) => entry.messageId))];
          if (ids.length === 0) break;
          const answers = await mapBounded(ids, CANCEL_CONCURRENCY, (messageId) => scheduler.cancel(env, read.key, messageId, EVERY_OWNER));
          const now = answers.filter((answer) => answer.status === "ok").length;
          cancelled += now;
          if (now === 0) break;
        }
        return { key: read.key, cancelled };
      } catch (error) {
        return { key: read.key, cancelled, error: errorText(error) };
      }
    }),
  );
}

/** Whether a subscriber the receipt names as not handling erasure has an `erase` hook now. */
function handlesNow(receipt: ErasureReceipt, followers: readonly Subscriber[]): boolean {
  return receipt.subscribers.some((entry) => entry.outcome === "not_handled" && followers.some((subscriber) => subscriber.name === entry.name && subscriber.erase !== undefined));
}

function isEmpty(footprint: ErasureFootprint): boolean {
  return footprint.checkpoints + footprint.catalog + footprint.usage + footprint.deadLetters === 0;
}

/** A subscriber's kind: `projection()` and `processManager()` say theirs; any other is "other". */
function kindOf(subscriber: Subscriber): SubscriberErasure["kind"] {
  const kind: unknown = (subscriber as Subscriber & { kind?: unknown }).kind;
  return kind === "projection" || kind === "process" ? kind : "other";
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}
