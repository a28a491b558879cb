import type { JsonObject } from "../src/core/index.js";

/** Who is calling: a user name, and whether that user is an admin. */
export type Identity = { user: string; admin: boolean };

/**
 * Turns `Authorization: Bearer <token>` into an identity, from the `API_TOKENS` secret:
 * `token=user` or `token=user:admin`, comma-separated. `npm run dev` sets development tokens
 * (see README); in production, `wrangler secret put API_TOKENS`.
 */
export function identify(authorization: string, env: { API_TOKENS?: string }): JsonObject | null {
  const match = /^Bearer (\S+)$/.exec(authorization);
  if (match === null || env.API_TOKENS === undefined) return null;
  for (const entry of env.API_TOKENS.split(",")) {
    const [token, who = ""] = entry.trim().split("=");
    if (token === match[1] && who !== "") {
      const [user = "", role] = who.split(":");
      return { user, admin: role === "admin" };
    }
  }
  return null;
}

/**
 * Who a caller is for good, whatever their roles: the user name. The gateway stores it in
 * `assigns.principal`; schedules and idempotency records belong to it, so a user whose admin role
 * is removed is still the same user (and their schedules are judged with their current rights).
 */
export function principalOf(identity: JsonObject): string {
  return String(identity["user"]);
}

/** The caller's identity as `identify` stored it in `assigns.identity`, or null. */
export function identityOf(message: { assigns: JsonObject }): Identity | null {
  const identity = message.assigns["identity"];
  if (typeof identity !== "object" || identity === null || Array.isArray(identity)) return null;
  const { user, admin } = identity;
  return typeof user === "string" ? { user, admin: admin === true } : null;
}
