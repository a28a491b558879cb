import { sValidator } from "@hono/standard-validator";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { response } from "../core/messaging/response.js";
import type { ScheduleSpec } from "../core/scheduling/schedule.js";
import type { ScheduleRequest, SchedulerRunner, ScheduleViewer } from "../core/scheduling/scheduler.js";
import { isJsonObject, type JsonObject } from "../core/shared/json.js";
import type { Logger } from "../core/shared/logger.js";
import { firstProblem, ownMessage, refuseInvalid } from "../protocol/hono-protocol.js";

/**
 * What the routes of a SchedulerObject reach: the shard's runner, for the key it serves. The
 * shard of key k is the object named k, so a request for another key went astray and is refused.
 */
export interface ScheduleHost {
  /** Why this object cannot serve `key` (it is another key's shard), or null. */
  refusesKey(key: string): string | null;
  readonly runner: SchedulerRunner;
  /** Points the alarm at the earliest entry after a change. */
  arm(): Promise<void>;
  /**
   * Arms the alarm unless it is known to be right: any request repairs an alarm that a restart or
   * a failed arm left unknown.
   */
  ensureArmed(): Promise<void>;
  readonly logger: Logger;
}

const key = v.pipe(v.string(), v.nonEmpty("must not be empty"));

const ScheduleBody = v.object({
  key,
  // The runner checks the whole message it stores (messageProblem): here only its shape.
  message: ownMessage,
  // Only its shape here: the runner reads the schedule itself and answers what is wrong with it.
  spec: v.custom<ScheduleSpec>(isJsonObject, "must be an object"),
  publicOnly: v.optional(v.boolean()),
}) satisfies v.GenericSchema<unknown, ScheduleRequest>;

/** Whose entries: everyone's (absent), one owner's (a principal), or as a caller may (principal and identity). */
const viewer = v.optional(
  v.union([v.string(), v.object({ principal: v.string(), identity: v.custom<JsonObject>(isJsonObject, "must be an object") })]),
) satisfies v.GenericSchema<unknown, ScheduleViewer>;
const ListBody = v.object({ key, viewer });
const CancelBody = v.object({ key, messageId: v.pipe(v.string(), v.nonEmpty("must not be empty")), viewer });

/**
 * The fetch surface of a SchedulerObject, one app per class: the object passes itself as the
 * app's bindings. `POST /schedule` stores a message, `POST /schedules` lists the pending ones,
 * `POST /outcomes` the recent denials and give-ups, `POST /cancel` removes one (each as a viewer
 * may: see ScheduleViewer). The Worker side reaches it through `durableObjectScheduler` with
 * Hono's typed client.
 */
export const schedulerRoutes = new Hono<{ Bindings: ScheduleHost }>()
  // A schedule request that is not one is answered like any other bad schedule (invalid_request,
  // nothing stored), as the in-memory scheduler answers it.
  .post("/schedule", sValidator("json", ScheduleBody, (result, c) => (result.success ? undefined : c.json({ response: response.error("invalid_request", firstProblem(result.error)) }))), async (c) => {
    const request = c.req.valid("json");
    const problem = c.env.refusesKey(request.key);
    if (problem !== null) return c.json({ error: problem }, 400);
    const answer = await c.env.runner.schedule(request);
    await c.env.arm();
    return c.json({ response: answer });
  })
  // Listings are POSTs: the viewer (a caller's identity) travels as JSON, not in a query string.
  .post("/schedules", sValidator("json", ListBody, refuseInvalid), async (c) => {
    const { key: asked, viewer: seenBy } = c.req.valid("json");
    const problem = c.env.refusesKey(asked);
    if (problem !== null) return c.json({ error: problem }, 400);
    await c.env.ensureArmed();
    return c.json({ schedules: await c.env.runner.list(seenBy) });
  })
  .post("/outcomes", sValidator("json", ListBody, refuseInvalid), async (c) => {
    const { key: asked, viewer: seenBy } = c.req.valid("json");
    const problem = c.env.refusesKey(asked);
    if (problem !== null) return c.json({ error: problem }, 400);
    return c.json({ outcomes: await c.env.runner.outcomes(seenBy) });
  })
  .post("/cancel", sValidator("json", CancelBody, refuseInvalid), async (c) => {
    const { key: asked, messageId, viewer: seenBy } = c.req.valid("json");
    const problem = c.env.refusesKey(asked);
    if (problem !== null) return c.json({ error: problem }, 400);
    const answer = await c.env.runner.cancel(messageId, seenBy);
    await c.env.arm();
    return c.json({ response: answer });
  })
  .onError((error, c) => {
    // Hono's own refusals (a body that is not JSON…) keep their status.
    if (error instanceof HTTPException) return error.getResponse();
    c.env.logger.error("scheduler object failed", { error });
    return c.json({ response: response.error("internal_error") }, 500);
  });

/** The SchedulerObject protocol's app type, for Hono's typed client. */
export type SchedulerRoutes = typeof schedulerRoutes;
