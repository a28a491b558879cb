// The ScheduleStore contract (src/core/schedule-store.ts): every adapter must pass it. Each case
// gets a fresh, empty store.
import { equal } from "./assert.mjs";

const message = (id) => ({
  serviceName: "record", id, correlationId: id, causationId: id, trace: {}, invokedAt: "2030-01-01T00:00:00.000Z",
  dryRun: false, rawRequest: { n: 1 }, request: null, valid: true, assigns: { dispatchAttempts: 0 }, response: null,
  events: [], aggregateMeta: {}, halted: false,
});
const entry = (id, dueAt, overrides = {}) => ({
  id, key: "k", service: "record", dueAt, template: message(id), message: message(id), attempts: 0, late: false, recurrence: null,
  occurrence: 0, publicOnly: false, owner: "null", createdAt: "2030-01-01T00:00:00.000Z", ...overrides,
});

/** @type {{ name: string, run: (store: import("../../src/core/scheduling/schedule-store.js").ScheduleStore) => Promise<void> }[]} */
export const scheduleStoreContract = [
  {
    name: "an empty store has nothing due and no earliest time",
    async run(store) {
      equal(await store.earliestDue(), null, "earliest");
      equal(await store.claimDue(Date.now(), 10, () => 0), [], "claim");
      equal(await store.list(undefined, 10), [], "list");
      equal(await store.get("x"), null, "get");
      equal(await store.remove("x"), false, "remove");
      equal(await store.settle("x", { attempts: 1, dueAt: 1 }, { dueAt: 2 }), false, "settle");
    },
  },
  {
    name: "inserts once per id, and lists in due order",
    async run(store) {
      equal(await store.insert(entry("b", 200)), true, "insert b");
      equal(await store.insert(entry("a", 100, { recurrence: { everyMs: 5000 } })), true, "insert a");
      equal(await store.insert(entry("a", 999)), false, "insert a again");
      equal((await store.list(undefined, 10)).map((e) => [e.id, e.dueAt]), [["a", 100], ["b", 200]], "list");
      equal(await store.get("a"), entry("a", 100, { recurrence: { everyMs: 5000 } }), "get");
      equal(await store.earliestDue(), 100, "earliest");
    },
  },
  {
    name: "claims due entries earliest first: attempts up by one, due time moved to the lease",
    async run(store) {
      await store.insert(entry("late", 300));
      await store.insert(entry("early", 100));
      await store.insert(entry("future", 5000));
      const claimed = await store.claimDue(1000, 10, (e) => 2000 + e.dueAt);
      equal(claimed.map((e) => [e.id, e.attempts, e.dueAt]), [["early", 1, 2100], ["late", 1, 2300]], "claimed");
      equal(await store.claimDue(1000, 10, () => 0), [], "nothing due during the lease");
      equal(await store.earliestDue(), 2100, "earliest is the first lease");
      equal((await store.claimDue(3000, 1, () => 9000)).map((e) => [e.id, e.attempts]), [["early", 2]], "limit and reclaim");
    },
  },
  {
    name: "settles a claimed entry (a retry, the next occurrence, or removal), the template untouched",
    async run(store) {
      await store.insert(entry("r", 100, { late: true }));
      const [claimed] = await store.claimDue(100, 1, () => 5000);
      const claim = { attempts: claimed.attempts, dueAt: claimed.dueAt };
      const changed = { ...message("r"), assigns: { redelivered: true } };
      equal(await store.settle("r", claim, { dueAt: 700, message: changed, attempts: 0, occurrence: 3, late: false }), true, "settle");
      const got = await store.get("r");
      equal([got.dueAt, got.attempts, got.occurrence, got.late, got.message.assigns], [700, 0, 3, false, { redelivered: true }], "changed");
      equal(got.template, message("r"), "template kept");
      equal(await store.settle("r", claim, null), false, "a settled claim settles nothing again");
      const [again] = await store.claimDue(700, 1, () => 9000);
      equal(await store.settle("r", { attempts: again.attempts, dueAt: again.dueAt }, null), true, "removed");
      equal(await store.get("r"), null, "gone");
    },
  },
  {
    name: "a late settle never touches a newer entry with the same id (cancelled and scheduled again)",
    async run(store) {
      await store.insert(entry("order", 100));
      const [claimed] = await store.claimDue(100, 1, () => 5000);
      equal(await store.remove("order"), true, "cancelled while in flight");
      await store.insert(entry("order", 99_000));
      equal(await store.settle("order", { attempts: claimed.attempts, dueAt: claimed.dueAt }, null), false, "late removal refused");
      equal(await store.settle("order", { attempts: claimed.attempts, dueAt: claimed.dueAt }, { dueAt: 1 }), false, "late retry refused");
      equal((await store.get("order")).dueAt, 99_000, "the new entry stands");
    },
  },
  {
    name: "removes and lists by owner",
    async run(store) {
      await store.insert(entry("ada1", 100, { owner: '{"user":"ada"}' }));
      await store.insert(entry("bob1", 200, { owner: '{"user":"bob"}' }));
      equal((await store.list('{"user":"ada"}', 10)).map((e) => e.id), ["ada1"], "ada's");
      equal(await store.remove("ada1", '{"user":"bob"}'), false, "not bob's");
      equal(await store.remove("ada1", '{"user":"ada"}'), true, "ada's own");
      equal(await store.remove("bob1"), true, "anyone's without an owner");
      equal(await store.earliestDue(), null, "empty");
    },
  },
];
