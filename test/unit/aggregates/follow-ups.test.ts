import { afterEach, describe, expect, it } from "vitest";
import {
  Aggregate,
  aggregateRouter,
  aggregateSpec,
  Dispatcher,
  MemoryAggregates,
  newMessage,
  silentLogger,
  type JsonObject,
  type Message,
} from "../../../src/core/index.js";
import { DAY, loan, type LoanState } from "../../support/loan.js";

const NOW = Date.parse("2030-01-01T00:00:00Z");

describe("follow-ups in given/when/then", () => {
  it("a decision's schedule is asserted with thenSchedules: name, service, request and when", async () => {
    const run = aggregateSpec(loan).when("borrow", { loan_id: "l-1", book: "Dune", days: 14 }, { id: "l-1", now: NOW });
    await run.thenEvents({ type: "Borrowed", data: { book: "Dune", days: 14, borrower: null } });
    await run.thenSchedules({ name: "reminder", service: "remind", request: { loan_id: "l-1" }, inMs: 14 * DAY });
    await run.thenSchedules({ name: "reminder", service: "remind", request: { loan_id: "l-1" }, at: "2030-01-15T00:00:00Z" });
    await expect(run.thenSchedules({ name: "reminder", service: "remind", request: { loan_id: "l-1" }, inMs: 13 * DAY })).rejects.toThrow(/expected the follow-ups/);
    await expect(run.thenSchedules()).rejects.toThrow(/scheduled/);
  });

  it("a cancel is asserted with thenCancels, and a command that schedules nothing with thenSchedules()", async () => {
    const out = aggregateSpec(loan).given({ type: "Borrowed", data: { book: "Dune", days: 14, borrower: null } });
    const run = out.when("give_back", { loan_id: "test-1" });
    await run.thenCancels("reminder");
    await run.thenSchedules();
    await expect(run.thenCancels()).rejects.toThrow(/cancelled \["reminder"\]/);
  });

  it("an identified caller's follow-up is refused as the object refuses it unless the spec says the object has reidentify, and the failure says why", async () => {
    const ada = { caller: { user: "ada" }, id: "l-1", now: NOW };
    const borrowed = aggregateSpec(loan).when("borrow", { loan_id: "l-1", book: "Dune", days: 14 }, ada);
    await expect(borrowed.thenEvents({ type: "Borrowed", data: { book: "Dune", days: 14, borrower: "ada" } })).rejects.toThrow(
      /internal_error.*its object would log: .*give the aggregate's object a `reidentify` hook/,
    );
    const withHook = aggregateSpec(loan, { reidentify: true }).when("borrow", { loan_id: "l-1", book: "Dune", days: 14 }, ada);
    await withHook.thenSchedules({ name: "reminder", service: "remind", request: { loan_id: "l-1" }, inMs: 14 * DAY });
  });

  it("when's now is the decision's clock: context.now and the message's invokedAt", async () => {
    let seen: { now: number; invokedAt: string } | undefined;
    const clocked = aggregateSpec(
      new Aggregate<null, { type: "Noted"; data: null }>({ stream: "clock", initialState: () => null, apply: (state) => state }).command(
        "note",
        { creates: "if-missing" },
        (_request, _state, context) => {
          seen = { now: context.now, invokedAt: context.message.invokedAt };
          return { type: "Noted", data: null };
        },
      ),
    );
    await clocked.when("note", {}, { now: NOW }).thenEvents({ type: "Noted", data: null });
    expect(seen).toEqual({ now: NOW, invokedAt: "2030-01-01T00:00:00.000Z" });
  });

  it("a refused and a dry-run command schedule nothing", async () => {
    const returned = aggregateSpec(loan).given({ type: "Borrowed", data: { book: "Dune", days: 14, borrower: null } }, { type: "Returned", data: null });
    const refused = await returned.when("extend", { loan_id: "test-1", days: 7 }).thenRejects("not_out", [{ type: "Extended", data: { days: 0 } }]);
    expect(refused.scheduled).toEqual([]);
    const dry = await aggregateSpec(loan).when("borrow", { book: "Dune" }, { dryRun: true }).result();
    expect(dry.response.status).toBe("ok");
    expect(dry.scheduled).toEqual([]);
  });
});

