// The ScheduleStore contract (src/core/scheduling/schedule-store.ts): every adapter must pass it.
// Each case gets a fresh, empty store.
import { equal } from "./assert.mjs";

/** One delivery settled through the port's batch call: whether it was settled. */
const settle = async (store, claim, change, outcome) =>
  (await store.settleAll([{ claim, change, ...(outcome === undefined ? {} : { outcome }) }])) === 1;

const message = (id) => ({
  serviceName: "record", id, correlationId: id, causationId: id, trace: {}, invokedAt: "2030-01-01T00:00:00.000Z",
  dryRun: false, rawRequest: { n: 1 }, request: null, valid: true, assigns: { dispatchAttempts: 0 }, response: null,
  events: [], aggregateMeta: {}, halted: false,
});
const entry = (id, dueAt, overrides = {}) => ({
  id, owner: null, key: "k", service: "record", dueAt, template: message(id), message: message(id), attempts: 0, late: false,
  recurrence: null, occurrence: 0, publicOnly: false, createdAt: "2030-01-01T00:00:00.000Z", ...overrides,
});
const withoutClaim = ({ claim: _claim, ...rest }) => rest;
/** Limits no case reaches, unless it says so. */
const roomy = { perOwner: 1000, perKey: 1000 };

/** @type {{ name: string, run: (store: import("../../src/core/scheduling/schedule-store.js").ScheduleStore) => Promise<void> }[]} */
export const scheduleStoreContract = [
  {
    name: "an empty store has nothing due and no earliest time",
    async run(store) {
      equal(await store.earliestDue(), null, "earliest");
      equal(await store.claimDue(Date.now(), 10, () => 0), [], "claim");
      equal(await store.list(undefined, 10), [], "list");
      equal(await store.get(null, "x"), null, "get");
      equal((await store.remove("x")).length, 0, "remove");
      equal(await settle(store, { ref: 1, token: "t" }, { dueAt: 2 }), false, "settle");
    },
  },
  {
    name: "inserts once per owner and id, and lists in due order",
    async run(store) {
      equal(await store.insert(entry("b", 200), roomy), "inserted", "insert b");
      equal(await store.insert(entry("a", 100, { recurrence: { everyMs: 5000 } }), roomy), "inserted", "insert a");
      equal(await store.insert(entry("a", 999), roomy), "exists", "insert a again");
      equal((await store.list(undefined, 10)).map((e) => [e.id, e.dueAt]), [["a", 100], ["b", 200]], "list");
      equal(await store.get(null, "a"), entry("a", 100, { recurrence: { everyMs: 5000 } }), "get");
      equal(await store.earliestDue(), 100, "earliest");
    },
  },
  {
    name: "ids are scoped by owner: the same id from two owners is two entries",
    async run(store) {
      equal(await store.insert(entry("pay-2", 100, { owner: "bob" }), roomy), "inserted", "bob's");
      equal(await store.insert(entry("pay-2", 200, { owner: "ada" }), roomy), "inserted", "ada's");
      equal(await store.insert(entry("pay-2", 300), roomy), "inserted", "an anonymous one");
      equal(await store.insert(entry("pay-2", 400, { owner: "ada" }), roomy), "exists", "ada's again");
      equal((await store.get("ada", "pay-2")).dueAt, 200, "ada's entry");
      equal((await store.get(null, "pay-2")).dueAt, 300, "the anonymous entry");
      equal((await store.list("bob", 10)).map((e) => [e.owner, e.dueAt]), [["bob", 100]], "bob's list");
      equal((await store.list(null, 10)).map((e) => [e.owner, e.dueAt]), [[null, 300]], "the anonymous list");
      equal(await store.remove("pay-2", "ada"), [{ id: "pay-2", owner: "ada", key: "k", service: "record" }], "ada cancels hers");
      equal((await store.list(undefined, 10)).map((e) => e.owner), ["bob", null], "bob's and the anonymous one stay");
      equal((await store.remove("pay-2")).length, 2, "without an owner: every owner's");
    },
  },
  {
    name: "claims due entries earliest first: attempts up by one, due time moved to the lease",
    async run(store) {
      await store.insert(entry("late", 300), roomy);
      await store.insert(entry("early", 100), roomy);
      await store.insert(entry("future", 5000), roomy);
      let leased = null;
      const claimed = await store.claimDue(1000, 10, (entries) => ((leased = entries.map((e) => e.id)), 2000));
      equal(leased, ["early", "late"], "the lease sees what is claimed");
      equal(claimed.map((e) => [e.id, e.attempts, e.dueAt]), [["early", 1, 2000], ["late", 1, 2000]], "claimed");
      equal(await store.claimDue(1000, 10, () => 0), [], "nothing due during the lease");
      equal(await store.earliestDue(), 2000, "earliest is the lease");
      // Both leases end together: ties go in the order the entries were stored.
      equal((await store.claimDue(3000, 1, () => 9000)).map((e) => [e.id, e.attempts]), [["late", 2]], "limit and reclaim");
    },
  },
  {
    name: "settles a claimed entry (a retry, the next occurrence, or removal), the template untouched",
    async run(store) {
      await store.insert(entry("r", 100, { late: true }), roomy);
      const [claimed] = await store.claimDue(100, 1, () => 5000);
      const changed = { ...message("r"), assigns: { redelivered: true } };
      equal(await settle(store, claimed.claim, { dueAt: 700, message: changed, attempts: 0, occurrence: 3, late: false }), true, "settle");
      const got = await store.get(null, "r");
      equal([got.dueAt, got.attempts, got.occurrence, got.late, got.message.assigns], [700, 0, 3, false, { redelivered: true }], "changed");
      equal(got.template, message("r"), "template kept");
      equal(await settle(store, claimed.claim, null), false, "a settled claim settles nothing again");
      const [again] = await store.claimDue(700, 1, () => 9000);
      // A one-off's claim does not read its template: it never starts again from it.
      equal(withoutClaim(again), { ...got, template: null, attempts: 1, dueAt: 9000 }, "claimed again");
      equal(await settle(store, again.claim, null), true, "removed");
      equal(await store.get(null, "r"), null, "gone");
    },
  },
  {
    name: "a claim that was claimed again (its lease ended) settles nothing",
    async run(store) {
      await store.insert(entry("slow", 100), roomy);
      const [first] = await store.claimDue(100, 1, () => 200);
      const [second] = await store.claimDue(200, 1, () => 9000);
      equal(await settle(store, first.claim, null), false, "the first delivery's settle is refused");
      equal((await store.get(null, "slow")).attempts, 2, "the second claim stands");
      equal(await settle(store, second.claim, null), true, "the second delivery settles it");
    },
  },
  {
    name: "a late settle never touches a newer entry with the same id (cancelled and scheduled again)",
    async run(store) {
      await store.insert(entry("order", 100, { owner: "ada" }), roomy);
      const [claimed] = await store.claimDue(100, 1, () => 5000);
      equal((await store.remove("order", "ada")).length, 1, "cancelled while in flight");
      await store.insert(entry("order", 99_000, { owner: "ada" }), roomy);
      equal(await settle(store, claimed.claim, null), false, "late removal refused");
      equal(await settle(store, claimed.claim, { dueAt: 1 }), false, "late retry refused");
      equal((await store.get("ada", "order")).dueAt, 99_000, "the new entry stands");
    },
  },
  {
    name: "records an outcome with its settle, only if the settle happened; keeps the most recent, newest first",
    async run(store) {
      const outcome = (id, owner, reason) => ({
        at: "2030-01-01T00:00:00.000Z", messageId: id, owner, key: "k", service: "record", outcome: "denied", reason, attempts: 1,
        response: { status: "forbidden" },
      });
      await store.insert(entry("a", 100, { owner: "ada" }), roomy);
      await store.insert(entry("b", 100, { owner: "bob" }), roomy);
      const [a, b] = await store.claimDue(100, 10, () => 5000);
      equal(await settle(store, a.claim, null, outcome("a", "ada", "forbidden")), true, "ada's denial");
      equal(await settle(store, a.claim, null, outcome("a", "ada", "again")), false, "a settle that does not happen");
      equal(await settle(store, b.claim, null, { ...outcome("b", "bob", "gone"), outcome: "gave_up", response: null }), true, "bob's give-up");
      equal((await store.outcomes(undefined, 10)).map((o) => [o.messageId, o.outcome, o.reason]), [["b", "gave_up", "gone"], ["a", "denied", "forbidden"]], "all");
      equal(await store.outcomes("ada", 10), [outcome("a", "ada", "forbidden")], "ada's");
      for (let i = 0; i < 105; i += 1) {
        await store.insert(entry(`m${i}`, 100), roomy);
        const [claimed] = await store.claimDue(100, 1, () => 5000);
        await settle(store, claimed.claim, null, outcome(`m${i}`, null, "gone"));
      }
      const kept = await store.outcomes(undefined, 1000);
      equal([kept.length, kept[0].messageId, kept.at(-1).messageId], [100, "m104", "m5"], "the most recent 100");
      equal((await store.outcomes(null, 1)).map((o) => o.messageId), ["m104"], "limit");
    },
  },
  {
    name: "refuses an insert beyond the owner's or the shard's limit, and says which",
    async run(store) {
      const limits = { perOwner: 2, perKey: 3 };
      equal(await store.insert(entry("a1", 100, { owner: "ada" }), limits), "inserted", "ada 1");
      equal(await store.insert(entry("a2", 100, { owner: "ada" }), limits), "inserted", "ada 2");
      equal(await store.insert(entry("a3", 100, { owner: "ada" }), limits), "owner_full", "ada 3");
      equal(await store.insert(entry("a2", 100, { owner: "ada" }), limits), "exists", "a retry of ada 2 is still recognised");
      equal(await store.insert(entry("b1", 100, { owner: "bob" }), limits), "inserted", "bob 1");
      equal(await store.insert(entry("c1", 100, { owner: "cy" }), limits), "key_full", "the shard is full");
      equal((await store.list(undefined, 10)).map((e) => e.id), ["a1", "a2", "b1"], "nothing else stored");
      equal((await store.remove("a1", "ada")).length, 1, "a place freed");
      equal(await store.insert(entry("c1", 100, { owner: "cy" }), limits), "inserted", "is a place taken");
      equal(await store.insert(entry("d1", 100, { owner: "dee" }), limits), "key_full", "full again");
      // A delivered entry frees its place too.
      const [delivered] = await store.claimDue(100, 1, () => 5000);
      equal(await settle(store, delivered.claim, null), true, "delivered");
      equal(await store.insert(entry("d1", 100, { owner: "dee" }), limits), "inserted", "the place a delivery freed is taken");
      // Other limits, counted for themselves: room for more.
      const wider = { perOwner: 2, perKey: 5 };
      equal(await store.insert(entry("d2", 100, { owner: "dee" }), wider), "inserted", "dee 2 under wider limits");
      equal(await store.insert(entry("d3", 100, { owner: "dee" }), wider), "owner_full", "dee 3");
      equal(await store.insert(entry("e1", 100, { owner: "eve" }), wider), "inserted", "eve 1");
      equal(await store.insert(entry("f1", 100, { owner: "fay" }), wider), "key_full", "five pending");
    },
  },
  {
    name: "deliveries and cancels below the limits make room for exactly as many entries",
    async run(store) {
      const limits = { perOwner: 3, perKey: 4 };
      equal(await store.insert(entry("ada1", 100, { owner: "ada" }), limits), "inserted", "ada 1");
      equal(await store.insert(entry("ada2", 200, { owner: "ada" }), limits), "inserted", "ada 2");
      equal(await store.insert(entry("bob1", 300, { owner: "bob" }), limits), "inserted", "bob 1");
      const [first] = await store.claimDue(100, 1, () => 5000);
      equal(first.id, "ada1", "ada 1 is due first");
      equal(await settle(store, first.claim, null), true, "ada 1 delivered");
      equal(await store.insert(entry("ada3", 400, { owner: "ada" }), limits), "inserted", "ada 3");
      equal(await store.insert(entry("ada4", 400, { owner: "ada" }), limits), "inserted", "ada 4: ada has 3 again");
      equal(await store.insert(entry("ada5", 400, { owner: "ada" }), limits), "owner_full", "ada 5");
      equal(await store.insert(entry("cy1", 400, { owner: "cy" }), limits), "key_full", "four pending");
      equal((await store.remove("bob1", "bob")).length, 1, "bob 1 cancelled");
      equal(await store.insert(entry("cy1", 400, { owner: "cy" }), limits), "inserted", "cy 1 takes bob's place");
      equal(await store.insert(entry("cy2", 400, { owner: "cy" }), limits), "key_full", "four pending again");
      equal((await store.list(undefined, 10)).map((e) => e.id).sort(), ["ada2", "ada3", "ada4", "cy1"], "what is stored");
    },
  },
  {
    name: "settles a batch at once: removals, reschedules and outcomes, each only if still under its claim",
    async run(store) {
      for (const id of ["a", "b", "c", "d"]) await store.insert(entry(id, 100, { recurrence: id === "d" ? { everyMs: 60_000 } : null }), roomy);
      const claimed = await store.claimDue(100, 10, () => 5000);
      const [a, b, c, d] = claimed;
      equal(d.template, message("d"), "a recurring entry's claim reads its template");
      equal((await store.remove("b")).length, 1, "b cancelled while in flight");
      const denied = { at: "2030-01-01T00:00:00.000Z", messageId: "c", owner: null, key: "k", service: "record", outcome: "denied", reason: "forbidden", attempts: 1, response: null };
      const settled = await store.settleAll([
        { claim: a.claim, change: null },
        { claim: b.claim, change: null },
        { claim: c.claim, change: null, outcome: denied },
        { claim: d.claim, change: { dueAt: 60_100, attempts: 0, occurrence: 1 } },
      ]);
      equal(settled, 3, "a, c and d settled; b was gone");
      equal((await store.list(undefined, 10)).map((e) => [e.id, e.dueAt, e.attempts, e.occurrence]), [["d", 60_100, 0, 1]], "d moved on");
      equal((await store.outcomes(undefined, 10)).map((o) => o.messageId), ["c"], "c's outcome");
      equal(await store.settleAll([{ claim: d.claim, change: null }]), 0, "a settled claim settles nothing again");
      equal(await store.settleAll([]), 0, "nothing to settle");
    },
  },
];
