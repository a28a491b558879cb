import type { Context, Hono } from "hono";
import type { StreamAccess } from "../../core/aggregates/aggregate-router.js";
import type { ErasureReceipt } from "../../core/readside/erasure-receipt.js";
import { response, type ErrorResponse } from "../../core/messaging/response.js";
import type { SchedulerClient } from "../../core/scheduling/scheduler.js";
import type { JsonObject } from "../../core/shared/json.js";
import type { ReadSide } from "../readside/read-side.js";
import { limitBody, type GatewayEnv } from "./gateway-middleware.js";
import type { StreamTarget } from "./stream-target.js";
import { answerWith as answer } from "./replies.js";
import { readBody } from "./request-body.js";

/*
 * Erasure on request (admin): one aggregate erased end to end by the read side — its object's
 * storage, its pending schedules, its rows in the read models, checkpoints, catalog and dead
 * letters — answered with the receipt the read side keeps in its audit log. The stream routes'
 * token check covers these routes; while the gateway has no `admin.erasure` they answer 404.
 */

/** What the gateway erases with (`admin.erasure`): the read side, and which scheduler keys name an aggregate. */
export type AdminErasure<Env> = {
  /** The Worker's read side (what `readSide()` returns): it erases, and keeps the audit log. */
  readSide: Pick<ReadSide<Env>, "erase" | "erasures">;
  /**
   * The scheduler keys whose pending schedules go with aggregate `id` of type `stream` (with the
   * gateway's `scheduler`). Default: the aggregate's id alone.
   */
  scheduleKeys?: (stream: string, id: string) => readonly string[];
};

/** Who asks, as an erase's body may say: the operator's name and the reason, each at most this long. */
const MAX_NOTE = 200;

/** An erasure asked for by an admin, from the gateway or the console. */
export type AdminErase = { via: "api" | "console"; operator: string | null; reason: string | null };

/** Erases aggregate `id` of `access` with `erasure`'s read side and the gateway's scheduler. */
export function eraseAsAdmin<Env>(
  erasure: AdminErasure<Env>,
  scheduler: SchedulerClient<Env> | undefined,
  env: Env,
  target: { access: StreamAccess<Env>; id: string },
  asked: AdminErase,
): Promise<ErasureReceipt | ErrorResponse> {
  return erasure.readSide.erase(env, {
    aggregate: target.access,
    id: target.id,
    scheduler,
    scheduleKeys: erasure.scheduleKeys?.(target.access.stream, target.id),
    by: { via: asked.via, operator: asked.operator },
    reason: asked.reason,
  });
}

/** The operator and reason an erase's body (or the console's form) gives, each optional, or why they are refused. */
export function eraseNote(body: JsonObject): { operator: string | null; reason: string | null } | string {
  const unknown = Object.keys(body).filter((field) => field !== "operator" && field !== "reason");
  if (unknown.length > 0) return `unknown fields: ${unknown.join(", ")} (an erase takes operator and reason)`;
  const note = (field: "operator" | "reason"): string | null | undefined => {
    const value = body[field];
    if (value === undefined || value === null || value === "") return null;
    return typeof value === "string" && value.length <= MAX_NOTE ? value : undefined;
  };
  const operator = note("operator");
  const reason = note("reason");
  if (operator === undefined || reason === undefined) return `operator and reason must be strings of at most ${MAX_NOTE} characters`;
  return { operator, reason };
}

/**
 * `POST /v1/streams/:stream/:id/erase` with an optional `{ operator, reason }`: erases the
 * aggregate and answers its receipt (200; the same receipt again once nothing is left), 404 when
 * nothing of it is stored and no receipt is kept. `GET /v1/streams/:stream/:id/erasures`: the
 * receipts of its erasures, newest first (the audit log).
 */
export function mountEraseRoutes<Env extends object>(
  app: Hono<GatewayEnv<Env>>,
  targetOf: StreamTarget<Env>,
  erasure: AdminErasure<Env> | undefined,
  scheduler: SchedulerClient<Env> | undefined,
  maxBodyBytes: number,
): void {
  const bodyLimit = limitBody<Env>(maxBodyBytes, (c) => answer(c, response.error("payload_too_large", { maxBytes: maxBodyBytes })));

  app.post("/v1/streams/:stream/:id/erase", bodyLimit, async (c: Context<GatewayEnv<Env>>) => {
    const target = targetOf(c);
    if (target instanceof Response) return target;
    if (erasure === undefined) return answer(c, response.error("not_found"));
    const body = readBody(c.get("body"));
    if (!body.ok) return answer(c, body.error);
    const note = eraseNote(body.value);
    if (typeof note === "string") return answer(c, response.error("invalid_request", note));
    const receipt = await eraseAsAdmin(erasure, scheduler, c.env, target, { via: "api", ...note });
    return "status" in receipt ? answer(c, receipt) : c.json(receipt);
  });

  app.get("/v1/streams/:stream/:id/erasures", async (c: Context<GatewayEnv<Env>>) => {
    const target = targetOf(c);
    if (target instanceof Response) return target;
    if (erasure === undefined) return answer(c, response.error("not_found"));
    return c.json({ erasures: await erasure.readSide.erasures(c.env, { streamName: `${target.access.stream}-${target.id}` }) });
  });
}
