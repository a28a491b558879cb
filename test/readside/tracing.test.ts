// One trace, from the HTTP call that starts it to everything it causes: the aggregate's events,
// the process steps' commands, the scheduled deliveries and the follow-ups. A caller's W3C
// `traceparent` names the trace; each hop is a span of its own (same trace id, new span id).
import { introspectWorkflowInstance, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Dispatcher, newMessage, silentLogger, type StreamPage } from "../../src/core/index.js";
import { newId } from "../../src/core/shared/ids.js";
import { login, page } from "../support/console-helpers.js";
import { call, eventually, openAccount, transferInstanceId } from "../support/read-side-helpers.js";
import { loans } from "../support/test-loans.js";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const ADMIN = { Authorization: "Bearer dev-admin" };

/** The W3C parts of a traceparent: its trace id and span id. */
const partsOf = (traceparent: unknown) => {
  const match = /^00-([\da-f]{32})-([\da-f]{16})-01$/.exec(String(traceparent));
  return { traceId: match?.[1] ?? null, spanId: match?.[2] ?? null };
};

/** The events of one of the demo's streams, read over the admin API. */
async function eventsOf(stream: string, id: string): Promise<StreamPage["events"]> {
  const answer = await exports.default.fetch(`http://demo/v1/streams/${stream}/${id}?limit=100`, { headers: ADMIN });
  return ((await answer.json()) as StreamPage).events;
}

describe("one trace through everything a command causes", () => {
  it("a transfer's trace reaches its event, the process steps' commands, the events they store and the projection's row, each hop a span of its own", async () => {
    const from = await openAccount("ada", 100);
    const to = await openAccount("bob");
    const transfer_id = `t-${newId()}`;
    const requested = await call("transfer", { transfer_id, from, to, amount: 40 }, "ada", { traceparent: TRACEPARENT });
    expect(requested.body.response).toMatchObject({ status: "created" });
    const instance = await introspectWorkflowInstance(env.TRANSFER_WORKFLOW, await transferInstanceId(transfer_id));
    try {
      await instance.waitForStatus("complete");
    } finally {
      await instance.dispose();
    }
    const [transferRequested] = await eventsOf("transfer", transfer_id);
    const withdrawn = (await eventsOf("account", from)).find((event) => event.type === "MoneyWithdrawn");
    const deposited = (await eventsOf("account", to)).find((event) => event.type === "MoneyDeposited");
    const spans = [transferRequested, withdrawn, deposited].map((event) => partsOf(event?.metadata.traceparent));
    // The demo's projection keeps the trace of each account's last change on its row.
    const listed = await eventually(
      () => call("list_accounts", {}, "bob"),
      (answer) => JSON.stringify(answer.body.response).includes(TRACE_ID),
    );
    expect(JSON.stringify(listed.body.response)).toContain(`"trace_id":"${TRACE_ID}"`);
    // The same trace everywhere: the HTTP call's, through the queue and the Workflow's steps.
    expect(spans.map((span) => span.traceId)).toEqual([TRACE_ID, TRACE_ID, TRACE_ID]);
    // Each hop its own span, none of them the caller's.
    const ids = new Set([...spans.map((span) => span.spanId), "00f067aa0ba902b7"]);
    expect(ids.size).toBe(4);
  });

  it("a message scheduled over HTTP is delivered in the scheduling request's trace", async () => {
    const account_id = await openAccount("ada");
    const scheduled = await exports.default.fetch("http://demo/v1/schedules", {
      method: "POST",
      headers: { Authorization: "Bearer dev-ada", traceparent: TRACEPARENT },
      body: JSON.stringify({ service: "deposit", request: { account_id, amount: 5 }, key: account_id, in: 0 }),
    });
    expect(scheduled.status).toBe(202);
    await scheduled.arrayBuffer();
    expect(await runDurableObjectAlarm(env.SCHEDULER.get(env.SCHEDULER.idFromName(account_id)))).toBe(true);
    const deposited = (await eventsOf("account", account_id)).find((event) => event.type === "MoneyDeposited");
    expect(partsOf(deposited?.metadata.traceparent).traceId).toBe(TRACE_ID);
  });

  it("a follow-up a decision schedules is delivered in the trace of the command that scheduled it", async () => {
    const id = `l-${newId()}`;
    const dispatcher = new Dispatcher({ services: [loans], env, logger: silentLogger });
    const borrowed = await dispatcher.dispatch(
      newMessage("borrow", { rawRequest: { loan_id: id, book: "Dune", dueInMs: 60_000 }, assigns: { identity: { user: "ada" }, principal: "ada" }, trace: { traceparent: TRACEPARENT } }),
    );
    expect(borrowed.response).toMatchObject({ status: "created" });
    const stub = env.LOANS.get(env.LOANS.idFromName(`loan-${id}`));
    await runInDurableObject(stub, (_object, state) => state.storage.sql.exec("UPDATE schedules SET due_at = 0"));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const page = await loans.readStream(env, id, { from: 0, limit: 10 });
    expect(page.events.map((event) => [event.type, partsOf(event.metadata.traceparent).traceId])).toEqual([
      ["Borrowed", TRACE_ID],
      ["Reminded", TRACE_ID],
    ]);
  });

  it("the console shows each event's trace id", async () => {
    const account_id = await openAccount("ada");
    await call("deposit", { account_id, amount: 3 }, "ada", { traceparent: TRACEPARENT });
    const shown = await page(`/console/streams?stream=account&id=${account_id}`, await login());
    expect(shown.text).toContain(`<dt>Trace id</dt><dd class="mono">${TRACE_ID}</dd>`);
  });
});
