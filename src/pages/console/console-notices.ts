import { decodeBase64Url, encodeBase64Url } from "hono/utils/encode";
import { isJsonObject } from "../../core/shared/json.js";

/*
 * What a console page says after a change (a cancelled schedule, a rebuild's report) travels in
 * the redirect back to the page — the console keeps no state between requests — but only as a
 * notice the console itself sealed: its fields, the page it is for and an expiry, signed with
 * HMAC-SHA256 under a key derived from the admin token. A page shows the fields of a notice whose
 * signature holds, for its own page, before its expiry, and nothing else: text put in a URL by
 * someone else ("Session expired. Log in again at https://…") is never shown.
 */

/** The fields of a notice: what the page says, by name (`cancelled` → a message id…). */
export type NoticeFields = Readonly<Record<string, string>>;

/** How long a notice's link shows it: the redirect, and a reload or two. */
export const NOTICE_TTL_MS = 10 * 60 * 1000;

/** The query parameter that carries a sealed notice. */
export const NOTICE_PARAM = "notice";

// Domain separation: the key signs notices and nothing else (the session cookie has its own).
const keyOf = (token: string) =>
  crypto.subtle.importKey("raw", new TextEncoder().encode(`x3m-console-notice\u0000${token}`), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);

const base64Url = (bytes: ArrayBuffer | Uint8Array) => encodeBase64Url(bytes instanceof Uint8Array ? bytes.slice().buffer : bytes).replace(/=+$/, "");

/** Seals `fields` as a notice for `page` (a name such as "schedules"), to put in a URL as the `notice` parameter. */
export async function sealNotice(token: string, page: string, fields: NoticeFields, now = Date.now()): Promise<string> {
  const payload = base64Url(new TextEncoder().encode(JSON.stringify({ page, expiresAt: now + NOTICE_TTL_MS, fields })));
  const signature = await crypto.subtle.sign("HMAC", await keyOf(token), new TextEncoder().encode(payload));
  return `${payload}.${base64Url(signature)}`;
}

/**
 * The fields of `sealed` when it is a notice this console sealed under `token`, for `page`, and
 * not yet expired; null otherwise (absent, forged, altered, expired, for another page, malformed).
 */
export async function openNotice(token: string, page: string, sealed: string | undefined, now = Date.now()): Promise<NoticeFields | null> {
  if (sealed === undefined || token === "" || sealed.length > 4096) return null;
  const match = /^([\w-]+)\.([\w-]+)$/.exec(sealed);
  if (match === null) return null;
  const [, payload = "", signature = ""] = match;
  try {
    const valid = await crypto.subtle.verify("HMAC", await keyOf(token), decodeBase64Url(signature), new TextEncoder().encode(payload));
    if (!valid) return null;
    const notice: unknown = JSON.parse(new TextDecoder().decode(decodeBase64Url(payload)));
    if (!isJsonObject(notice) || notice["page"] !== page) return null;
    const { expiresAt, fields } = notice;
    if (typeof expiresAt !== "number" || expiresAt <= now || expiresAt > now + NOTICE_TTL_MS || !isJsonObject(fields)) return null;
    return Object.fromEntries(Object.entries(fields).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
  } catch {
    // Not base64url, not JSON: not a notice of ours.
    return null;
  }
}
