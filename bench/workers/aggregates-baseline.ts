// The baseline of the aggregates benchmark: the bank demo's `open_account` and `deposit` written by
// hand, as one would without the library — a plain fetch handler and one SQLite Durable Object per
// account, reached by RPC — or, with TRANSPORT = "fetch", by `stub.fetch` with a JSON body, the
// transport the library uses (the suite runs this Worker both ways). It does the same work per deposit: bearer-token identity, request
// validation, an idempotency row (message id → response), the event row and the stream version in
// one transactionSync, a snapshot every 50 events, the reply in the gateway's envelope. It leaves
// out what only the library does: message envelopes and their checks, router, dispatcher,
// authorize hook, request fingerprints, the per-instance command queue and deadline.
import { DurableObject } from "cloudflare:workers";
import { controlEntrypoint } from "./bench-control.js";

type Identity = { user: string; admin: boolean };

type Response_ =
  | { status: "ok"; version: number }
  | { status: "created"; id: string; version: number }
  | { status: "validation_error"; errors: { path: string; message: string }[] }
  | { status: "unauthorized"; reason?: string }
  | { status: "error"; reason: string; details?: unknown };

type State = { version: number; status: "new" | "open" | "closed"; owner: string | null; balance: number };

type Env = { ACCOUNTS: DurableObjectNamespace<BaselineAccount>; API_TOKENS?: string; TRANSPORT?: "rpc" | "fetch" };

/** What the Worker sends the object over `stub.fetch`. */
type Call = { op: "open"; messageId: string; owner: string; id: string } | { op: "deposit"; messageId: string; amount: number };

