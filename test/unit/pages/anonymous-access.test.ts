import { describe, expect, it } from "vitest";
import { Router } from "../../../src/core/index.js";
import { ServiceRegistry } from "../../../src/core/messaging/service-registry.js";
import { anonymousAccess } from "../../../src/pages/anonymous-access.js";

describe("what the API pages say an anonymous caller may call", () => {
  it("a first probe that never settles (its request's client went away) holds up no later page: it asks for itself", async () => {
    let asked = 0;
    // On Workers, a request's unfinished work never settles once its client is gone.
    const router = new Router({ authorize: () => (asked++ === 0 ? new Promise<"ok">(() => {}) : "ok") }).service("ping", (m) => m);
    const access = anonymousAccess(new ServiceRegistry([router]));
    const env = {};
    void access(["ping"], env);
    expect(await access(["ping"], env)).toEqual(new Map([["ping", "allowed"]]));
    // Kept once in: the next page asks nothing.
    expect(await access(["ping"], env)).toEqual(new Map([["ping", "allowed"]]));
    expect(asked).toBe(2);
  });
});
