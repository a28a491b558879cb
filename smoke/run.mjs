// The smoke suite for Node, Deno and Bun (after `npm run build`): the storage contracts against
// the in-memory adapters, the plain script (greeter, bank account, scheduled message) and the read
// side in memory (queue, SQLite read store, processes).
// Exits non-zero on any failure.   node smoke/run.mjs | deno run -A smoke/run.mjs | bun smoke/run.mjs
import { MemoryScheduleStore } from "../dist/core/scheduling/memory-schedule-store.js";
import { MemoryStreamStore } from "../dist/core/aggregates/memory-stream-store.js";
import { equal } from "../test/contracts/assert.mjs";
import { scheduleStoreContract } from "../test/contracts/schedule-store.mjs";
import { streamStoreContract } from "../test/contracts/stream-store.mjs";
import { main } from "./plain-script.mjs";
import { main as readSide } from "./read-side.mjs";

const runtime = globalThis.Deno ? `deno ${globalThis.Deno.version.deno}` : globalThis.Bun ? `bun ${globalThis.Bun.version}` : `node ${globalThis.process.version}`;
let failures = 0;
async function check(name, body) {
  try {
    await body();
    console.log(`ok   ${name}`);
  } catch (error) {
    failures += 1;
    console.log(`FAIL ${name}\n     ${error instanceof Error ? error.message : String(error)}`);
  }
}

for (const { name, run } of streamStoreContract) await check(`StreamStore (memory): ${name}`, () => run(new MemoryStreamStore()));
for (const { name, run } of scheduleStoreContract) await check(`ScheduleStore (memory): ${name}`, () => run(new MemoryScheduleStore()));

const seen = await main();
await check("the seed README's greeter answers Hello, Ada!", () => equal(seen.greeting, { status: "ok", payload: "Hello, Ada!" }, "greeting"));
await check("an account opens at version 0", () => equal(seen.opened, { status: "created", id: "acc-1", version: 0 }, "opened"));
await check("25 concurrent deposits take versions 1 to 25", () =>
  equal(seen.deposits.map((r) => r.version).sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i + 1), "versions"),
);
await check("a retried message id is applied once", () => equal([seen.retried, seen.retriedAgain], [{ status: "ok", version: 26 }, { status: "ok", version: 26 }], "retry"));
await check("a withdrawal beyond the balance stores its rejection and answers insufficient_funds", () =>
  equal([seen.refused, seen.balance], [{ status: "error", reason: "insufficient_funds" }, { status: "ok", payload: 104, version: 27 }], "refused"),
);
await check("a scheduled deposit is delivered once", () => {
  equal(seen.scheduled.status, "ok", "scheduled");
  equal(seen.afterSchedule, { status: "ok", payload: 204, version: 28 }, "after");
});

await check("a decision's follow-up is delivered once when due, and a cancelled one never", () =>
  equal(seen.followUps, { expired: ["Held", "Expired"], released: ["Opened", "Held", "Released"] }, "follow-ups"),
);

const reads = await readSide();
await check("projections fed by a queue that reorders and duplicates agree with the aggregates", () => {
  equal(reads.projected, reads.aggregates, "balances");
  // 203 events were published (200 deposits, the move, its withdrawal and deposit): some came twice.
  if (reads.delivered <= 203) throw new Error(`expected duplicate deliveries, got ${reads.delivered}`);
});
await check("a process started by an event moves the money once, however often the event came", () => {
  equal(reads.processes, [{ status: "complete", output: { outcome: "moved" } }], "processes");
  equal(reads.aggregates, reads.expected, "balances: the deposits, and 50 moved from a0 to a1 once");
});
await check("the sweep delivers what the queue lost", () => {
  equal(reads.swept, { lost: 3, before: [], after: [{ id: "w1", total: 6 }] }, "swept");
});
await check("a rebuild replays every stream into the projection", () => {
  equal(reads.rebuilt.rows, reads.aggregates, "rebuilt");
  equal([reads.rebuilt.progress.streamsDone, reads.rebuilt.progress.failed], [5, []], "progress");
});

console.log(`${runtime}: ${failures === 0 ? "all smoke checks passed" : `${failures} failed`}`);
if (failures > 0) {
  if (globalThis.Deno) globalThis.Deno.exit(1);
  else globalThis.process.exit(1);
}
