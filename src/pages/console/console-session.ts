import type { Context } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { timingSafeEqual } from "hono/utils/buffer";
import type { ConsoleSessions } from "./console-session-object.js";

/*
 * How a browser stays logged in to the console. The admin token is typed once into a login form
 * (POST body, never a URL) and answered with an HttpOnly cookie that scripts cannot read, holding
 * only an expiry and the session generation it was started in, signed with HMAC-SHA256 under a key
 * derived from the admin token: the token itself never leaves the server again, and rotating the
 * token ends every session. A session holds while its generation is the current one (kept by a
 * Durable Object, console-session-object.ts); logging out moves to the next generation,
 * so a copy of the cookie kept after logout no longer works — nor does any other browser's
 * session. Nothing is stored per session. The cookie is SameSite=Strict (never sent on a request
 * started by another site), scoped to the console's path, and Secure over https; the console's
 * POST routes also check the request's origin (Hono's csrf middleware), so a form on another site
 * cannot cancel a schedule or rebuild a projection.
 */

/** The session cookie's name. */
export const CONSOLE_COOKIE = "x3m_console";

/** How long a console login lasts: 8 hours. */
export const CONSOLE_SESSION_MS = 8 * 60 * 60 * 1000;

// Domain separation: the HMAC key is not the bare admin token, so a signature made here means
// nothing anywhere else the token might be used as a key.
const keyOf = (token: string) => `x3m-console-session\u0000${token}`;

const cookiePath = (base: string) => `${base}/console`;

/** True when `given` is the admin token (compared in constant time). */
export async function isAdminToken(given: string, token: string): Promise<boolean> {
  return given !== "" && token !== "" && (await timingSafeEqual(given, token));
}

/** What a session cookie holds: its expiry and the generation it was started in. */
type SessionValue = { expiresAt: number; generation: number };

const valueOf = ({ expiresAt, generation }: SessionValue) => `${expiresAt}-${generation}`;

function readValue(value: unknown): SessionValue | null {
  const match = typeof value === "string" ? /^(\d{1,15})-(\d{1,15})$/.exec(value) : null;
  return match === null ? null : { expiresAt: Number(match[1]), generation: Number(match[2]) };
}

/** Logs the browser in: sets the signed session cookie, for the current generation. */
export async function startSession<Env>(c: Context, token: string, base: string, sessions: ConsoleSessions<Env>, env: Env, now = Date.now()): Promise<void> {
  const generation = await sessions.generation(env);
  await setSignedCookie(c, CONSOLE_COOKIE, valueOf({ expiresAt: now + CONSOLE_SESSION_MS, generation }), keyOf(token), {
    path: cookiePath(base),
    httpOnly: true,
    sameSite: "Strict",
    secure: new URL(c.req.url).protocol === "https:",
    maxAge: CONSOLE_SESSION_MS / 1000,
  });
}

/**
 * True when the request carries a session cookie signed under `token`, not expired, of the
 * current generation. The generation is asked for only when the cookie's signature holds.
 */
export async function hasSession<Env>(c: Context, token: string, sessions: ConsoleSessions<Env>, env: Env, now = Date.now()): Promise<boolean> {
  const session = readValue(await getSignedCookie(c, keyOf(token), CONSOLE_COOKIE));
  if (session === null || session.expiresAt <= now || session.expiresAt > now + CONSOLE_SESSION_MS) return false;
  return session.generation === (await sessions.generation(env));
}

/**
 * Logs out: when the request has a session, ends every session (the next generation), so that
 * no copy of any console cookie works any more; removes this browser's cookie either way. A
 * request without a session ends nobody else's.
 */
export async function endSession<Env>(c: Context, token: string, base: string, sessions: ConsoleSessions<Env>, env: Env): Promise<void> {
  if (await hasSession(c, token, sessions, env)) await sessions.endAll(env);
  deleteCookie(c, CONSOLE_COOKIE, { path: cookiePath(base), httpOnly: true, sameSite: "Strict", secure: new URL(c.req.url).protocol === "https:" });
}
