import type { Context } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { timingSafeEqual } from "hono/utils/buffer";

/*
 * How a browser stays logged in to the console. The admin token is typed once into a login form
 * (POST body, never a URL) and answered with an HttpOnly cookie that scripts cannot read, holding
 * only an expiry signed with HMAC-SHA256 under a key derived from the admin token: the token
 * itself never leaves the server again, rotating the token ends every session, and nothing needs
 * storing. The cookie is SameSite=Strict (never sent on a request started by another site), scoped
 * to the console's path, and Secure over https; the console's POST routes also check the request's
 * origin (Hono's csrf middleware), so a form on another site cannot cancel a schedule or rebuild a
 * projection.
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

/** Logs the browser in: sets the signed session cookie. */
export async function startSession(c: Context, token: string, base: string, now = Date.now()): Promise<void> {
  await setSignedCookie(c, CONSOLE_COOKIE, String(now + CONSOLE_SESSION_MS), keyOf(token), {
    path: cookiePath(base),
    httpOnly: true,
    sameSite: "Strict",
    secure: new URL(c.req.url).protocol === "https:",
    maxAge: CONSOLE_SESSION_MS / 1000,
  });
}

/** True when the request carries a session cookie signed under `token` that has not expired. */
export async function hasSession(c: Context, token: string, now = Date.now()): Promise<boolean> {
  const value = await getSignedCookie(c, keyOf(token), CONSOLE_COOKIE);
  if (typeof value !== "string" || !/^\d{1,15}$/.test(value)) return false;
  const expiresAt = Number(value);
  return expiresAt > now && expiresAt <= now + CONSOLE_SESSION_MS;
}

/** Logs the browser out: removes the session cookie. */
export function endSession(c: Context, base: string): void {
  deleteCookie(c, CONSOLE_COOKIE, { path: cookiePath(base), httpOnly: true, sameSite: "Strict", secure: new URL(c.req.url).protocol === "https:" });
}
