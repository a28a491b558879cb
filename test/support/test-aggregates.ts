import { z } from "zod";
import { addEvent, Aggregate, created, error, ok, type Message, type TelemetryEvent } from "../../src/core/index.js";
import { sleep } from "./recorders.js";

/** What the commit and rollback hooks saw (tests run in the same isolate as the objects). */
export const hookLog: string[] = [];

/** The names of the telemetry events the ledger objects emitted. */
export const ledgerTelemetry: string[] = [];

/** The `aggregate_usage` telemetry events of the budgeted ledgers (test-worker.ts). */
export const usageEvents: TelemetryEvent[] = [];

/** A ledger: the test aggregate with every hook of the definition. */
export type LedgerState = { owner: string | null; balance: number };

/** The ledger's events. */
export type LedgerEvent =
  | { type: "Opened"; data: { owner: string } }
  | { type: "OwnerChanged"; data: { owner: string } }
  | { type: "Deposited"; data: { amount: number } }
  | { type: "Withdrawn"; data: { amount: number } }
  | { type: "WithdrawalRejected"; data: { amount: number } };

type LedgerMessage = Message<unknown, LedgerEvent>;

const Owner = z.object({ owner: z.string().default("ada") });
const Amount = z.object({ amount: z.number().int(), delayMs: z.number().int().min(0).max(1000).default(0) });

const applyLedger = (state: LedgerState, event: LedgerEvent): LedgerState => {
  switch (event.type) {
    case "Opened":
    case "OwnerChanged":
      return { ...state, owner: event.data.owner };
    case "Deposited":
      return { ...state, balance: state.balance + event.data.amount };
    case "Withdrawn":
      return { ...state, balance: state.balance - event.data.amount };
    case "WithdrawalRejected":
      return state;
  }
};

function withdraw(message: LedgerMessage & { request: { amount: number } }, state: LedgerState): LedgerMessage {
  const { amount } = message.request;
  if (amount > state.balance) {
    return error(addEvent(message, { type: "WithdrawalRejected", data: { amount } }), "insufficient_funds");
  }
  return ok(addEvent(message, { type: "Withdrawn", data: { amount } }));
}

/** Deposits after an optional wait: the wait is I/O (a timer) that lets other requests in. */
async function deposit(message: LedgerMessage & { request: { amount: number; delayMs: number } }): Promise<LedgerMessage> {
  if (message.request.delayMs > 0) await sleep(message.request.delayMs);
  return ok(addEvent(message, { type: "Deposited", data: { amount: message.request.amount } }));
}

/** Opens the ledger, or changes its owner (a command that creates its aggregate when missing). */
function ensure(m: LedgerMessage & { request: { owner: string } }, state: LedgerState): LedgerMessage {
  if (state.owner === null) return created(addEvent(m, { type: "Opened", data: { owner: m.request.owner } }), m.aggregateMeta.id ?? "");
  if (state.owner === m.request.owner) return ok(m);
  return ok(addEvent(m, { type: "OwnerChanged", data: { owner: m.request.owner } }));
}

