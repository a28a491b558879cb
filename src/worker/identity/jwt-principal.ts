import { canonicalJson } from "../../core/shared/canonical-json.js";

/**
 * What a verified token's caller is for good: its issuer and its subject. Not the id of the key
 * that signed the token: idempotency records and schedules belong to a principal, and a client
 * that retries a message with a token signed by the issuer's next key (a rotation) must be the
 * same caller — else its retry would run again.
 */
export type JwtPrincipal = { iss: string; sub: string };

/** The principal as a string: `{"iss":…,"sub":…}` (canonical JSON). */
export function principalText(principal: JwtPrincipal): string {
  return canonicalJson({ iss: principal.iss, sub: principal.sub });
}

/** The principal a string spells ({@link principalText}), or null when it spells none. */
export function principalFrom(text: string): JwtPrincipal | null {
  if (!text.startsWith("{")) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { iss, sub } = value as Record<string, unknown>;
  if (typeof iss !== "string" || typeof sub !== "string") return null;
  // Only the exact spelling: one principal, one string.
  return principalText({ iss, sub }) === text ? { iss, sub } : null;
}
