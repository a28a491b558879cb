import type { JsonObject } from "../src/core/index.js";

/** Who is calling: a user name, and whether that user is an admin. */
export type Identity = { user: string; admin: boolean };

/** One entry of `API_TOKENS`: a token, its user and whether it makes them an admin. */
type TokenEntry = { token: string; user: string; admin: boolean };

/** The entries of the `API_TOKENS` secret: `token=user` or `token=user:admin`, comma-separated. */
function tokens(env: { API_TOKENS?: string }): TokenEntry[] {
  const secret = env.API_TOKENS ?? "";
  // Parsed once per value of the secret (it is the same for every request of a deployment).
  if (parsed?.secret !== secret) parsed = { secret, entries: parseTokens(secret) };
  return parsed.entries;
}

let parsed: { secret: string; entries: TokenEntry[] } | undefined;

function parseTokens(secret: string): TokenEntry[] {
  return secret.split(",").flatMap((entry) => {
    const [token = "", who = ""] = entry.trim().split("=");
    const [user = "", role] = who.split(":");
    return token === "" || user === "" ? [] : [{ token, user, admin: role === "admin" }];
  });
}

/**
 * Turns `Authorization: Bearer <token>` into an identity, from the `API_TOKENS` secret:
 * `token=user` or `token=user:admin`, comma-separated. `npm run dev` sets development tokens
 * (see README); in production, `wrangler secret put API_TOKENS`.
 */
export function identify(authorization: string, env: { API_TOKENS?: string }): JsonObject | null {
  const match = /^Bearer (\S+)$/.exec(authorization);
  const entry = match === null ? undefined : tokens(env).find(({ token }) => token === match[1]);
  return entry === undefined ? null : { user: entry.user, admin: entry.admin };
}

/**
 * The scheduler's `reidentify`: who a user is NOW, from the `API_TOKENS` secret as it is at
 * delivery — `{ user, admin }`, an admin when one of their current tokens says so — or null
 * when no token of theirs is left. A scheduled withdrawal of a user whose admin role (or token)
 * was removed in between is judged by what they may do now.
 */
export function reidentify(principal: string, env: { API_TOKENS?: string }): JsonObject | null {
  const theirs = tokens(env).filter(({ user }) => user === principal);
  return theirs.length === 0 ? null : { user: principal, admin: theirs.some(({ admin }) => admin) };
}

/**
 * Who a caller is for good, whatever their roles: the user name. The gateway stores it in
 * `assigns.principal`; schedules and idempotency records belong to it, so a user whose admin role
 * is removed is still the same user (and their schedules are judged with their current rights).
 */
export function principalOf(identity: JsonObject): string {
  return String(identity["user"]);
}

/** Whom the scheduler lets see and cancel every owner's schedules (besides the admin token): admins. */
export function isAdmin(identity: JsonObject): boolean {
  return identity["admin"] === true;
}

/** The caller's identity (as `identify` made it; a decision's `context.caller`), typed, or null. */
export function identityOf(identity: JsonObject | null | undefined): Identity | null {
  if (identity === null || identity === undefined) return null;
  const { user, admin } = identity;
  return typeof user === "string" ? { user, admin: admin === true } : null;
}
