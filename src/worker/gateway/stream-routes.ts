import type { Context, Hono, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { timingSafeEqual } from "hono/utils/buffer";
import type { StreamAccess } from "../../core/aggregates/aggregate-router.js";
import { response } from "../../core/messaging/response.js";
import { readKey } from "../../core/shared/keys.js";
import { AdminThrottle, clientAddress, tooManyAttempts, type RateLimiter } from "./admin-throttle.js";
import type { GatewayEnv } from "./gateway-middleware.js";
import { answerWith as answer } from "./replies.js";
import { mountStateRoutes, type LookBackCallers } from "./state-routes.js";
import { mountEraseRoutes, type AdminErasure } from "./erase-routes.js";
import type { SchedulerClient } from "../../core/scheduling/scheduler.js";

/** Admin access to aggregate streams. The routes answer 404 while no token is configured. */
export type AdminOptions<Env> = {
  /** The admin bearer token (a secret); undefined or empty disables the admin routes. */
  token: (env: Env) => string | undefined;
  /** The aggregates whose streams can be read and deleted, found by stream name prefix. */
  aggregates: readonly StreamAccess<Env>[];
  /**
   * Cloudflare's Rate Limiting binding that counts failed admin-token checks per client address
   * (`CF-Connecting-IP`), e.g. `(env) => env.ADMIN_RATE_LIMIT` over `[[ratelimits]]` with
   * `simple = { limit = 10, period = 60 }` in wrangler.toml, across the Worker's isolates. Each
   * isolate also counts on its own, with or without it: 10 in any minute. An address past either
   * gets 429 `too_many_attempts` for a minute on the stream routes, the schedule routes' admin
   * path and the console's login — the right token included.
   */
  rateLimit?: (env: Env) => RateLimiter | undefined;
  /**
   * Erasure on request: `POST /v1/streams/:stream/:id/erase` (and the console's Erase) erases an
   * aggregate end to end with this read side — `{ readSide: reads }` — and answers its receipt;
   * `scheduleKeys(stream, id)` names the scheduler keys whose pending schedules go too (default:
   * the id). Without it those routes answer 404.
   */
  erasure?: AdminErasure<Env>;
};

/** The most events one page returns. */
export const MAX_PAGE = 1000;

// Every failure of the token check is a 401 with the API's JSON body (a malformed header too).
const unauthorized = () => Response.json({ response: response.unauthorized("admin token required") }, { status: 401 });

/**
 * The admin token check: 404 while no token is configured (the routes do not exist), otherwise
 * Hono's bearer-auth middleware, which compares tokens in constant time. Each failed check (a
 * malformed header or a wrong token) is counted by `throttle` for the client's address; an
 * address past its limit is answered 429 `too_many_attempts` without its token being looked at.
 */
export function adminOnly<Env extends object>(
  token: ((env: Env) => string | undefined) | undefined,
  throttle: AdminThrottle<Env> = new AdminThrottle<Env>(),
): MiddlewareHandler<GatewayEnv<Env>> {
  return async (c, next) => {
    const expected = token?.(c.env);
    if (expected === undefined || expected === "") return answer(c, response.error("not_found"));
    const address = clientAddress(c.req.raw.headers);
    if (c.req.header("Authorization") !== undefined) {
      const wait = throttle.refusedFor(address);
      if (wait > 0) return tooManyAttempts(c, wait);
    }
    // Counted once per request, whichever way the check failed; the answer says whether that failure was one too many.
    let refusedFor = 0;
    const failed = async () => {
      refusedFor = await throttle.failed(c.env, address);
      return false;
    };
    const refusal = (ctx: Context) => (refusedFor > 0 ? tooManyAttempts(ctx, refusedFor) : unauthorized());
    return bearerAuth<GatewayEnv<Env>>({
      verifyToken: async (given) => (await timingSafeEqual(given, expected)) || failed(),
      noAuthenticationHeader: { message: unauthorized },
      invalidAuthenticationHeader: {
        message: async (ctx: Context) => {
          await failed();
          return refusal(ctx);
        },
      },
      invalidToken: { message: refusal },
    })(c, next);
  };
}

/**
 * `GET /v1/streams/:stream/:id?from=&limit=` (the stored events with their metadata, page by page),
 * `DELETE /v1/streams/:stream/:id?mode=soft|hard&expectedVersion=`, the state at a version or
 * time with its dry runs (state-routes.ts, run as the caller `callers.identify` recognises), and
 * erasure on request with its receipts (erase-routes.ts, with `callers.scheduler`), admin only.
 */
export function mountStreamRoutes<Env extends object>(
  app: Hono<GatewayEnv<Env>>,
  admin: AdminOptions<Env> | undefined,
  throttle: AdminThrottle<Env> | undefined,
  callers: LookBackCallers<Env> & { scheduler?: SchedulerClient<Env> | undefined; maxBodyBytes: number },
): void {
  app.use("/v1/streams/*", adminOnly<Env>(admin?.token, throttle));
  mountStateRoutes(app, (c) => targetOf(c, admin), callers);
  mountEraseRoutes(app, (c) => targetOf(c, admin), admin?.erasure, callers.scheduler, callers.maxBodyBytes);

  app.get("/v1/streams/:stream/:id", async (c: Context<GatewayEnv<Env>>) => {
    const target = targetOf(c, admin);
    if (target instanceof Response) return target;
    const from = integerParam(c.req.query("from"), 0);
    const limit = integerParam(c.req.query("limit"), 100);
    if (from === null || from < 0 || limit === null || limit < 1 || limit > MAX_PAGE) {
      return answer(c, response.error("invalid_request", `from must be an integer >= 0 and limit from 1 to ${MAX_PAGE}`));
    }
    const page = await target.access.readStream(c.env, target.id, { from, limit });
    if (page.status === "missing") return answer(c, response.error("not_found"));
    return c.json(page);
  });

  app.delete("/v1/streams/:stream/:id", async (c: Context<GatewayEnv<Env>>) => {
    const target = targetOf(c, admin);
    if (target instanceof Response) return target;
    const mode = c.req.query("mode") ?? "soft";
    const expectedVersion = integerParam(c.req.query("expectedVersion"), undefined);
    if ((mode !== "soft" && mode !== "hard") || expectedVersion === null) {
      return answer(c, response.error("invalid_request", "mode must be soft or hard; expectedVersion an integer"));
    }
    return answer(c, await target.access.deleteStream(c.env, target.id, { mode, ...(expectedVersion === undefined ? {} : { expectedVersion }) }));
  });
}

/** The aggregate and id a stream route names, or the answer refusing them. */
function targetOf<Env extends object>(c: Context<GatewayEnv<Env>>, admin: AdminOptions<Env> | undefined): { access: StreamAccess<Env>; id: string } | Response {
  const access = admin?.aggregates.find((candidate) => candidate.stream === c.req.param("stream"));
  if (access === undefined) return answer(c, response.error("not_found"));
  const id = readKey(c.req.param("id") ?? "");
  if (!id.ok) return answer(c, response.error("invalid_id", { problem: id.problem }));
  return { access, id: id.key };
}

/** An integer query parameter, `fallback` when absent, null when not an integer. */
function integerParam<F extends number | undefined>(value: string | undefined, fallback: F): number | F | null {
  if (value === undefined) return fallback;
  return /^-?\d{1,15}$/.test(value) ? Number(value) : null;
}