/** A Worker's worth of in-memory pieces: the loans, their router, and a dispatcher that delivers follow-ups. */
function library(options: { reidentify?: (principal: string) => JsonObject | null; hold?: Promise<void> } = {}) {
  const delivered: Message[] = [];
  let dispatcher: Dispatcher<unknown> | undefined;
  const loans = new MemoryAggregates(loan, {
    logger: silentLogger,
    followUps: {
      dispatch: async (message, dispatchOptions) => {
        delivered.push(message);
        await options.hold;
        return (dispatcher as Dispatcher<unknown>).dispatch(message, dispatchOptions);
      },
      ...(options.reidentify === undefined ? {} : { reidentify: options.reidentify }),
    },
  });
  const router = aggregateRouter(loan, loans, { authorize: () => "ok" });
  dispatcher = new Dispatcher({ services: [router], logger: silentLogger });
  const send = (service: string, request: JsonObject, assigns: JsonObject = {}, id?: string) =>
    (dispatcher as Dispatcher<unknown>).dispatch(newMessage(service, { rawRequest: request, assigns, ...(id === undefined ? {} : { id }) }));
  const state = async (loan_id: string) => (await send("get_loan", { loan_id })).response as unknown as { payload: LoanState };
  const pending = async (loan_id: string) => (await loans.readStream(undefined, `loan-${loan_id}`, { from: 0, limit: 100 })).followUps;
  const events = async (loan_id: string) => (await loans.readStream(undefined, `loan-${loan_id}`, { from: 0, limit: 100 })).events.map((e) => e.type);
  opened.push(loans);
  return { loans, send, state, pending, events, delivered };
}

