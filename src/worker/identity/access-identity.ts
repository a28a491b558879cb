import type { JsonObject } from "../../core/shared/json.js";
import { tokenIdentity, type JwtIdentityOptions, type JwtIdentityParts } from "./jwt-identity.js";

/** Options of {@link accessIdentity}; the others are {@link JwtIdentityOptions}' own. */
export type AccessIdentityOptions<Env> = Pick<JwtIdentityOptions<Env>, "identity" | "admin" | "directory" | "clockSkewSeconds" | "keyCache" | "fetch" | "now"> & {
  /** The Zero Trust team domain: `"acme"`, `"acme.cloudflareaccess.com"` or `"https://acme.cloudflareaccess.com"`. */
  teamDomain: string | ((env: Env) => string | undefined);
  /** The Access application's audience (AUD) tag, from its settings in the Zero Trust dashboard. */
  audience: string | readonly string[] | ((env: Env) => string | readonly string[] | undefined);
};

/** The header Cloudflare Access puts its token in, on every request it lets through to the Worker. */
const ACCESS_HEADER = "Cf-Access-Jwt-Assertion";

/** Access's subject: the user's id (`sub`), or a service token's client id (`common_name`; its `sub` is empty). */
const accessSubject = (claims: JsonObject): string | null => {
  for (const claim of [claims["sub"], claims["common_name"]]) if (typeof claim === "string" && claim !== "") return claim;
  return null;
};

/** Default identity: the user's email, when the token has one (a service token has none). */
const accessEmail = (claims: JsonObject): JsonObject => (typeof claims["email"] === "string" ? { email: claims["email"] } : {});

/**
 * {@link jwtIdentity} for a Worker behind Cloudflare Access: the token Access sends in
 * `Cf-Access-Jwt-Assertion`, signed (RS256) by the team's keys at
 * `https://<team>.cloudflareaccess.com/cdn-cgi/access/certs` — which Access rotates every six
 * weeks, keeping the previous key a week — issued by `https://<team>.cloudflareaccess.com`, for
 * the application's audience tag. The identity has the user's `email` unless `identity` says
 * otherwise; a service token's subject is its client id.
 */
export function accessIdentity<Env extends object = Record<string, unknown>>(options: AccessIdentityOptions<Env>): JwtIdentityParts<Env> {
  const { teamDomain, ...rest } = options;
  const origin = (env: Env) => {
    const domain = typeof teamDomain === "function" ? teamDomain(env) : teamDomain;
    return domain === undefined || domain === "" ? undefined : teamOrigin(domain);
  };
  return tokenIdentity<Env>(
    {
      identity: accessEmail,
      ...rest,
      issuer: origin,
      jwks: (env) => {
        const issuer = origin(env);
        return issuer === undefined ? undefined : `${issuer}/cdn-cgi/access/certs`;
      },
      algorithms: ["RS256"],
      header: ACCESS_HEADER,
    },
    accessSubject,
  );
}

/** `https://<team>.cloudflareaccess.com` from a team name, domain or URL. */
function teamOrigin(domain: string): string {
  const host = domain.trim().replace(/^https:\/\//i, "").replace(/\/+$/, "");
  return `https://${host.includes(".") ? host : `${host}.cloudflareaccess.com`}`;
}
