import { describe, expect, it } from "vitest";
import { createClient } from "../../../src/client/index.js";

const envelope = { messageId: "m", correlationId: "m", causationId: "m", service: "s", response: { status: "ok" } };
/** A fetch that answers an envelope after `ms`, counting what it was sent. */
function answeringAfter(ms: number) {
  const sent: Request[] = [];
  const fetch = async (request: Request) => {
    sent.push(request);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return Response.json(envelope, { status: request.url.endsWith("/v1/schedules") ? 202 : 200 });
  };
  return { fetch, sent };
}

describe("the client turns bad input into failure values, and takes no limit as no limit", () => {
  it("a schedule at an invalid Date is a bad_input failure, sent nowhere (it threw a RangeError)", async () => {
    const { fetch, sent } = answeringAfter(0);
    const api = createClient({ baseUrl: "http://gw", fetch });
    const result = await api.schedules.create({ service: "s", request: {}, key: "k", at: new Date(Number.NaN) }).catch((error: unknown) => ({ threw: String(error) }));
    expect(result).toMatchObject({ kind: "failure", reason: "bad_input" });
    expect(sent).toHaveLength(0);
  });

  it("timeoutMs Infinity lifts the client's limit for a call, and 30 days does not ring at once", async () => {
    const { fetch } = answeringAfter(50);
    const api = createClient({ baseUrl: "http://gw", fetch, timeoutMs: 10 });
    expect(await api.call("s", {}, { timeoutMs: Number.POSITIVE_INFINITY })).toMatchObject({ kind: "answer" });
    expect(await api.call("s", {}, { timeoutMs: 30 * 24 * 3600 * 1000 })).toMatchObject({ kind: "answer" });
    expect(await api.call("s", {})).toMatchObject({ kind: "failure", reason: "timeout" });
  });

  it("a timeoutMs that is no number above 0 is a bad_input failure", async () => {
    const { fetch, sent } = answeringAfter(0);
    const api = createClient({ baseUrl: "http://gw", fetch });
    for (const timeoutMs of [0, -5, Number.NaN]) expect(await api.call("s", {}, { timeoutMs })).toMatchObject({ kind: "failure", reason: "bad_input" });
    expect(sent).toHaveLength(0);
  });
});
