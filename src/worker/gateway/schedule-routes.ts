import type { Context, Hono, MiddlewareHandler } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import * as v from "valibot";
import type { Dispatcher } from "../../core/messaging/dispatcher.js";
import { halt, type Message } from "../../core/messaging/message.js";
import { response } from "../../core/messaging/response.js";
import type { ScheduleSpec } from "../../core/scheduling/schedule.js";
import { ownerOf, type SchedulerClient, type ScheduleViewer } from "../../core/scheduling/scheduler.js";
import { isJsonObject, type JsonObject } from "../../core/shared/json.js";
import { readKey } from "../../core/shared/keys.js";
import { firstProblem, type ValidationProblem } from "../../protocol/hono-protocol.js";
import { AdminThrottle, clientAddress, tooManyAttempts } from "./admin-throttle.js";
import { callerAssigns, type Identify, type PrincipalOf } from "./caller.js";
import { requestMessage, type GatewayEnv } from "./gateway-middleware.js";
import { answerWith, replyWith } from "./replies.js";
import { readBody } from "./request-body.js";

/** What the schedule routes need from the gateway. */
export type ScheduleRoutesOptions<Env extends object> = {
  scheduler: SchedulerClient<Env> | undefined;
  /** The gateway's dispatcher: scheduling asks the service's `authorize` first. */
  dispatcher: Dispatcher<Env>;
  /** The admin token, whose bearer sees and cancels every schedule of a key. */
  adminToken: ((env: Env) => string | undefined) | undefined;
  /** The gateway's body limit and caller identification, run before these routes. */
  limitBody: MiddlewareHandler<GatewayEnv<Env>>;
  caller: MiddlewareHandler<GatewayEnv<Env>>;
  identify: Identify<Env> | undefined;
  principalOf: PrincipalOf | undefined;
  /** The header `identify` reads (the admin token is always in `Authorization`). */
  identityHeader?: string;
  /** Counts failed checks of presented credentials while an admin token is configured (see {@link AdminThrottle}). */
  throttle?: AdminThrottle<Env>;
};

const jsonObject = v.custom<JsonObject>(isJsonObject, "must be an object");

/** `POST /v1/schedules`: one service, its request, the shard key, and exactly one of when. */
const ScheduleBody = v.pipe(
  v.strictObject(
    {
    service: v.pipe(v.string("must be a string"), v.nonEmpty("must not be empty")),
    request: v.optional(jsonObject, {}),
    key: v.string("must be a string"),
    in: v.optional(v.number("must be a number")),
    at: v.optional(v.string("must be a string")),
    cron: v.optional(v.string("must be a string")),
    every: v.optional(v.number("must be a number")),
    // Checked, with cron and every, by the scheduler (parseSchedule): one set of rules everywhere.
    timeZone: v.optional(v.string("must be a string")),
    missed: v.optional(v.unknown()),
    },
    // An unknown field; a required one missing (the issue has its path); or no object at all.
    (issue) =>
      issue.expected === "never" ? `unknown fields: ${issue.received.replace(/^"|"$/g, "")}` : issue.path === undefined ? "the body must be a JSON object" : "is required",
  ),
  v.check((body) => [body.in, body.at, body.cron, body.every].filter((when) => when !== undefined).length === 1, "give exactly one of in, at, cron or every"),
  v.transform(({ in: inMs, at, cron, every, timeZone, missed, ...rest }) => ({ ...rest, spec: specOf({ inMs, at, cron, every, timeZone, missed }) })),
);

type When = { inMs?: number; at?: string; cron?: string; every?: number; timeZone?: string; missed?: unknown };

/**
 * The schedule the body asks for, its fields renamed as the scheduler names them. A time zone or
 * a missed-run policy where it does not belong, or a policy that is not one, goes on as it came:
 * the scheduler's `parseSchedule` checks every combination, for every caller alike.
 */
