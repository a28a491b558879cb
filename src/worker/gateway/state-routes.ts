import type { Context, Hono } from "hono";
import type { PastState } from "../../core/aggregates/aggregate-protocol.js";
import type { StreamAccess } from "../../core/aggregates/aggregate-router.js";
import { readPastPoint } from "../../core/aggregates/past-state.js";
import { response, type ErrorResponse } from "../../core/messaging/response.js";
import { isJsonObject, type JsonObject } from "../../core/shared/json.js";
import { callerAssigns, type Identify, type PrincipalOf } from "./caller.js";
import { limitBody, type GatewayEnv } from "./gateway-middleware.js";
import type { StreamTarget } from "./stream-target.js";
import { answerWith as answer } from "./replies.js";
import { readBody } from "./request-body.js";

/*
 * Looking back at an aggregate (admin): its state at a version or a time, and a dry run of one of
 * its commands against that state. Who the dry run runs as is the one question of trust here. The
 * admin token says who may look, not who a command's caller is; so a dry run runs as the caller
 * that `credentials` identify — given to the gateway's own `identify`, exactly as a live call's
 * credentials header would be — or as an anonymous caller without them. An identity is never
 * taken as typed: the app's `authorize`, its `access` rule and its decision judge a caller the app
 * itself would recognise, with that caller's rights now.
 */

/** How the gateway identifies callers (a look back's dry run runs as one). */
export type LookBackCallers<Env> = { identify?: Identify<Env> | undefined; principalOf?: PrincipalOf | undefined };

/** A look back as it is asked for over HTTP or in a console form: every value as it came. */
export type LookBackInput = {
  version: string | undefined;
  at: string | undefined;
  /** A dry run: the command's name, its request (a JSON object), the credentials of the caller it runs as. */
  dryRun?: { command: unknown; request: unknown; credentials: unknown };
};

/** The fields a dry run's body may have. */
const DRY_RUN_FIELDS = new Set(["command", "request", "credentials"]);

/**
 * An aggregate's state at a version or time and, with `input.dryRun`, a command's dry run against
 * it; what was given is checked first, and refused with `invalid_request` saying why.
 */
export async function lookBack<Env>(access: StreamAccess<Env>, env: Env, id: string, input: LookBackInput, callers: LookBackCallers<Env>): Promise<PastState | ErrorResponse> {
  const point = readPastPoint(input.version, input.at);
  if (typeof point === "string") return response.error("invalid_request", point);
  if (access.stateAt === undefined) return response.error("invalid_request", `the ${access.stream} aggregates cannot look back`);
  if (input.dryRun === undefined) return access.stateAt(env, id, point);
  const { command, request = {}, credentials } = input.dryRun;
  if (typeof command !== "string" || command === "") return response.error("invalid_request", "command must be the name of one of the aggregate's commands");
  if (!isJsonObject(request)) return response.error("invalid_request", "request must be a JSON object");
  const assigns = await runAs(credentials, env, callers);
  if (typeof assigns === "string") return response.error("invalid_request", assigns);
  return access.stateAt(env, id, point, { command, request, assigns });
}

/** The assigns of the caller a dry run runs as: anonymous without credentials, else whom `identify` says they are — or why not. */
async function runAs<Env>(credentials: unknown, env: Env, callers: LookBackCallers<Env>): Promise<JsonObject | string> {
  if (credentials === undefined || credentials === "") return {};
  if (typeof credentials !== "string") return "credentials must be a string: the value of the credentials header of the caller to run as";
  if (callers.identify === undefined) return "this gateway identifies no callers (it has no identify): leave credentials out";
  const assigns = await callerAssigns(credentials, callers.identify, env, callers.principalOf);
  return assigns ?? "the credentials identify no one (a call with them would be answered 401)";
}

/**
 * `GET /v1/streams/:stream/:id/state?version=N` (or `?at=<RFC 3339>`): the aggregate's state then
 * (a `PastState`). `POST /v1/streams/:stream/:id/state/dry-run?version=N` (or `?at=`) with
 * `{ command, request?, credentials? }`: the same, with `dryRun` — what the command would have
 * answered there and the events it would have appended; 200 whatever the command answered,
 * nothing stored. Admin only (the stream routes' token check covers them).
 */
export function mountStateRoutes<Env extends object>(app: Hono<GatewayEnv<Env>>, targetOf: StreamTarget<Env>, callers: LookBackCallers<Env> & { maxBodyBytes: number }): void {
  const answerLookBack = (c: Context<GatewayEnv<Env>>, past: PastState | ErrorResponse) => ("status" in past ? answer(c, past) : c.json(past));

  app.get("/v1/streams/:stream/:id/state", async (c: Context<GatewayEnv<Env>>) => {
    const target = targetOf(c);
    if (target instanceof Response) return target;
    return answerLookBack(c, await lookBack(target.access, c.env, target.id, { version: c.req.query("version"), at: c.req.query("at") }, callers));
  });

  const maxBytes = callers.maxBodyBytes;
  const bodyLimit = limitBody<Env>(maxBytes, (c) => answer(c, response.error("payload_too_large", { maxBytes })));
  app.post("/v1/streams/:stream/:id/state/dry-run", bodyLimit, async (c: Context<GatewayEnv<Env>>) => {
    const target = targetOf(c);
    if (target instanceof Response) return target;
    const body = readBody(c.get("body"));
    if (!body.ok) return answer(c, body.error);
    const unknown = Object.keys(body.value).filter((field) => !DRY_RUN_FIELDS.has(field));
    if (unknown.length > 0) return answer(c, response.error("invalid_request", `unknown fields: ${unknown.join(", ")} (a dry run takes command, request and credentials)`));
    const { command, request, credentials } = body.value;
    const input = { version: c.req.query("version"), at: c.req.query("at"), dryRun: { command, request, credentials } };
    return answerLookBack(c, await lookBack(target.access, c.env, target.id, input, callers));
  });
}
