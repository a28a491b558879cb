import type { JsonObject } from "../src/core/index.js";
import { jwtIdentity } from "../src/worker/index.js";
import type { Env } from "./env.js";

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
 * Callers with JSON Web Tokens, when the `JWT_*` vars name an issuer, an audience and its keys
 * (`npm run dev:jwt` makes a local key set and sets them). The user is the token's subject; the
 * `roles` claim makes an admin.
 */
const jwt = jwtIdentity<Env>({
  issuer: (env) => env.JWT_ISSUER,
  audience: (env) => env.JWT_AUDIENCE,
  jwks: (env) => env.JWT_JWKS_URL,
  keys: (env) => env.JWT_JWKS,
  identity: (claims) => ({ user: String(claims["sub"]) }),
  admin: (claims) => Array.isArray(claims["roles"]) && claims["roles"].includes("admin"),
});

const jwtConfigured = (env: Env) => Boolean(env.JWT_ISSUER && env.JWT_AUDIENCE && (env.JWT_JWKS_URL || env.JWT_JWKS));

/**
 * Turns `Authorization: Bearer <token>` into an identity: a token of the `API_TOKENS` secret
 * (`token=user` or `token=user:admin`, comma-separated; `npm run dev` sets development tokens,
 * see README; in production, `wrangler secret put API_TOKENS`), else a JSON Web Token when the
 * `JWT_*` vars are set.
 */
export async function identify(authorization: string, env: Env): Promise<JsonObject | null> {
  const match = /^Bearer (\S+)$/.exec(authorization);
  const entry = match === null ? undefined : tokens(env).find(({ token }) => token === match[1]);
  if (entry !== undefined) return { user: entry.user, admin: entry.admin };
  return jwtConfigured(env) ? jwt.identify(authorization, env) : null;
}

/**
 * The scheduler's `reidentify`: who a principal is NOW. A user of `API_TOKENS`, from the secret as
 * it is at delivery — `{ user, admin }`, an admin when one of their current tokens says so — or
 * null when no token of theirs is left; a JWT caller's, as `jwtIdentity` judges it (their baseline
 * identity, no admin role, as no token exists then; null only when a `directory` says so).
 * A scheduled withdrawal of a user whose admin role (or token) was removed in between is judged
 * by what they may do now.
 */
export async function reidentify(principal: string, env: Env): Promise<JsonObject | null> {
  if (principal.startsWith("{")) return jwtConfigured(env) ? jwt.reidentify(principal, env) : null;
  const theirs = tokens(env).filter(({ user }) => user === principal);
  return theirs.length === 0 ? null : { user: principal, admin: theirs.some(({ admin }) => admin) };
}

/**
 * Who a caller is for good, whatever their roles: the user name of an `API_TOKENS` user, the
 * issuer and subject of a JWT caller. The gateway stores it in `assigns.principal`;
 * schedules and idempotency records belong to it, so a user whose admin role is removed is still
 * the same user (and their schedules are judged with their current rights).
 */
export function principalOf(identity: JsonObject): string {
  return typeof identity["iss"] === "string" ? jwt.principalOf(identity) : String(identity["user"]);
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
