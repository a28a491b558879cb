// The library side of the aggregates benchmark: the bank demo's services and account aggregate
// (imported from examples/) behind the library's HTTP gateway, as the demo Worker serves them.
// The account object gets bench-only RPC methods that the suite calls through Miniflare, never
// over HTTP, so that the measured path is exactly the library's.
import { silentLogger } from "../../src/core/index.js";
import { aggregateObject } from "../../src/objects/index.js";
import { createGateway } from "../../src/worker/index.js";
import { account, type AccountEvent, type AccountState } from "../../examples/bank/account.js";
import { bank } from "../../examples/bank/services.js";
import type { Env } from "../../examples/env.js";
import { identify } from "../../examples/identity.js";
import { controlEntrypoint } from "./bench-control.js";

/** Rows written per transaction when seeding. */
const SEED_CHUNK = 5000;

/**
 * The demo's AccountObject (same aggregate, same options) plus what the benchmark needs to set up
 * and check its measures. Seeding writes straight into the tables of
 * `src/objects/sqlite-stream-store.ts` (events, processed_messages, snapshots, stream): replaying
 * 100,000 commands over HTTP would take minutes, and what a cold load reads is those rows.
 */
export class BenchAccountObject extends aggregateObject(account, { logger: silentLogger }) {
  /** When this instance was constructed: a later time than the request before it proves a wake-up. */
  readonly #bornAt = Date.now();

  bornAt(): number {
    return this.#bornAt;
  }

  /**
   * Appends `count` MoneyDeposited events (amount 1) with their idempotency rows, as `count`
   * deposits would have left them, after an opened account. Returns the stream's new version.
   * The in-memory instance is now behind storage: evict the object before the next command.
   */
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
          sql.exec(
            "INSERT INTO processed_messages (principal, message_id, version, fingerprint, response, recorded_at) VALUES ('ada', ?, ?, ?, ?, ?)",
            messageId,
            version,
            "seeded",
            JSON.stringify({ status: "ok", version }),
            recordedAt,
          );
        }
        sql.exec("UPDATE stream SET version = ? WHERE id = 1", version);
      });
    }
    return version;
  }

  /**
   * `"none"`: no snapshot, a load replays every event. `"latest"`: one snapshot at the current
   * version (folded here with the aggregate's own `apply`), as the demo's `snapshot.every` would
   * have left it, so a load replays nothing. Returns the snapshot's version or null.
   */
  setSnapshot(mode: "none" | "latest"): number | null {
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM snapshots");
    if (mode === "none") return null;
    let state: AccountState = account.options.initialState();
    let version = -1;
    for (const row of sql.exec<{ version: number; type: string; data: string }>("SELECT version, type, data FROM events ORDER BY version")) {
      state = account.options.apply(state, { type: row.type, data: JSON.parse(row.data) } as AccountEvent);
      version = row.version;
    }
    const schema = account.options.snapshot?.schema ?? 1;
    sql.exec("INSERT INTO snapshots (version, state, schema) VALUES (?, ?, ?)", version, JSON.stringify(state), schema);
    return version;
  }
}

/** The suite's side door for seeding and checks (see bench-control.ts). */
export const Control = controlEntrypoint<Env>((env) => env.ACCOUNTS);

/** The demo's gateway over the bank, with the demo's bearer tokens; quiet, as every bench Worker. */
export default createGateway<Env>({ services: [bank], node: "gateway", identify, logger: silentLogger });