function specOf({ inMs, at, cron, every, timeZone, missed }: When): ScheduleSpec {
  const when = inMs !== undefined ? { inMs } : at !== undefined ? { at } : cron !== undefined ? { cron } : { everyMs: every ?? Number.NaN };
  return { ...when, ...(timeZone === undefined ? {} : { timeZone }), ...(missed === undefined ? {} : { missed }) } as ScheduleSpec;
}

/**
 * `POST /v1/schedules` (202), `GET /v1/schedules?key=` (the pending schedules, and the recent
 * denials and give-ups as `outcomes`), `DELETE /v1/schedules/:messageId?key=`. Scheduling needs
 * the caller to be authorized for the service now; at delivery the scheduler resolves the caller
 * again and they are authorized with the rights they have then. Identified callers see and
 * cancel only what they scheduled; admins — the admin token, and the identities the scheduler's
 * `isAdmin` recognises — everything; anonymous callers nothing. Without a scheduler the routes
 * answer 404.
 */
export function mountScheduleRoutes<Env extends object>(app: Hono<GatewayEnv<Env>>, options: ScheduleRoutesOptions<Env>): void {
  const { scheduler, dispatcher } = options;
  if (scheduler === undefined) return;

  const scheduleCall = async (c: Context<GatewayEnv<Env>>) => {
    const headed = c.get("message");
    if (headed.dryRun !== false) return invalid(c, headed, "X-Dry-Run is not supported when scheduling");
    const raw = readBody(c.get("body"));
    if (!raw.ok) return replyWith(c, halt(headed, raw.error));
    // A refusal names the service the body asked for, as every later answer does (when it is a
    // name as ids are: nothing invisible, nothing long is echoed).
    const asked = readKey(raw.value["service"]);
    const named = asked.ok ? { ...headed, serviceName: asked.key } : headed;
    const checked = v.safeParse(ScheduleBody, raw.value);
    if (!checked.success) return invalid(c, named, issueText(checked.issues));
    const body = checked.output;
    const key = readKey(body.key);
    if (!key.ok) return invalid(c, named, `key ${key.problem}`);
    const message: Message = { ...named, serviceName: body.service, rawRequest: body.request, assigns: c.get("assigns") };
    const authorization = await dispatcher.authorization(message, { publicOnly: true, env: c.env });
    if (authorization.status === "service_unavailable") {
      return replyWith(c, halt(message, response.error("unknown_service", { service: body.service })));
    }
    if (authorization.status !== "ok") return replyWith(c, halt(message, authorization));
    const answer = await scheduler.schedule(c.env, { key: key.key, message, spec: body.spec, publicOnly: true });
    return replyWith(c, halt(message, answer), answer.status === "ok" ? 202 : undefined);
  };

  const viewerOf = scheduleViewer(options);

  const listCall = async (c: Context<GatewayEnv<Env>>) => {
    const target = await keyAndViewer(c, viewerOf);
    if (target instanceof Response) return target;
    const [schedules, outcomes] = await Promise.all([
      scheduler.list(c.env, target.key, target.viewer),
      scheduler.outcomes(c.env, target.key, target.viewer),
    ]);
    return c.json({ key: target.key, schedules, outcomes });
  };

  const cancelCall = async (c: Context<GatewayEnv<Env>>) => {
    const target = await keyAndViewer(c, viewerOf);
    if (target instanceof Response) return target;
    // A message id is an id: read by the same rule as keys and aggregate ids.
    const messageId = readKey(c.req.param("messageId") ?? "");
    if (!messageId.ok) return answerWith(c, response.error("invalid_id", { problem: `messageId ${messageId.problem}` }));
    return answerWith(c, await scheduler.cancel(c.env, target.key, messageId.key, target.viewer));
  };

  app.post("/v1/schedules", options.limitBody, requestMessage<Env>(false), options.caller, scheduleCall);
  app.get("/v1/schedules", listCall);
  app.delete("/v1/schedules/:messageId", cancelCall);
}