/** Every command the tests need, over any ledger-shaped definition. */
function withLedgerCommands(definition: Aggregate<LedgerState, LedgerEvent>) {
  return definition
    .messageCommand("open", { creates: true, schema: Owner }, (m) =>
      created(addEvent(m, { type: "Opened", data: { owner: m.request.owner } }), m.aggregateMeta.id ?? ""),
    )
    .messageCommand("open_nothing", { creates: true }, (m) => ok(m))
    // Opens after a wait: I/O that lets other requests reach the object while it decides.
    .messageCommand("open_slowly", { creates: true, schema: Owner }, async (m) => {
      await sleep(200);
      return created(addEvent(m, { type: "Opened", data: { owner: m.request.owner } }), m.aggregateMeta.id ?? "");
    })
    .messageCommand("ensure", { creates: "if-missing", schema: Owner }, ensure)
    .messageCommand("ensure_generating", { creates: "if-missing", schema: Owner, generateId: true }, ensure)
    .messageCommand("deposit", { schema: Amount }, deposit)
    .messageCommand("deposit_twice", { schema: Amount }, (m) =>
      ok(addEvent(addEvent(m, { type: "Deposited", data: { amount: m.request.amount } }), { type: "Deposited", data: { amount: m.request.amount } })),
    )
    .messageCommand("withdraw", { schema: Amount }, withdraw)
    .messageCommand("balance", {}, (m, state) => ok(m, state))
    // A schema whose output is not JSON: the decision must get what the schema made, whatever the transport.
    .messageCommand("date_of", { schema: z.object({ at: z.string().transform((text) => new Date(text)) }) }, (m) =>
      ok(m, m.request.at instanceof Date ? m.request.at.toISOString() : `not a Date: ${typeof m.request.at}`),
    )
    .messageCommand("seen_version", {}, (m) => ok(m, m.aggregateMeta.version ?? null))
    .messageCommand("throws", {}, () => {
      throw new Error("a bug in a decision");
    })
    .messageCommand("not_json", {}, (m) => ok(addEvent(m, { type: "Deposited", data: { amount: Number.NaN } })))
    .messageCommand("undefined_data", {}, (m) => ok(addEvent(m, { type: "Deposited", data: undefined } as unknown as LedgerEvent)))
    .messageCommand("date_data", {}, (m) => ok(addEvent(m, { type: "Deposited", data: { amount: new Date() } } as unknown as LedgerEvent)))
    .messageCommand("huge", {}, (m) =>
      ok(addEvent(m, { type: "Deposited", data: { amount: 1, pad: "x".repeat(2_100_000) } } as unknown as LedgerEvent)),
    )
    .messageCommand("returns_other", {}, () => ok({ id: "someone else" } as unknown as LedgerMessage))
    .messageCommand("create_nothing", { creates: true }, (m) => created(m, m.aggregateMeta.id ?? ""))
    .messageCommand("late_deposit", {}, async (m) => {
      await sleep(500);
      return ok(addEvent(m, { type: "Deposited", data: { amount: 1 } }));
    })
    .messageCommand("hang", {}, () => new Promise<LedgerMessage>(() => {}));
}

/** Event sourced, snapshots every 10 events, commit/rollback hooks and event metadata. */
export const ledger = withLedgerCommands(
  new Aggregate<LedgerState, LedgerEvent>({
    stream: "ledger",
    initialState: () => ({ owner: null, balance: 0 }),
    apply: applyLedger,
    commit: (message) => {
      hookLog.push(`commit ${message.id}`);
      if (message.id.startsWith("commit-throws")) throw new Error("a broken commit hook");
    },
    rollback: (message) => void hookLog.push(`rollback ${message.id}`),
    snapshot: { every: 10, schema: 1 },
    eventMetadata: (message) => ({ tenant: typeof message.assigns["tenant"] === "string" ? message.assigns["tenant"] : "none" }),
  }),
);

/** Reference 73: `beforeAppend` keeps rejections out of the stream; the caller still hears of them. */
export const filtered = withLedgerCommands(
  new Aggregate<LedgerState, LedgerEvent>({
    stream: "filtered",
    initialState: () => ({ owner: null, balance: 0 }),
    apply: applyLedger,
    beforeAppend: (message) => ({ ...message, events: message.events.filter((e) => e.type !== "WithdrawalRejected") }),
  }),
);

/** Reference 80: state based, no events stored; the state is saved with its version. */
export const stateful = withLedgerCommands(
  new Aggregate<LedgerState, LedgerEvent>({
    stream: "stateful",
    initialState: () => ({ owner: null, balance: 0 }),
    apply: applyLedger,
    persistence: "state",
    stateToJson: (state) => ({ ...state, format: "v1" }),
    setState: (saved) => {
      const { owner, balance } = saved as LedgerState & { format: string };
      return { owner, balance };
    },
  }),
);

/** References 78-79: unload after `Withdrawn` (30 ms), and by state. */
export const unloading = withLedgerCommands(
  new Aggregate<LedgerState, LedgerEvent>({
    stream: "unloading",
    initialState: () => ({ owner: null, balance: 0 }),
    apply: applyLedger,
    commandTimeoutMs: 300,
    unload: {
      events: { Withdrawn: { inMs: 30 } },
      state: (state) => {
        if (state.balance === 13) throw new Error("no rule for 13");
        if (state.balance >= 1000) return { inMs: 30 };
        if (state.owner === "leaver") return "unload";
        return "skip";
      },
    },
  }),
);
