import type { Context, Hono } from "hono";
import type { StreamAccess } from "../core/aggregates/aggregate-handlers.js";
import { readKey } from "../core/shared/keys.js";
import { response } from "../core/messaging/response.js";
import { answerWith as answer } from "./replies.js";
import { sameSecret } from "./same-secret.js";

/** Admin access to aggregate streams. The routes answer 404 while no token is configured. */
export type AdminOptions<Env> = {
  /** The admin bearer token (a secret); undefined or empty disables the admin routes. */
  token: (env: Env) => string | undefined;
  /** The aggregates whose streams can be read and deleted, found by stream name prefix. */
  aggregates: readonly StreamAccess<Env>[];
};

/** The most events one page returns. */
export const MAX_PAGE = 1000;

type Bindings<Env extends object> = { Bindings: Env };

/**
 * `GET /v1/streams/:stream/:id?from=&limit=` (the stored events with their metadata, page by page)
 * and `DELETE /v1/streams/:stream/:id?mode=soft|hard&expectedVersion=`, admin only.
 */
export function mountStreamRoutes<Env extends object>(app: Hono<Bindings<Env>>, admin: AdminOptions<Env> | undefined): void {
  app.get("/v1/streams/:stream/:id", async (c) => {
    const target = await authorizedTarget(c, admin);
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

  app.delete("/v1/streams/:stream/:id", async (c) => {
    const target = await authorizedTarget(c, admin);
    if (target instanceof Response) return target;
    const mode = c.req.query("mode") ?? "soft";
    const expectedVersion = integerParam(c.req.query("expectedVersion"), undefined);
    if ((mode !== "soft" && mode !== "hard") || expectedVersion === null) {
      return answer(c, response.error("invalid_request", "mode must be soft or hard; expectedVersion an integer"));
    }
    return answer(c, await target.access.deleteStream(c.env, target.id, { mode, ...(expectedVersion === undefined ? {} : { expectedVersion }) }));
  });
}

async function authorizedTarget<Env extends object>(
  c: Context<Bindings<Env>>,
  admin: AdminOptions<Env> | undefined,
): Promise<{ access: StreamAccess<Env>; id: string } | Response> {
  const token = admin?.token(c.env);
  if (admin === undefined || token === undefined || token === "") return answer(c, response.error("not_found"));
  const authorization = c.req.header("Authorization") ?? "";
  if (!(await sameSecret(authorization, `Bearer ${token}`))) return answer(c, response.unauthorized("admin token required"));
  const access = admin.aggregates.find((candidate) => candidate.stream === c.req.param("stream"));
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