const opened: { close(): void }[] = [];
afterEach(() => {
  for (const loans of opened.splice(0)) loans.close();
});

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("follow-ups delivered by in-memory aggregates", () => {
  it("a follow-up is stored with its event and delivered when due to the aggregate's own command, once", async () => {
    const lib = library();
    const borrowed = await lib.send("borrow", { loan_id: "l-1", book: "Dune", dueInMs: 30 });
    expect(borrowed.response).toEqual({ status: "created", id: "l-1", version: 0 });
    const [pending] = await lib.pending("l-1");
    expect(pending).toMatchObject({ id: "loan-l-1:0:reminder", name: "reminder", service: "remind", attempts: 0, recurrence: null, owner: null });
    await settle(120);
    expect(await lib.events("l-1")).toEqual(["Borrowed", "Reminded"]);
    expect(lib.delivered.map((m) => m.id)).toEqual(["loan-l-1:0:reminder"]);
    expect(lib.delivered[0]?.causationId).toBe(borrowed.id);
    expect(await lib.pending("l-1")).toEqual([]);
  });

  it("a cancel by a later decision stops the pending follow-up", async () => {
    const lib = library();
    await lib.send("borrow", { loan_id: "l-2", book: "Dune", dueInMs: 60 });
    expect((await lib.send("give_back", { loan_id: "l-2" })).response).toEqual({ status: "ok", version: 1 });
    expect(await lib.pending("l-2")).toEqual([]);
    await settle(150);
    expect(lib.delivered).toEqual([]);
    expect(await lib.events("l-2")).toEqual(["Borrowed", "Returned"]);
  });

  it("a soft delete takes the pending follow-ups with it: nothing is delivered", async () => {
    const lib = library();
    await lib.send("borrow", { loan_id: "l-9", book: "Dune", dueInMs: 40 });
    expect(await lib.loans.deleteStream(undefined, "loan-l-9", { mode: "soft" })).toEqual({ status: "ok" });
    expect(await lib.pending("l-9")).toEqual([]);
    await settle(120);
    expect(lib.delivered).toEqual([]);
  });

  it("scheduling a pending name again replaces it", async () => {
    const lib = library();
    await lib.send("borrow", { loan_id: "l-3", book: "Dune", days: 14 });
    await lib.send("extend", { loan_id: "l-3", days: 21 });
    const pending = await lib.pending("l-3");
    expect(pending.map((p) => p.id)).toEqual(["loan-l-3:1:reminder"]);
    expect(Date.parse(pending[0]?.nextAttemptAt ?? "") - Date.now()).toBeGreaterThan(20 * DAY);
  });

  it("a cancel racing the delivery leaves one outcome: cancelled while delivering, the delivery does nothing", async () => {
    let release = () => {};
    const hold = new Promise<void>((resolve) => (release = resolve));
    const lib = library({ hold });
    await lib.send("borrow", { loan_id: "l-4", book: "Dune", dueInMs: 0, via: "chime" });
    // The delivery has begun (claimed, dispatched) and is held before it reaches the loan.
    for (let waited = 0; lib.delivered.length === 0 && waited < 2000; waited += 5) await settle(5);
    expect(lib.delivered).toHaveLength(1);
    expect((await lib.send("give_back", { loan_id: "l-4" })).response?.status).toBe("ok");
    release();
    await settle(50);
    expect(await lib.events("l-4")).toEqual(["Borrowed", "Returned"]);
    expect((await lib.state("l-4")).payload.reminders).toBe(0);
  });

  it("a cancel racing the delivery leaves one outcome: delivered first, the cancel changes nothing more", async () => {
    const lib = library();
    await lib.send("borrow", { loan_id: "l-5", book: "Dune", dueInMs: 0, via: "chime" });
    for (let waited = 0; (await lib.events("l-5")).length < 2 && waited < 2000; waited += 5) await settle(5);
    await lib.send("give_back", { loan_id: "l-5" });
    await settle(30);
    expect(await lib.events("l-5")).toEqual(["Borrowed", "Reminded", "Returned"]);
  });

  it("a retried command is answered from its record and schedules nothing new", async () => {
    const lib = library();
    const first = await lib.send("borrow", { loan_id: "l-6", book: "Dune", days: 1 }, {}, "borrow-once");
    const again = await lib.send("borrow", { loan_id: "l-6", book: "Dune", days: 1 }, {}, "borrow-once");
    expect(again.response).toEqual(first.response);
    expect((await lib.pending("l-6")).map((p) => p.id)).toEqual(["loan-l-6:0:reminder"]);
  });

  it("a follow-up is delivered with the rights its caller has at delivery, and denied when they have none", async () => {
    const users = new Map<string, JsonObject>([["ada", { user: "ada" }]]);
    const lib = library({ reidentify: (principal) => users.get(principal) ?? null });
    await lib.send("borrow", { loan_id: "l-7", book: "Dune", dueInMs: 20 }, { identity: { user: "ada", stale: true }, principal: "ada" });
    await lib.send("borrow", { loan_id: "l-8", book: "Dune", dueInMs: 20 }, { identity: { user: "bob" }, principal: "bob" });
    await settle(120);
    // Ada's reminder came with who she is now; Bob is nobody now: his is denied, not delivered.
    expect(lib.delivered.map((m) => [m.id, m.assigns["identity"]])).toEqual([["loan-l-7:0:reminder", { user: "ada" }]]);
    expect(await lib.events("l-7")).toEqual(["Borrowed", "Reminded"]);
    expect(await lib.events("l-8")).toEqual(["Borrowed"]);
    expect(await lib.pending("l-8")).toEqual([]);
    // The stream read says how Bob's ended, and a soft delete keeps that (as the object's store does).
    const outcomes = async () => (await lib.loans.readStream(undefined, "loan-l-8", { from: 0, limit: 10 })).followUpOutcomes.map((o) => [o.key, o.outcome, o.reason]);
    expect(await outcomes()).toEqual([["reminder", "denied", "principal_unknown"]]);
    await lib.loans.deleteStream(undefined, "loan-l-8", { mode: "soft" });
    expect(await outcomes()).toEqual([["reminder", "denied", "principal_unknown"]]);
  });

  it("a caller who sends their command with the follow-up's future id cannot stop its delivery (its record is not the caller's)", async () => {
    // Follow-up ids are documented and predictable (`<stream>:<version>:<name>`), and a follow-up
    // is delivered with its caller's principal: had its idempotency record been the caller's, the
    // caller could have taken the id first, and the delivery would be refused as a reused id.
    const users = new Map<string, JsonObject>([["ada", { user: "ada" }]]);
    const lib = library({ reidentify: (principal) => users.get(principal) ?? null });
    const ada = { identity: { user: "ada" }, principal: "ada" };
    const borrowed = await lib.send("borrow", { loan_id: "l-12", book: "Dune", dueInMs: 20 }, ada, "loan-l-12:0:reminder");
    expect(borrowed.response).toEqual({ status: "created", id: "l-12", version: 0 });
    await settle(120);
    expect(lib.delivered.map((m) => m.id)).toEqual(["loan-l-12:0:reminder"]);
    expect(await lib.events("l-12")).toEqual(["Borrowed", "Reminded"]);
    expect((await lib.loans.readStream(undefined, "loan-l-12", { from: 0, limit: 10 })).followUpOutcomes).toEqual([]);
    // The caller's own record is still theirs: their retry is answered as the first time.
    expect((await lib.send("borrow", { loan_id: "l-12", book: "Dune", dueInMs: 20 }, ada, "loan-l-12:0:reminder")).response).toEqual(borrowed.response);
  });

  it("an identified caller's follow-up is refused when its rights could not be checked at delivery (no reidentify)", async () => {
    const lib = library();
    const answer = await lib.send("borrow", { loan_id: "l-9", book: "Dune" }, { identity: { user: "ada" }, principal: "ada" });
    expect(answer.response).toEqual({ status: "error", reason: "internal_error" });
    expect(await lib.events("l-9")).toEqual([]);
  });

  it("follow-ups without an event, with a bad name or a schedule that is not one are refused, and nothing is stored", async () => {
    const lib = library();
    await lib.send("borrow", { loan_id: "l-10", book: "Dune" });
    for (const command of ["schedule_without_event", "schedule_badly", "schedule_never"]) {
      expect((await lib.send(command, { loan_id: "l-10" })).response).toEqual({ status: "error", reason: "internal_error" });
    }
    expect(await lib.events("l-10")).toEqual(["Borrowed"]);
    expect((await lib.pending("l-10")).map((p) => p.name)).toEqual(["reminder"]);
  });
});
