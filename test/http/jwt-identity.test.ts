import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MemoryScheduler, ok, silentLogger, type Logger, type Message } from "../../src/core/index.js";
import { createGateway, jwtIdentity, type Envelope, type JwtIdentityOptions } from "../../src/worker/index.js";
import { hmacWithPublicKey, newKey, part, signed, testIssuer, unsigned, whoami } from "../support/jwt-keys.js";
import { recordingLogger, sleep } from "../support/recorders.js";

type Env = Record<string, unknown>;

const AUDIENCE = "x3m-api";
const MINUTE = 60_000;

/**
 * An issuer publishing `key-1`, a jwtIdentity trusting it on a clock the test moves, and a
 * gateway using it. `claims(…)` are good claims for `ada`, changed by what is given.
 */
async function setup(options: Partial<JwtIdentityOptions<Env>> = {}, logger: Logger = silentLogger) {
  const issuer = testIssuer();
  const key = await newKey("key-1");
  issuer.publish(key);
  const clock = { now: Date.parse("2026-06-01T12:00:00Z") };
  const jwt = jwtIdentity<Env>({
    issuer: issuer.iss,
    audience: AUDIENCE,
    jwks: issuer.jwks,
    fetch: issuer.fetch,
    now: () => clock.now,
    identity: (claims) => ({ user: String(claims["sub"]) }),
    admin: (claims) => Array.isArray(claims["roles"]) && claims["roles"].includes("admin"),
    ...options,
  });
  const app = createGateway<Env>({ ...jwt, services: [whoami], logger });
  const seconds = () => Math.floor(clock.now / 1000);
  const claims = (changes: Record<string, unknown> = {}) => ({ iss: issuer.iss, aud: AUDIENCE, sub: "ada", iat: seconds(), exp: seconds() + 300, ...changes });
  const call = async (authorization: string) => {
    const ctx = createExecutionContext();
    const request = new Request("http://gw/v1/services/whoami", { method: "POST", body: "{}", headers: { Authorization: authorization } });
    const answer = await app.fetch(request, {}, ctx);
    await waitOnExecutionContext(ctx);
    return { status: answer.status, response: ((await answer.json()) as Envelope).response };
  };
  const bearer = async (token: string | Promise<string>) => call(`Bearer ${await token}`);
  return { issuer, key, clock, jwt, claims, call, bearer };
}

const REFUSED = { status: 401, response: { status: "unauthorized", reason: "invalid credentials" } };

