import type { AsymmetricAlgorithm } from "hono/utils/jwt/jwa";
import type { JsonObject } from "../../core/shared/json.js";
import { identityAsPrincipal, type Identify, type PrincipalOf } from "../gateway/caller.js";
import { principalFrom, principalText, type JwtPrincipal } from "./jwt-principal.js";
import { KeySetCache, signingKeysOf, type SigningKey } from "./key-set.js";
import { keyIdOf, verifiedClaims, type TokenRules } from "./verify-token.js";

/** Options of {@link jwtIdentity}. A setting given as a function is read from the Worker's env. */
export type JwtIdentityOptions<Env> = {
  /** The issuer tokens must name (`iss`), exactly, e.g. `"https://login.example.com/"`. */
  issuer: string | ((env: Env) => string | undefined);
  /** The audience tokens must be meant for (`aud`, one of these): this API's identifier at the issuer. */
  audience: string | readonly string[] | ((env: Env) => string | readonly string[] | undefined);
  /** The URL of the issuer's JSON Web Key Set (its `jwks_uri`): fetched when needed, cached per isolate. */
  jwks?: string | ((env: Env) => string | undefined);
  /**
   * Keys given inline, as a JSON Web Key Set (`{ "keys": [...] }`) or its JSON text (a var): keys
   * that do not rotate, or local development. With `jwks` too, a token's key is looked up here first.
   */
  keys?: { readonly keys: readonly JsonWebKey[] } | string | ((env: Env) => { readonly keys: readonly JsonWebKey[] } | string | undefined);
  /** The signature algorithms accepted (default RS256 and ES256). Only asymmetric ones exist here: `none` and HMAC are always refused. */
  algorithms?: readonly AsymmetricAlgorithm[];
  /** How far `exp`, `nbf` and `iat` may be off, for clocks that disagree (default 60 s). */
  clockSkewSeconds?: number;
  /** The `typ` the token's header must say, e.g. `"at+jwt"` (RFC 9068 access tokens); default `JWT` or none. */
  typ?: string | readonly string[];
  /** The request header the token comes in (default `Authorization`, as `Bearer <token>`); any other header holds the bare token. */
  header?: string;
  /**
   * The identity of a caller, from their token's verified claims — what `authorize` and decisions
   * read, besides `admin`, `iss`, `kid` and `sub`, which the identity always has (and which win).
   * Default: nothing more. At delivery without `directory` it is given `{ iss, sub }` only.
   */
  identity?: (claims: JsonObject) => JsonObject;
  /** Whether the verified claims make the caller an admin (`identity.admin`), e.g. a role claim. Default: never. */
  admin?: (claims: JsonObject) => boolean;
  /**
   * Who a subject is NOW — their identity, `admin` included, or null when they are gone — for a
   * scheduled delivery, when no token exists. Without it a delivery runs with the subject's
   * baseline identity (`identity({ iss, sub })`) and no admin role: roles came from a token that
   * no longer exists.
   */
  directory?: (subject: string, env: Env) => JsonObject | null | Promise<JsonObject | null>;
  /** How long fetched keys are trusted (`ttlMs`, default 10 min) and how often they may be fetched at most (`refetchAfterMs`, default 30 s). */
  keyCache?: { ttlMs?: number; refetchAfterMs?: number };
  /** How the key set is fetched (default: the global `fetch`), e.g. through a service binding. */
  fetch?: (request: Request, env: Env) => Promise<Response>;
  /** The clock (epoch ms) of token times and key caching; for tests. */
  now?: () => number;
};

/** What a JWT identity gives the gateway (spread into its options) and the schedulers. */
export type JwtIdentityParts<Env> = {
  /** The gateway's `identify`: the verified caller's identity, or null (401) for any token that is not good. */
  identify: Identify<Env>;
  /** The gateway's `principalOf`: `{"iss":…,"sub":…}` (other identities: their canonical JSON). */
  principalOf: PrincipalOf;
  /** The gateway's `identityHeader`: where the token comes from. */
  identityHeader: string;
  /** For `schedulerObject` and follow-ups: who a principal is at delivery, or null (denied). */
  reidentify: (principal: string, env: Env) => Promise<JsonObject | null>;
  /** For `schedulerObject`: whether an identity is an admin's (`identity.admin`). */
  isAdmin: (identity: JsonObject) => boolean;
};

const DEFAULT_ALGORITHMS: readonly AsymmetricAlgorithm[] = ["RS256", "ES256"];

/** The subject of standard tokens: `sub`. */
const subClaim = (claims: JsonObject): string | null => (typeof claims["sub"] === "string" && claims["sub"] !== "" ? claims["sub"] : null);

/**
 * Callers identified by JSON Web Tokens from an identity provider, for the gateway
 * (`createGateway({ ...jwt, services })`) and for re-identification at delivery
 * (`schedulerObject({ reidentify: jwt.reidentify, isAdmin: jwt.isAdmin })`, follow-ups' `reidentify`).
 *
 * A token is accepted when hono's JWT verification finds its signature by the key its `kid` names
 * in the issuer's key set, with an allowed asymmetric algorithm, for the configured issuer and
 * audience, not expired (an `exp` is required) — and then its identity is
 * `{ ...identity(claims), admin, iss, kid, sub }`. Any other token is refused alike (401
 * `unauthorized`, "invalid credentials"). A key set that cannot be fetched is no caller's fault:
 * `identify` rejects, and the gateway answers 500 `internal_error` and logs why.
 *
 * The principal is `{"iss":…,"sub":…}`: the same caller whichever of the issuer's keys signed
 * their token, so that a retry after a key rotation is answered from its idempotency record. At
 * a scheduled delivery no token exists: `directory` says who the subject is now (null: denied),
 * or, without it, the subject runs with its baseline identity and no admin role — a subject the
 * issuer no longer vouches for is denied only through `directory`.
 */