/** The first problem of a refused schedule body; an unknown field is named as such. */
function issueText(issues: readonly ValidationProblem[]): string {
  const message = issues[0]?.message ?? "";
  return message.startsWith("unknown fields") ? message : firstProblem(issues);
}

function invalid<Env extends object>(c: Context<GatewayEnv<Env>>, message: Message, problem: string): Response {
  return replyWith(c, halt(message, response.error("invalid_request", problem)));
}

/** Who is looking: the admin token's bearer (every owner's), an identified caller, or a refusal. */
type ViewerOf<Env extends object> = (c: Context<GatewayEnv<Env>>) => Promise<{ viewer: ScheduleViewer } | Response>;

/** The `key` query parameter and who is looking, or the answer refusing them. */
async function keyAndViewer<Env extends object>(c: Context<GatewayEnv<Env>>, viewerOf: ViewerOf<Env>): Promise<{ key: string; viewer: ScheduleViewer } | Response> {
  const key = readKey(c.req.query("key") ?? "");
  if (!key.ok) return answerWith(c, response.error("invalid_request", `key ${key.problem}`));
  const seen = await viewerOf(c);
  return seen instanceof Response ? seen : { key: key.key, viewer: seen.viewer };
}

/**
 * Who may look at schedules: the bearer of the admin token sees and cancels every owner's; an
 * identified caller is passed on with their principal and identity — the scheduler lets the
 * identities its `isAdmin` recognises see everything, and everyone else only their own;
 * anonymous callers are indistinguishable, so none of them may see or cancel anything (401), and
 * refused credentials are 401 too. While an admin token is configured, credentials that are
 * neither it nor a caller's are a failed admin-token check, counted per client address: from an
 * address past the limit the admin token is not checked, and anything but a caller's own
 * credentials is answered 429 `too_many_attempts`. When
 * callers are identified from another header than `Authorization`, any `Authorization` that is
 * not the admin token is a failed check.
 */
function scheduleViewer<Env extends object>(options: ScheduleRoutesOptions<Env>): ViewerOf<Env> {
  const throttle = options.throttle ?? new AdminThrottle<Env>();
  return async (c) => {
    const authorization = c.req.header("Authorization");
    const adminToken = options.adminToken?.(c.env);
    const adminPath = authorization !== undefined && adminToken !== undefined && adminToken !== "";
    const address = clientAddress(c.req.raw.headers);
    // Callers identified from another header: `Authorization` can only be the admin token.
    const elsewhere = options.identityHeader !== undefined && options.identityHeader.toLowerCase() !== "authorization";
    // An address past the limit is not checked against the admin token at all; a caller's own
    // credentials from it still are (one guesser behind a shared address must not lock its
    // neighbours out of their own schedules).
    let lockedOut = 0;
    if (adminPath) {
      lockedOut = throttle.refusedFor(address);
      if (lockedOut === 0) {
        if (await timingSafeEqual(authorization, `Bearer ${adminToken}`)) return { viewer: undefined };
        const failed = elsewhere ? await throttle.failed(c.env, address) : 0;
        if (failed > 0) return tooManyAttempts(c, failed);
      } else if (elsewhere) {
        // `Authorization` can only be the admin token here.
        return tooManyAttempts(c, lockedOut);
      }
    }
    const credentials = elsewhere ? c.req.header(options.identityHeader ?? "") : authorization;
    const assigns = await callerAssigns(credentials, options.identify, c.env, options.principalOf);
    const principal = assigns === null ? null : ownerOf({ assigns });
    const identity = assigns?.["identity"];
    if (principal === null || !isJsonObject(identity)) {
      if (lockedOut > 0) return tooManyAttempts(c, lockedOut);
      const wait = adminPath && !elsewhere ? await throttle.failed(c.env, address) : 0;
      if (wait > 0) return tooManyAttempts(c, wait);
      return answerWith(c, response.unauthorized("identify yourself to see or cancel your schedules"));
    }
    return { viewer: { principal, identity } };
  };
}
