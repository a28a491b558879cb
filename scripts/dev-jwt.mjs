#!/usr/bin/env node
// JSON Web Tokens for the demo, from a key set made on this machine: what an identity provider
// would issue, without one.
//
//   npm run dev:jwt                                 the demo (as `npm run dev`, dev tokens included)
//                                                   also accepting this key set's tokens
//   node scripts/dev-jwt.mjs token ada              a token for user ada, good for an hour
//   node scripts/dev-jwt.mjs token root --admin     one with the admin role
//   node scripts/dev-jwt.mjs token ada --bad KIND   one the demo must refuse (401), KIND one of
//                                                   expired, audience, issuer, unknown-key, none,
//                                                   hs256, tampered
//   node scripts/dev-jwt.mjs vars                   the --var flags that make a Worker accept them
//
// The key pair is made once and its private half kept in .dev-jwt/key.json (gitignored): delete
// the folder for a new one. The Worker gets only the public key set, inline (JWT_JWKS), with the
// issuer (JWT_ISSUER) and audience (JWT_AUDIENCE) tokens must name.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { sign } from "hono/utils/jwt/jwt";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const KEY_FILE = join(root, ".dev-jwt", "key.json");
const ISSUER = "https://issuer.x3m.localhost";
const AUDIENCE = "x3m-demo";
const RSA = { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };

/** A new RS256 key pair: its private JWK (with `kid` and `alg`). */
async function newKey(kid) {
  const pair = await crypto.subtle.generateKey(RSA, true, ["sign", "verify"]);
  return { ...(await crypto.subtle.exportKey("jwk", pair.privateKey)), kid, alg: "RS256" };
}

/** The local signing key, made on first use. */
async function localKey() {
  if (existsSync(KEY_FILE)) return JSON.parse(readFileSync(KEY_FILE, "utf8"));
  const key = await newKey(`dev-${crypto.randomUUID().slice(0, 8)}`);
  mkdirSync(dirname(KEY_FILE), { recursive: true });
  writeFileSync(KEY_FILE, `${JSON.stringify(key, null, 2)}\n`, { mode: 0o600 });
  console.error(`dev-jwt: made a signing key (${key.kid}) in ${KEY_FILE}`);
  return key;
}

/** The public half of a private JWK, as a key set publishes it. */
function publicOf({ kty, n, e, kid, alg }) {
  return { kty, n, e, kid, alg, use: "sig" };
}

/** The `--var` flags that make the demo accept the local key set's tokens. */
async function vars() {
  const jwks = JSON.stringify({ keys: [publicOf(await localKey())] });
  return ["--var", `JWT_ISSUER:${ISSUER}`, "--var", `JWT_AUDIENCE:${AUDIENCE}`, "--var", `JWT_JWKS:${jwks}`];
}

const base64url = (bytes) => Buffer.from(bytes).toString("base64url");
const part = (value) => base64url(new TextEncoder().encode(JSON.stringify(value)));

/** A token for `user`: good, or wrong in the way `bad` names. */
async function token(user, admin, bad) {
  const key = await localKey();
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: ISSUER, aud: AUDIENCE, sub: user, iat: now, exp: now + 3600, ...(admin ? { roles: ["admin"] } : {}) };
  switch (bad) {
    case undefined:
      return sign(claims, key);
    case "expired":
      return sign({ ...claims, iat: now - 7200, exp: now - 3600 }, key);
    case "audience":
      return sign({ ...claims, aud: "another-api" }, key);
    case "issuer":
      return sign({ ...claims, iss: "https://elsewhere.example" }, key);
    case "unknown-key":
      return sign(claims, await newKey("dev-unknown"));
    case "none":
      return `${part({ alg: "none", typ: "JWT", kid: key.kid })}.${part(claims)}.`;
    case "hs256": {
      // The public key as an HMAC secret: the algorithm-confusion forgery.
      const input = `${part({ alg: "HS256", typ: "JWT", kid: key.kid })}.${part(claims)}`;
      const secret = await crypto.subtle.importKey("raw", new TextEncoder().encode(JSON.stringify(publicOf(key))), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      return `${input}.${base64url(new Uint8Array(await crypto.subtle.sign("HMAC", secret, new TextEncoder().encode(input))))}`;
    }
    case "tampered": {
      const [header, , signature] = (await sign(claims, key)).split(".");
      return `${header}.${part({ ...claims, roles: ["admin"] })}.${signature}`;
    }
    default:
      throw new Error(`dev-jwt: no bad token of kind ${bad} (expired, audience, issuer, unknown-key, none, hs256, tampered)`);
  }
}

const [command, ...rest] = process.argv.slice(2);
const flag = (name) => {
  const index = rest.indexOf(`--${name}`);
  return index === -1 ? undefined : (rest[index + 1] ?? "");
};
if (command === "dev") {
  // x3m-dev, in this process, with the caller's arguments and the key set's vars.
  const devServer = join(root, "bin", "x3m-dev.mjs");
  process.argv = [process.argv[0], devServer, ...rest, ...(await vars())];
  await import(pathToFileURL(devServer).href);
} else if (command === "vars") {
  console.log((await vars()).map((word) => (/^[\w:.,/-]+$/.test(word) ? word : `'${word}'`)).join(" "));
} else if (command === "token" && rest[0] !== undefined && !rest[0].startsWith("--")) {
  console.log(await token(rest[0], rest.includes("--admin"), flag("bad")));
} else {
  console.error("usage: node scripts/dev-jwt.mjs token <user> [--admin] [--bad KIND] | vars | dev [wrangler dev options…]");
  process.exit(2);
}
