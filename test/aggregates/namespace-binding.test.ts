// The objects' clients take a function of env, `(env) => env.ACCOUNTS`; the namespace itself is a
// common first mistake, refused with a message that says what to pass (by TypeScript, and at run
// time for JavaScript callers).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { durableObjectAggregates, durableObjectScheduler } from "../../src/objects/index.js";

describe("a Durable Object namespace given where a function of env is wanted", () => {
  it("is refused by durableObjectAggregates with what to pass instead", () => {
    // @ts-expect-error -- the namespace, not a function of env: TypeScript refuses it too
    expect(() => durableObjectAggregates(env.ACCOUNTS)).toThrow("durableObjectAggregates takes a function of env, e.g. (env) => env.ACCOUNTS, not the namespace itself");
  });

  it("is refused by durableObjectScheduler with what to pass instead", () => {
    // @ts-expect-error -- the namespace, not a function of env
    expect(() => durableObjectScheduler(env.SCHEDULER)).toThrow("durableObjectScheduler takes a function of env, e.g. (env) => env.ACCOUNTS, not the namespace itself");
  });

  it("a function of env is taken as it is", () => {
    expect(() => durableObjectAggregates((e: typeof env) => e.ACCOUNTS)).not.toThrow();
  });
});
