import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MemoryScheduler, silentLogger } from "../../src/core/index.js";
import { browserPages } from "../../src/pages/index.js";
import { accessIdentity, createGateway, type Envelope } from "../../src/worker/index.js";
import { newKey, signed, testIssuer, whoami } from "../support/jwt-keys.js";

type Env = { ACCESS_TEAM: string; ACCESS_AUD: string };

const TEAM = "https://acme.cloudflareaccess.com";
const AUD = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";
const env: Env = { ACCESS_TEAM: "acme", ACCESS_AUD: AUD };

/** A team publishing its certs where Access does, and a gateway behind Access reading the team and audience from env. */
async function setup() {
  const team = testIssuer(TEAM, "/cdn-cgi/access/certs");
  const key = await newKey("access-1");
  team.publish(key);
  const access = accessIdentity<Env>({ teamDomain: (e) => e.ACCESS_TEAM, audience: (e) => e.ACCESS_AUD, fetch: team.fetch });
  const app = createGateway<Env>({
    ...access,
    services: [whoami],
    logger: silentLogger,
    scheduler: new MemoryScheduler({ dispatch: async (message) => message, logger: silentLogger }),
    pages: browserPages<Env>(),
    admin: { token: () => "s3cret", aggregates: [] },
  });
  const now = Math.floor(Date.now() / 1000);
  // Claims as Access puts them in its application token.
  const claims = (changes: Record<string, unknown> = {}) => ({ aud: [AUD], email: "ada@example.com", exp: now + 300, iat: now, nbf: now, iss: TEAM, type: "app", identity_nonce: "6ei69kawdKzMIAPF", sub: "7335d417-61da-459d-899c-0a01c76a2f94", country: "US", ...changes });
  const request = async (path: string, headers: Record<string, string>, init: RequestInit = { method: "POST", body: "{}" }) => {
    const ctx = createExecutionContext();
    const answer = await app.fetch(new Request(`http://gw${path}`, { ...init, headers }), env, ctx);
    await waitOnExecutionContext(ctx);
    return answer;
  };
  const call = async (headers: Record<string, string>) => {
    const answer = await request("/v1/services/whoami", headers);
    return { status: answer.status, response: ((await answer.json()) as Envelope).response };
  };
  return { team, key, claims, call, request };
}

describe("accessIdentity (Cloudflare Access)", () => {
  it("identifies the caller from the token Access sends in Cf-Access-Jwt-Assertion, verified with the team's certs", async () => {
    const { team, key, claims, call } = await setup();
    const answer = await call({ "Cf-Access-Jwt-Assertion": await signed(claims(), key) });
    expect(answer).toEqual({
      status: 200,
      response: {
        status: "ok",
        payload: {
          identity: { email: "ada@example.com", admin: false, iss: TEAM, kid: "access-1", sub: "7335d417-61da-459d-899c-0a01c76a2f94" },
          principal: `{"iss":"${TEAM}","sub":"7335d417-61da-459d-899c-0a01c76a2f94"}`,
        },
      },
    });
    expect(team.requests).toEqual([`${TEAM}/cdn-cgi/access/certs`]);
  });

  it("identifies a service token by its client id (common_name), its sub being empty", async () => {
    const { key, claims, call } = await setup();
    const token = await signed(claims({ sub: "", email: undefined, common_name: "88bf3b6d86161464f6509f7219099e57.access" }), key);
    const answer = await call({ "Cf-Access-Jwt-Assertion": token });
    expect(answer.response).toMatchObject({ status: "ok", payload: { identity: { sub: "88bf3b6d86161464f6509f7219099e57.access", admin: false } } });
  });

  it("refuses with 401 a token for another Access application, or from another team", async () => {
    const { key, claims, call } = await setup();
    const refused = { status: 401, response: { status: "unauthorized", reason: "invalid credentials" } };
    expect(await call({ "Cf-Access-Jwt-Assertion": await signed(claims({ aud: ["another-application"] }), key) })).toEqual(refused);
    expect(await call({ "Cf-Access-Jwt-Assertion": await signed(claims({ iss: "https://other.cloudflareaccess.com" }), key) })).toEqual(refused);
  });

  it("does not read Authorization: a token there leaves the caller anonymous, for authorize to judge", async () => {
    const { key, claims, call } = await setup();
    expect(await call({ Authorization: `Bearer ${await signed(claims(), key)}` })).toEqual({ status: 401, response: { status: "unauthorized" } });
  });

  it("identifies the callers of the schedule routes from the same header", async () => {
    const { key, claims, request } = await setup();
    const list = await request("/v1/schedules?key=ada", { "Cf-Access-Jwt-Assertion": await signed(claims(), key) }, { method: "GET" });
    expect(list.status).toBe(200);
    expect((await request("/v1/schedules?key=ada", {}, { method: "GET" })).status).toBe(401);
  });

  it("counts an Authorization that is not the admin token as a failed admin-token check, the caller being identified from the assertion", async () => {
    const { key, claims, request } = await setup();
    const headers = { "Cf-Access-Jwt-Assertion": await signed(claims(), key), Authorization: "Bearer guess", "CF-Connecting-IP": "203.0.113.7" };
    const statuses: number[] = [];
    for (let i = 0; i < 11; i += 1) statuses.push((await request("/v1/schedules?key=ada", headers, { method: "GET" })).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(200));
    expect(statuses[10]).toBe(429);
    const admin = await request("/v1/schedules?key=ada", { Authorization: "Bearer s3cret", "CF-Connecting-IP": "203.0.113.8" }, { method: "GET" });
    expect(admin.status).toBe(200);
  });

  it("describes the assertion header as the credentials in the OpenAPI document", async () => {
    const { request } = await setup();
    const document = (await (await request("/v1/openapi.json", {}, { method: "GET" })).json()) as { components: { securitySchemes: Record<string, unknown> } };
    expect(document.components.securitySchemes["bearer"]).toMatchObject({ type: "apiKey", in: "header", name: "Cf-Access-Jwt-Assertion" });
  });
});