describe("jwtIdentity through the gateway", () => {
  it("accepts a token signed by the issuer's published key, for this audience, with the identity its claims map to", async () => {
    const { bearer, claims, key, issuer } = await setup();
    const answer = await bearer(signed(claims(), key));
    expect(answer.status).toBe(200);
    expect(answer.response).toEqual({
      status: "ok",
      payload: {
        identity: { user: "ada", admin: false, iss: issuer.iss, kid: "key-1", sub: "ada" },
        principal: `{"iss":"${issuer.iss}","sub":"ada"}`,
      },
    });
  });

  it("makes the caller an admin when the admin mapping finds the role in the claims", async () => {
    const { bearer, claims, key } = await setup();
    const answer = await bearer(signed(claims({ roles: ["admin"] }), key));
    expect(answer.response).toMatchObject({ status: "ok", payload: { identity: { admin: true } } });
  });

  it("accepts ES256 tokens as well by default", async () => {
    const { bearer, claims, issuer } = await setup();
    const ec = await newKey("ec-1", "ES256");
    issuer.publish(ec);
    expect((await bearer(signed(claims(), ec))).status).toBe(200);
  });

  it("still accepts a token that expired within the clock skew (60 s by default)", async () => {
    const { bearer, claims, key, clock } = await setup();
    const token = await signed(claims({ exp: Math.floor(clock.now / 1000) - 30 }), key);
    expect((await bearer(token)).status).toBe(200);
  });

  describe("refuses every bad token with 401 and the same reason, which tells nothing of what was wrong", () => {
    const now = () => Math.floor(Date.parse("2026-06-01T12:00:00Z") / 1000);
    it.each([
      ["an expired token", (s: Awaited<ReturnType<typeof setup>>) => signed(s.claims({ exp: now() - 120 }), s.key)],
      ["a token for another audience", (s: Awaited<ReturnType<typeof setup>>) => signed(s.claims({ aud: "another-api" }), s.key)],
      ["a token from another issuer", (s: Awaited<ReturnType<typeof setup>>) => signed(s.claims({ iss: "https://elsewhere.test" }), s.key)],
      ["a token signed by a key the issuer does not publish (unknown key id)", async (s: Awaited<ReturnType<typeof setup>>) => signed(s.claims(), await newKey("key-x"))],
      ["a token signed by another key under the published key's id", async (s: Awaited<ReturnType<typeof setup>>) => signed(s.claims(), await newKey("key-1"))],
      ["an unsigned token (alg none)", (s: Awaited<ReturnType<typeof setup>>) => unsigned(s.claims(), "key-1")],
      ["a token signed with HS256 using the issuer's public key as the HMAC secret", (s: Awaited<ReturnType<typeof setup>>) => hmacWithPublicKey(s.claims(), s.key)],
      ["a token without an expiry", (s: Awaited<ReturnType<typeof setup>>) => signed({ ...s.claims(), exp: undefined }, s.key)],
      ["a token not valid yet (nbf ahead, beyond the skew)", (s: Awaited<ReturnType<typeof setup>>) => signed(s.claims({ nbf: now() + 600 }), s.key)],
      ["a token without a subject", (s: Awaited<ReturnType<typeof setup>>) => signed({ ...s.claims(), sub: undefined }, s.key)],
      ["a token with its payload changed after signing", async (s: Awaited<ReturnType<typeof setup>>) => {
        const [header, , signature] = (await signed(s.claims(), s.key)).split(".");
        return `${header}.${part(s.claims({ sub: "root" }))}.${signature}`;
      }],
      ["something that is not a token", () => "not-a-token"],
    ])("%s", async (_name, make) => {
      const s = await setup();
      expect(await s.bearer(make(s))).toEqual(REFUSED);
    });

    it("credentials in another scheme than Bearer", async () => {
      const s = await setup();
      expect(await s.call(`Basic ${await signed(s.claims(), s.key)}`)).toEqual(REFUSED);
    });
  });

  it("fetches the key set once for many tokens, and again once it is older than the TTL", async () => {
    const { bearer, claims, key, issuer, clock } = await setup({ keyCache: { ttlMs: 10 * MINUTE } });
    for (let i = 0; i < 5; i += 1) expect((await bearer(signed(claims(), key))).status).toBe(200);
    expect(issuer.fetches).toBe(1);
    clock.now += 10 * MINUTE;
    expect((await bearer(signed(claims(), key))).status).toBe(200);
    expect(issuer.fetches).toBe(2);
  });

  it("on a cold isolate, concurrent requests wait for the first fetch of the key set instead of each fetching it", async () => {
    const slow = testIssuer();
    const { bearer, claims, key } = await setup({ fetch: async (request) => (await sleep(200), slow.fetch(request)) });
    slow.publish(key);
    const forged = signed(claims(), await newKey("made-up"));
    const answers = await Promise.all([...Array.from({ length: 10 }, () => bearer(signed(claims(), key))), ...Array.from({ length: 10 }, () => bearer(forged))]);
    expect(answers.map((answer) => answer.status)).toEqual([...Array.from({ length: 10 }, () => 200), ...Array.from({ length: 10 }, () => 401)]);
    expect(slow.fetches).toBe(1);
  });

  it("fetches the key set again for made-up key ids at most once per refetch interval", async () => {
    const { bearer, claims, key, issuer, clock } = await setup();
    await bearer(signed(claims(), key));
    const stranger = async () => signed(claims(), await newKey(crypto.randomUUID()));
    for (let i = 0; i < 5; i += 1) expect(await bearer(stranger())).toEqual(REFUSED);
    expect(issuer.fetches).toBe(1);
    clock.now += 31_000;
    for (let i = 0; i < 5; i += 1) expect(await bearer(stranger())).toEqual(REFUSED);
    expect(issuer.fetches).toBe(2);
  });

  it("after a rotation, accepts the new key's tokens once their key id brings the new key set, and refuses the retired key's from then on", async () => {
    const { bearer, claims, key, issuer, clock } = await setup();
    expect((await bearer(signed(claims(), key))).status).toBe(200);
    const next = await newKey("key-2");
    issuer.publish(next);
    clock.now += 31_000;
    expect((await bearer(signed(claims(), next))).status).toBe(200);
    expect(issuer.fetches).toBe(2);
    expect(await bearer(signed(claims(), key))).toEqual(REFUSED);
  });

  it("stops accepting a key removed from the set once the cached set is past its TTL", async () => {
    const { bearer, claims, key, issuer, clock } = await setup();
    expect((await bearer(signed(claims(), key))).status).toBe(200);
    issuer.publish(await newKey("key-2"));
    // Cached: the removal is not known yet.
    expect((await bearer(signed(claims(), key))).status).toBe(200);
    clock.now += 10 * MINUTE;
    expect(await bearer(signed(claims(), key))).toEqual(REFUSED);
  });

  it("answers 500 internal_error (logged, not 401) while the key set cannot be fetched, and does not fetch it again within the refetch interval", async () => {
    const { logger, lines } = recordingLogger();
    const { bearer, claims, key, issuer, clock } = await setup({}, logger);
    issuer.setDown(true);
    for (let i = 0; i < 3; i += 1) expect(await bearer(signed(claims(), key))).toEqual({ status: 500, response: { status: "error", reason: "internal_error" } });
    expect(issuer.fetches).toBe(1);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ level: "error", message: "gateway failed" });
    expect(String(lines[0]?.fields["error"])).toMatch(/answered HTTP 503/);
    issuer.setDown(false);
    clock.now += 31_000;
    expect((await bearer(signed(claims(), key))).status).toBe(200);
  });

  it("keeps serving the keys it knows while a due refresh fails, for at most one more TTL", async () => {
    const { logger } = recordingLogger();
    const { bearer, claims, key, issuer, clock } = await setup({}, logger);
    expect((await bearer(signed(claims(), key))).status).toBe(200);
    issuer.setDown(true);
    clock.now += 10 * MINUTE;
    expect((await bearer(signed(claims(), key))).status).toBe(200);
    clock.now += 10 * MINUTE;
    expect((await bearer(signed(claims(), key))).status).toBe(500);
  });

  it("takes inline keys (a JWKS as JSON text, as a var holds it) without fetching anything", async () => {
    const key = await newKey("inline-1");
    const { bearer, claims, issuer } = await setup({ jwks: undefined, keys: JSON.stringify({ keys: [key.publicJwk] }) });
    expect((await bearer(signed(claims(), key))).status).toBe(200);
    expect(issuer.fetches).toBe(0);
  });
});