/** As the demo's aggregate: `snapshot: { every: 50 }`. */
const SNAPSHOT_EVERY = 50;
const SEED_CHUNK = 5000;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS events (
     version INTEGER PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,
     message_id TEXT NOT NULL, recorded_at TEXT NOT NULL)`,
  "CREATE TABLE IF NOT EXISTS snapshots (version INTEGER PRIMARY KEY, state TEXT NOT NULL)",
  "CREATE TABLE IF NOT EXISTS stream (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, status TEXT NOT NULL)",
  "CREATE TABLE IF NOT EXISTS processed (message_id TEXT PRIMARY KEY, response TEXT NOT NULL, recorded_at TEXT NOT NULL)",
];

/** One bank account. State is loaded on the first command (snapshot, then the events after it). */
export class BaselineAccount extends DurableObject<Env> {
  readonly #bornAt = Date.now();
  #state: State | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    for (const statement of SCHEMA) ctx.storage.sql.exec(statement);
  }

  /** The same two methods over `stub.fetch`: a JSON call in, the JSON answer out. */
  override async fetch(request: Request): Promise<Response> {
    const call = (await request.json()) as Call;
    return Response.json(call.op === "deposit" ? this.deposit(call.messageId, call.amount) : this.open(call.messageId, call.owner, call.id));
  }

  open(messageId: string, owner: string, id: string): Response_ {
    const done = this.#processed(messageId);
    if (done !== null) return done;
    const state = this.#load();
    if (state.status !== "new") return { status: "error", reason: "wrong_expected_version", details: { expected: -1, actual: state.version } };
    const answer: Response_ = { status: "created", id, version: 0 };
    this.#append(state, messageId, "open_account", "AccountOpened", { owner }, answer, { ...state, version: 0, status: "open", owner });
    return answer;
  }

  deposit(messageId: string, amount: number): Response_ {
    const done = this.#processed(messageId);
    if (done !== null) return done;
    const state = this.#load();
    if (state.status === "new") return { status: "error", reason: "not_found" };
    if (state.status === "closed") return { status: "validation_error", errors: [{ path: "account_id", message: "the account is closed" }] };
    const version = state.version + 1;
    const answer: Response_ = { status: "ok", version };
    this.#append(state, messageId, "deposit", "MoneyDeposited", { amount }, answer, { ...state, version, balance: state.balance + amount });
    return answer;
  }

  #processed(messageId: string): Response_ | null {
    const row = this.ctx.storage.sql.exec<{ response: string }>("SELECT response FROM processed WHERE message_id = ?", messageId).toArray()[0];
    return row === undefined ? null : (JSON.parse(row.response) as Response_);
  }

  /** The event, the stream version, the idempotency row (and a snapshot when due), all or nothing. */
  #append(before: State, messageId: string, service: string, type: string, data: object, answer: Response_, after: State): void {
    const sql = this.ctx.storage.sql;
    const recordedAt = new Date().toISOString();
    const metadata = { messageId, correlationId: messageId, causationId: messageId, service };
    this.ctx.storage.transactionSync(() => {
      sql.exec(
        "INSERT INTO events (version, type, data, metadata, message_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
        after.version,
        type,
        JSON.stringify(data),
        JSON.stringify(metadata),
        messageId,
        recordedAt,
      );
      sql.exec("INSERT INTO stream (id, version, status) VALUES (1, ?, 'open') ON CONFLICT (id) DO UPDATE SET version = excluded.version", after.version);
      sql.exec("INSERT INTO processed (message_id, response, recorded_at) VALUES (?, ?, ?)", messageId, JSON.stringify(answer), recordedAt);
      if ((after.version + 1) % SNAPSHOT_EVERY === 0) {
        sql.exec("DELETE FROM snapshots");
        sql.exec("INSERT INTO snapshots (version, state) VALUES (?, ?)", after.version, JSON.stringify(after));
      }
    });
    // Only once the transaction committed: a throw above leaves memory as storage is.
    Object.assign(before, after);
  }

  #load(): State {
    if (this.#state !== null) return this.#state;
    const sql = this.ctx.storage.sql;
    const snapshot = sql.exec<{ state: string }>("SELECT state FROM snapshots ORDER BY version DESC LIMIT 1").toArray()[0];
    const state: State = snapshot === undefined ? { version: -1, status: "new", owner: null, balance: 0 } : (JSON.parse(snapshot.state) as State);
    for (const row of sql.exec<{ version: number; type: string; data: string }>("SELECT version, type, data FROM events WHERE version > ? ORDER BY version", state.version)) {
      const data = JSON.parse(row.data) as { owner?: string; amount?: number };
      if (row.type === "AccountOpened") Object.assign(state, { status: "open", owner: data.owner ?? null });
      else if (row.type === "MoneyDeposited") state.balance += data.amount ?? 0;
      state.version = row.version;
    }
    this.#state = state;
    return state;
  }

  // Bench-only methods, called by the suite through Miniflare (never over HTTP).

  bornAt(): number {
    return this.#bornAt;
  }

  /** Appends `count` MoneyDeposited events (amount 1) with their idempotency rows. Evict afterwards. */
  seed(count: number): number {
    const sql = this.ctx.storage.sql;
    let version = sql.exec<{ version: number }>("SELECT version FROM stream WHERE id = 1").one().version;
    const recordedAt = new Date().toISOString();
    for (let done = 0; done < count; done += SEED_CHUNK) {
      this.ctx.storage.transactionSync(() => {
        for (let i = done; i < Math.min(count, done + SEED_CHUNK); i += 1) {
          version += 1;
          const messageId = crypto.randomUUID();
          const metadata = { messageId, correlationId: messageId, causationId: messageId, service: "deposit" };
          sql.exec(
            "INSERT INTO events (version, type, data, metadata, message_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
            version,
            "MoneyDeposited",
            JSON.stringify({ amount: 1 }),
            JSON.stringify(metadata),
            messageId,
            recordedAt,
          );
          sql.exec("INSERT INTO processed (message_id, response, recorded_at) VALUES (?, ?, ?)", messageId, JSON.stringify({ status: "ok", version }), recordedAt);
        }
        sql.exec("UPDATE stream SET version = ? WHERE id = 1", version);
      });
    }
    this.#state = null;
    return version;
  }

  /** No snapshot (`"none"`), or one at the current version (`"latest"`). */
  setSnapshot(mode: "none" | "latest"): number | null {
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM snapshots");
    if (mode === "none") return null;
    this.#state = null;
    const state = this.#load();
    sql.exec("INSERT INTO snapshots (version, state) VALUES (?, ?)", state.version, JSON.stringify(state));
    return state.version;
  }
}

/** The suite's side door for seeding and checks (see bench-control.ts). */
export const Control = controlEntrypoint<Env>((env) => env.ACCOUNTS);

/** token → identity, parsed once per isolate from API_TOKENS (`token=user[:admin]`, comma-separated). */
let tokens: { from: string; table: Map<string, Identity> } | undefined;

function identityOf(authorization: string | null, env: Env): Identity | null {
  if (authorization === null || !authorization.startsWith("Bearer ")) return null;
  const from = env.API_TOKENS ?? "";
  if (tokens?.from !== from) {
    const table = new Map<string, Identity>();
    for (const entry of from.split(",")) {
      const [token = "", who = ""] = entry.trim().split("=");
      const [user = "", role] = who.split(":");
      if (token !== "" && user !== "") table.set(token, { user, admin: role === "admin" });
    }
    tokens = { from, table };
  }
  return tokens.table.get(authorization.slice("Bearer ".length)) ?? null;
}

const statusOf: Record<string, number> = { ok: 200, created: 201, validation_error: 422, unauthorized: 401, not_found: 404, wrong_expected_version: 409 };

function reply(messageId: string, service: string, answer: Response_): Response {
  const status = statusOf[answer.status === "error" ? answer.reason : answer.status] ?? 400;
  const envelope = { messageId, correlationId: messageId, causationId: messageId, service, response: answer };
  return Response.json(envelope, {
    status,
    headers: { "X-Message-Id": messageId, "X-Correlation-Id": messageId, "X-Causation-Id": messageId },
  });
}

const idPattern = /^[!-~]{1,128}$/;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const service = request.method === "POST" ? /^\/v1\/services\/(open_account|deposit)$/.exec(new URL(request.url).pathname)?.[1] : undefined;
    if (service === undefined) return Response.json({ response: { status: "error", reason: "not_found" } }, { status: 404 });
    const messageId = request.headers.get("X-Message-Id") ?? crypto.randomUUID();
    if (!idPattern.test(messageId)) return reply(crypto.randomUUID(), service, { status: "error", reason: "invalid_header" });
    const identity = identityOf(request.headers.get("Authorization"), env);
    if (identity === null) return reply(messageId, service, { status: "unauthorized" });
    let body: { account_id?: unknown; amount?: unknown };
    try {
      body = (await request.json()) as typeof body;
    } catch {
      return reply(messageId, service, { status: "error", reason: "invalid_json" });
    }
    const errors: { path: string; message: string }[] = [];
    const accountId = body?.account_id;
    if (typeof accountId !== "string" || accountId.length < 1 || accountId.length > 200) errors.push({ path: "account_id", message: "must be a string of 1 to 200 characters" });
    const amount = body?.amount;
    if (service === "deposit" && !(Number.isSafeInteger(amount) && (amount as number) > 0 && (amount as number) <= 1_000_000_000)) {
      errors.push({ path: "amount", message: "must be a positive integer up to 1,000,000,000" });
    }
    if (errors.length > 0) return reply(messageId, service, { status: "validation_error", errors });
    const stub = env.ACCOUNTS.get(env.ACCOUNTS.idFromName(`account-${accountId as string}`));
    if (env.TRANSPORT === "fetch") {
      const call: Call = service === "deposit" ? { op: "deposit", messageId, amount: amount as number } : { op: "open", messageId, owner: identity.user, id: accountId as string };
      const answer = await stub.fetch("https://account/", { method: "POST", body: JSON.stringify(call) });
      return reply(messageId, service, (await answer.json()) as Response_);
    }
    const answer = service === "deposit" ? await stub.deposit(messageId, amount as number) : await stub.open(messageId, identity.user, accountId as string);
    return reply(messageId, service, answer);
  },
};
