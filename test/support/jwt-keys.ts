// Signing keys and tokens for the identity tests, made here with crypto.subtle (no network), and
// an issuer whose key set is served by a Hono route (what a real identity provider's jwks_uri is).
import { Hono } from "hono";
import { sign } from "hono/utils/jwt/jwt";
import { ok, Router } from "../../src/core/index.js";

/** The service the identity tests call: it lets identified callers through and answers who they are. */
export const whoami = new Router<Record<string, unknown>>({ authorize: (m) => (m.assigns["identity"] === undefined ? "unauthorized" : "ok") }).service("whoami", (m) =>
  ok(m, { identity: m.assigns["identity"] ?? null, principal: m.assigns["principal"] ?? null }),
);

/** A key pair of the test issuer: its private JWK (to sign) and its public one (to publish). */
export type TestKey = { kid: string; privateJwk: JsonWebKey & { kid: string; alg: string }; publicJwk: JsonWebKey & { kid: string } };

const ALGORITHMS = {
  RS256: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
} as const;

/** A new key pair, named `kid`. */
export async function newKey(kid: string, alg: keyof typeof ALGORITHMS = "RS256"): Promise<TestKey> {
  const pair = (await crypto.subtle.generateKey(ALGORITHMS[alg], true, ["sign", "verify"])) as CryptoKeyPair;
  const privateJwk = { ...((await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey), kid, alg };
  const { kty, n, e, crv, x, y } = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  return { kid, privateJwk, publicJwk: { kty, n, e, crv, x, y, kid, alg, use: "sig" } };
}

/** A token signed by `key` (header `{ alg, typ: "JWT", kid }`). */
export function signed(claims: Record<string, unknown>, key: TestKey): Promise<string> {
  return sign(claims, key.privateJwk);
}

/** Bytes in base64url, unpadded (a JWT's encoding). */
export const base64url = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
/** A JWT part: the JSON of `value` in base64url. */
export const part = (value: unknown): string => base64url(new TextEncoder().encode(JSON.stringify(value)));

/** An unsigned token: header `{ alg: "none", kid }`, empty signature. */
export function unsigned(claims: Record<string, unknown>, kid: string): string {
  return `${part({ alg: "none", typ: "JWT", kid })}.${part(claims)}.`;
}

/**
 * The algorithm-confusion forgery: HS256 with the issuer's PUBLIC key as the HMAC secret — here its
 * JWK's JSON text, as a verifier that hands the key it found to an HMAC would use it.
 */
export async function hmacWithPublicKey(claims: Record<string, unknown>, key: TestKey): Promise<string> {
  const input = `${part({ alg: "HS256", typ: "JWT", kid: key.kid })}.${part(claims)}`;
  const secret = await crypto.subtle.importKey("raw", new TextEncoder().encode(JSON.stringify(key.publicJwk)), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", secret, new TextEncoder().encode(input)));
  return `${input}.${base64url(signature)}`;
}

/** A test identity provider: the keys it publishes at its jwks_uri, which a test changes, and how often they were fetched. */
export function testIssuer(url = "https://issuer.test", path = "/.well-known/jwks.json") {
  let published: JsonWebKey[] = [];
  let down = false;
  const requests: string[] = [];
  const app = new Hono().get(path, (c) => {
    requests.push(c.req.url);
    return down ? c.text("unavailable", 503) : c.json({ keys: published });
  });
  return {
    iss: url,
    jwks: `${url}${path}`,
    /** Publishes exactly these keys (a rotation drops the old ones). */
    publish(...keys: TestKey[]) {
      published = keys.map((key) => key.publicJwk);
    },
    /** Makes the key set answer 503 (`true`) or serve again. */
    setDown(value: boolean) {
      down = value;
    },
    /** The fetch a jwtIdentity is given: this issuer's routes. */
    fetch: (request: Request): Promise<Response> => Promise.resolve(app.fetch(request)),
    /** How many times the key set was fetched. */
    get fetches() {
      return requests.length;
    },
    /** The URLs the key set was fetched at. */
    requests,
  };
}
