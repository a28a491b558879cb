import type { Context } from "hono";
import type { StreamAccess } from "../../core/aggregates/aggregate-router.js";
import type { GatewayEnv } from "./gateway-middleware.js";

/**
 * The stream an admin route names (`/v1/streams/:stream/:id/…`): how to reach its type and the
 * id, or the answer that refuses the request (no admin token, an unknown type, a bad id).
 */
export type StreamTarget<Env extends object> = (c: Context<GatewayEnv<Env>>) => { access: StreamAccess<Env>; id: string } | Response;
