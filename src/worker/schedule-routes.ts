import type { Context, Hono } from "hono";
import { readKey } from "../core/shared/keys.js";
import type { Dispatcher } from "../core/messaging/dispatcher.js";
import { halt, type Message } from "../core/messaging/message.js";
import { response } from "../core/messaging/response.js";
import { parseSchedule, type ScheduleSpec } from "../core/scheduling/schedule.js";
import { ownerOf, type SchedulerClient } from "../core/scheduling/scheduler.js";
import { callerAssigns, messageFromHeaders, type Identify } from "./caller.js";
import { parseBody } from "./request-body.js";
import { answerWith, replyWith } from "./replies.js";
import { sameSecret } from "./same-secret.js";

/** What the schedule routes need from the gateway. */
export type ScheduleRoutesOptions<Env extends object> = {
  scheduler: SchedulerClient<Env> | undefined;
  identify: Identify<Env> | undefined;
  /** The admin token, whose bearer sees and cancels every schedule of a key. */
  adminToken: ((env: Env) => string | undefined) | undefined;
  dispatcherFor: (c: Context<{ Bindings: Env }>) => Dispatcher<Env>;
};

const scheduleFields = new Set(["service", "request", "key", "in", "at", "cron", "every"]);

/**
 * `POST /v1/schedules` (202), `GET /v1/schedules?key=`, `DELETE /v1/schedules/:messageId?key=`.
 * Scheduling needs the caller to be authorized for the service now; it is authorized again at
 * delivery, with the same identity. Identified callers see and cancel only what they scheduled
 * (the admin token: everything; anonymous callers: nothing). Without a scheduler the routes
 * answer 404.
 */
export function mountScheduleRoutes<Env extends object>(app: Hono<{ Bindings: Env }>, options: ScheduleRoutesOptions<Env>): void {
  const { scheduler } = options;
  if (scheduler === undefined) return;

  app.post("/v1/schedules", async (c) => {
    const body = parseBody(await c.req.text());
    const fields = body.ok ? body.value : {};
    const service = typeof fields["service"] === "string" ? fields["service"] : "";
    const headed = messageFromHeaders(c.req.raw.headers, service);
    if (headed.halted) return replyWith(c, headed);
    if (!body.ok) return replyWith(c, halt(headed, body.error));
    if (c.req.header("X-Dry-Run") !== undefined) return invalid(c, headed, "X-Dry-Run is not supported when scheduling");
    const unknown = Object.keys(fields).filter((field) => !scheduleFields.has(field));
    if (unknown.length > 0) return invalid(c, headed, `unknown fields: ${unknown.join(", ")}`);
    if (service === "") return invalid(c, headed, "service must be a non-empty string");
    const request = fields["request"] ?? {};
    if (typeof request !== "object" || request === null || Array.isArray(request)) return invalid(c, headed, "request must be an object");
    const read = readKey(fields["key"]);
    if (!read.ok) return invalid(c, headed, `key ${read.problem}`);
    const key = read.key;
    const spec = { inMs: fields["in"], at: fields["at"], cron: fields["cron"], everyMs: fields["every"] } as unknown as ScheduleSpec;
    const parsed = parseSchedule(spec, Date.now());
    if (typeof parsed === "string") return invalid(c, headed, parsed);

    const assigns = await callerAssigns(c.req.header("Authorization"), options.identify, c.env);
    if (assigns === null) return replyWith(c, halt(headed, response.unauthorized("invalid credentials")));
    const message: Message = { ...headed, rawRequest: request, assigns };
    const authorization = await options.dispatcherFor(c).authorization(message, { publicOnly: true });
    if (authorization.status === "service_unavailable") {
      return replyWith(c, halt(message, response.error("unknown_service", { service })));
    }
    if (authorization.status !== "ok") return replyWith(c, halt(message, authorization));

    const answer = await scheduler.schedule(c.env, { key, message, spec, publicOnly: true });
    return replyWith(c, halt(message, answer), answer.status === "ok" ? 202 : undefined);
  });

  app.get("/v1/schedules", async (c) => {
    const target = await keyAndOwner(c, options);
    if (target instanceof Response) return target;
    return c.json({ key: target.key, schedules: await scheduler.list(c.env, target.key, target.owner) });
  });

  app.delete("/v1/schedules/:messageId", async (c) => {
    const target = await keyAndOwner(c, options);
    if (target instanceof Response) return target;
    return answerWith(c, await scheduler.cancel(c.env, target.key, c.req.param("messageId") ?? "", target.owner));
  });
}

/** The `key` query parameter and whose entries the caller may touch, or the answer refusing them. */
async function keyAndOwner<Env extends object>(
  c: Context<{ Bindings: Env }>,
  options: ScheduleRoutesOptions<Env>,
): Promise<{ key: string; owner: string | undefined } | Response> {
  const owner = await ownerFilter(c, options);
  if (owner === null) return answerWith(c, response.unauthorized("identify yourself to see or cancel your schedules"));
  const key = readKey(c.req.query("key") ?? "");
  if (!key.ok) return answerWith(c, response.error("invalid_request", `key ${key.problem}`));
  return { key: key.key, owner };
}

function invalid(c: Context, message: Message, problem: string): Response {
  return replyWith(c, halt(message, response.error("invalid_request", problem)));
}

/**
 * Whose schedules the caller may see: undefined (all) for the admin token, the caller's own
 * otherwise; null when the caller is not identified (anonymous callers are indistinguishable, so
 * none of them may see or cancel anything) or the credentials are refused.
 */
async function ownerFilter<Env extends object>(
  c: Context<{ Bindings: Env }>,
  options: ScheduleRoutesOptions<Env>,
): Promise<string | undefined | null> {
  const authorization = c.req.header("Authorization");
  const adminToken = options.adminToken?.(c.env);
  if (authorization !== undefined && adminToken !== undefined && adminToken !== "") {
    if (await sameSecret(authorization, `Bearer ${adminToken}`)) return undefined;
  }
  const assigns = await callerAssigns(authorization, options.identify, c.env);
  if (assigns === null || assigns["identity"] === undefined) return null;
  return ownerOf({ assigns });
}