describe("jwtIdentity's re-identification at delivery (reidentify)", () => {
  it("re-identifies a principal of this issuer with the subject's baseline identity and no admin role", async () => {
    const { bearer, claims, key, jwt, issuer } = await setup();
    const answer = await bearer(signed(claims({ roles: ["admin"] }), key));
    const { principal, identity } = (answer.response as unknown as { payload: { principal: string; identity: { admin: boolean } } }).payload;
    expect(principal).toBe(`{"iss":"${issuer.iss}","sub":"ada"}`);
    expect(identity.admin).toBe(true);
    expect(await jwt.reidentify(principal, {})).toEqual({ user: "ada", admin: false, iss: issuer.iss, sub: "ada" });
  });

  it("is the same principal whichever key signed the token: a retry after a key rotation is the same caller's", async () => {
    const { bearer, claims, key, issuer, clock } = await setup();
    const before = await bearer(signed(claims(), key));
    const next = await newKey("key-2");
    issuer.publish(next);
    clock.now += 10 * MINUTE;
    const after = await bearer(signed(claims(), next));
    const principalOf = (answer: typeof before) => (answer.response as unknown as { payload: { principal: string } }).payload.principal;
    expect(after.status).toBe(200);
    expect(principalOf(after)).toBe(principalOf(before));
  });

  it("asks the directory who the subject is now: its identity is used (admin included), and its null denies", async () => {
    const directory = (subject: string) => (subject === "ada" ? { user: "Ada Lovelace", admin: true } : null);
    const { jwt, issuer } = await setup({ directory });
    const principal = (sub: string) => `{"iss":"${issuer.iss}","sub":"${sub}"}`;
    expect(await jwt.reidentify(principal("ada"), {})).toEqual({ user: "Ada Lovelace", admin: true, iss: issuer.iss, sub: "ada" });
    expect(await jwt.reidentify(principal("bob"), {})).toBeNull();
  });

  it("denies principals of another issuer, and strings that are no JWT principal", async () => {
    const { jwt } = await setup();
    expect(await jwt.reidentify('{"iss":"https://elsewhere.test","sub":"ada"}', {})).toBeNull();
    expect(await jwt.reidentify("ada", {})).toBeNull();
    expect(await jwt.reidentify('{"sub":"ada","iss":"https://issuer.test"}', {})).toBeNull();
  });

  it("refuses to start without an audience: an empty one would accept the issuer's tokens for any audience", async () => {
    for (const audience of ["", [] as string[], ["x3m-api", ""]]) {
      const { logger, lines } = recordingLogger();
      const { bearer, claims, key } = await setup({ audience }, logger);
      expect(await bearer(signed(claims({ aud: "another-api" }), key))).toEqual({ status: 500, response: { status: "error", reason: "internal_error" } });
      expect(String(lines[0]?.fields["error"])).toContain("no issuer or no audience is configured");
    }
  });

  it("delivers a scheduled message with the rights its caller has at delivery, and denies it once the directory no longer knows them", async () => {
    const { logger, lines } = recordingLogger();
    const delivered: Message[] = [];
    const known = new Set(["ada"]);
    let jwt: Awaited<ReturnType<typeof setup>>["jwt"] | undefined;
    const scheduler = new MemoryScheduler({
      dispatch: async (message) => {
        delivered.push(message);
        return ok(message);
      },
      reidentify: (principal) => jwt?.reidentify(principal, {}) ?? null,
      isAdmin: (identity) => jwt?.isAdmin(identity) ?? false,
      logger,
    });
    const s = await setup({ directory: (subject) => (known.has(subject) ? { user: subject, admin: false } : null) });
    jwt = s.jwt;
    const app = createGateway<Env>({ ...s.jwt, services: [whoami], scheduler, logger: silentLogger });
    const schedule = async () => {
      const ctx = createExecutionContext();
      const body = JSON.stringify({ service: "whoami", key: "ada", in: 20, request: {} });
      const headers = { Authorization: `Bearer ${await signed(s.claims({ roles: ["admin"] }), s.key)}` };
      const answer = await app.fetch(new Request("http://gw/v1/schedules", { method: "POST", body, headers }), {}, ctx);
      await waitOnExecutionContext(ctx);
      return answer.status;
    };
    try {
      expect(await schedule()).toBe(202);
      await expect.poll(() => delivered.length).toBe(1);
      // The token said admin; at delivery no token exists: who the directory says, no admin.
      expect(delivered[0]?.assigns["identity"]).toEqual({ user: "ada", admin: false, iss: s.issuer.iss, sub: "ada" });

      expect(await schedule()).toBe(202);
      known.delete("ada");
      await expect.poll(() => lines.some((line) => line.level === "warn")).toBe(true);
      await sleep(20);
      expect(delivered).toHaveLength(1);
      expect(lines.find((line) => line.level === "warn")).toMatchObject({ message: "scheduled message denied: its owner may no longer do this", fields: { reason: "principal_unknown" } });
    } finally {
      scheduler.close();
    }
  });
});
