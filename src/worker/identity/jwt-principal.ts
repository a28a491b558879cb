import { canonicalJson } from "../../core/shared/canonical-json.js";

/**
 * What a verified token's caller is for good: its issuer, the id of the key that signed it and
 * its subject. The key id is part of it so that, once no token exists (a scheduled delivery), the
 * caller can still be judged by whether the issuer still publishes that key.
 */
export type JwtPrincipal = { iss: string; kid: string; sub: string };

/** The principal as a string: `{"iss":…,"kid":…,"sub":…}` (canonical JSON). */
export function principalText(principal: JwtPrincipal): string {
  return canonicalJson({ iss: principal.iss, kid: principal.kid, sub: principal.sub });
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
  const { iss, kid, sub } = value as Record<string, unknown>;
  if (typeof iss !== "string" || typeof kid !== "string" || typeof sub !== "string") return null;
  // Only the exact spelling: one principal, one string.
  return principalText({ iss, kid, sub }) === text ? { iss, kid, sub } : null;
}