export function jwtIdentity<Env extends object = Record<string, unknown>>(options: JwtIdentityOptions<Env>): JwtIdentityParts<Env> {
  return tokenIdentity(options, subClaim);
}

/** {@link jwtIdentity} with the subject read from the claims by `subjectOf` (Access's service tokens have none in `sub`). */
export function tokenIdentity<Env>(options: JwtIdentityOptions<Env>, subjectOf: (claims: JsonObject) => string | null): JwtIdentityParts<Env> {
  const header = options.header ?? "Authorization";
  const bearer = header.toLowerCase() === "authorization";
  const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
  const clock = options.now ?? Date.now;
  const cache = new KeySetCache({ ttlMs: options.keyCache?.ttlMs ?? 10 * 60_000, refetchAfterMs: options.keyCache?.refetchAfterMs ?? 30_000 });
  const fetcher = options.fetch ?? ((request: Request) => fetch(request));
  const inline = inlineKeys<Env>(options.keys);

  const rulesOf = (env: Env): TokenRules => {
    const issuer = read(options.issuer, env);
    const audience = read(options.audience, env);
    // An empty audience would switch hono's audience check off: any token of the issuer would do.
    const noAudience = audience === undefined || (typeof audience === "string" ? audience === "" : audience.length === 0 || audience.some((entry) => entry === ""));
    if (issuer === undefined || issuer === "" || noAudience) throw new Error("jwtIdentity: no issuer or no audience is configured");
    const { clockSkewSeconds = 60, typ } = options;
    return { issuer, audience: typeof audience === "string" ? audience : [...audience], algorithms, clockSkewSeconds, typ: typeof typ === "string" || typ === undefined ? typ : [...typ] };
  };

  /** The keys that may hold `kid`: the inline ones when they do, else the issuer's key set. */
  const keysFor = async (env: Env, kid: string, now: number): Promise<SigningKey[]> => {
    const given = inline(env);
    if (given?.some((key) => key.kid === kid)) return given;
    const url = read(options.jwks, env);
    if (url === undefined || url === "") {
      if (given === null) throw new Error("jwtIdentity: neither `jwks` nor `keys` gives a key set");
      return given;
    }
    return cache.keys(url, (request) => fetcher(request, env), kid, now);
  };

  const identityOf = (fields: JsonObject, who: JwtPrincipal, admin: boolean, kid?: string): JsonObject => ({
    ...fields,
    admin,
    iss: who.iss,
    ...(kid === undefined ? {} : { kid }),
    sub: who.sub,
  });

  return {
    identityHeader: header,
    identify: async (credentials, env) => {
      const token = bearer ? /^Bearer +(\S+)$/i.exec(credentials)?.[1] : credentials.trim();
      const kid = token === undefined ? null : keyIdOf(token, algorithms);
      if (token === undefined || kid === null) return null;
      const rules = rulesOf(env);
      const now = clock();
      const keys = await keysFor(env, kid, now);
      const claims = await verifiedClaims(token, keys, rules, now);
      const sub = claims === null ? null : subjectOf(claims);
      if (claims === null || sub === null) return null;
      return identityOf(options.identity?.(claims) ?? {}, { iss: rules.issuer, sub }, options.admin?.(claims) === true, kid);
    },
    principalOf: (identity) => {
      const { iss, sub } = identity;
      return typeof iss === "string" && typeof sub === "string" ? principalText({ iss, sub }) : identityAsPrincipal(identity);
    },
    reidentify: async (principal, env) => {
      const who = principalFrom(principal);
      if (who === null || who.iss !== rulesOf(env).issuer) return null;
      if (options.directory === undefined) return identityOf(options.identity?.({ iss: who.iss, sub: who.sub }) ?? {}, who, false);
      const current = await options.directory(who.sub, env);
      return current === null ? null : identityOf(current, who, current["admin"] === true);
    },
    isAdmin: (identity) => identity["admin"] === true,
  };
}

/** A setting's value for `env`. */
function read<Env, T>(setting: T | ((env: Env) => T | undefined) | undefined, env: Env): T | undefined {
  return typeof setting === "function" ? (setting as (env: Env) => T | undefined)(env) : setting;
}

/** The inline keys for an env, parsed once per value of the setting; null when there are none. */
function inlineKeys<Env>(setting: JwtIdentityOptions<Env>["keys"]): (env: Env) => SigningKey[] | null {
  let parsed: { value: unknown; keys: SigningKey[] } | undefined;
  return (env) => {
    const value = read(setting, env);
    if (value === undefined || value === "") return null;
    if (parsed?.value !== value) {
      const keys = signingKeysOf(typeof value === "string" ? parseJson(value) : value);
      if (keys === null) throw new Error("jwtIdentity: `keys` is not a JSON Web Key Set ({ \"keys\": [...] })");
      parsed = { value, keys };
    }
    return parsed.keys;
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
