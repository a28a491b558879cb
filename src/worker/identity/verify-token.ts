import type { AsymmetricAlgorithm } from "hono/utils/jwt/jwa";
import { decodeHeader, verifyWithJwks } from "hono/utils/jwt/jwt";
import { isJsonObject, type JsonObject } from "../../core/shared/json.js";
import type { SigningKey } from "./key-set.js";

/** What a token must satisfy besides its signature. */
export type TokenRules = {
  issuer: string;
  audience: string | string[];
  algorithms: readonly AsymmetricAlgorithm[];
  clockSkewSeconds: number;
  typ: string | string[] | undefined;
};

/**
 * The key id a token names, when its header is worth looking a key up for: three parts, an
 * allowed (asymmetric) algorithm — never `none`, never an HMAC — and a `kid`. Null otherwise.
 */
export function keyIdOf(token: string, algorithms: readonly AsymmetricAlgorithm[]): string | null {
  let header: { alg?: unknown; kid?: unknown };
  try {
    header = decodeHeader(token);
  } catch {
    return null;
  }
  if (typeof header !== "object" || header === null) return null;
  const { alg, kid } = header;
  return typeof kid === "string" && kid !== "" && algorithms.some((allowed) => allowed === alg) ? kid : null;
}

/**
 * The token's claims when its signature is one of `keys`' (hono's JWT verification: the key its
 * `kid` names, the algorithm allowed and matching the key's), its issuer and audience are the
 * expected ones, and it is current — `exp` present and not passed, `nbf` and `iat` not in the
 * future, each within the clock skew. Null for anything else: why is never told.
 */
export async function verifiedClaims(token: string, keys: SigningKey[], rules: TokenRules, nowMs: number): Promise<JsonObject | null> {
  let payload: unknown;
  try {
    payload = await verifyWithJwks(token, {
      keys,
      allowedAlgorithms: rules.algorithms,
      // Times are checked below, with the clock skew hono's checks do not allow for.
      verification: { iss: rules.issuer, aud: rules.audience, typ: rules.typ, exp: false, nbf: false, iat: false },
    });
  } catch {
    return null;
  }
  return isJsonObject(payload) && isCurrent(payload, Math.floor(nowMs / 1000), rules.clockSkewSeconds) ? payload : null;
}

function isCurrent(claims: JsonObject, now: number, skew: number): boolean {
  const { exp, nbf, iat } = claims;
  const time = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);
  // A token without an expiry would be good for ever: refused.
  if (!time(exp) || exp + skew <= now) return false;
  if (nbf !== undefined && (!time(nbf) || nbf - skew > now)) return false;
  return iat === undefined || (time(iat) && iat - skew <= now);
}
