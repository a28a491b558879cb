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

/** The caller's identity (as `identify` made it; a decision's `context.caller`), typed, or null. */
export function identityOf(identity: JsonObject | null | undefined): Identity | null {
  if (identity === null || identity === undefined) return null;
  const { user, admin } = identity;
  return typeof user === "string" ? { user, admin: admin === true } : null;
}
