import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import {
  aggregateHandlers,
  Dispatcher,
  newId,
  newMessage,
  Router,
  silentLogger,
  type Aggregate,
  type DryRun,
  type InstanceStats,
  type JsonObject,
  type Message,
} from "../../src/core/index.js";
import { durableObjectAggregates, type AggregateObject } from "../../src/objects/index.js";
import type { LedgerEvent, LedgerState } from "./test-aggregates.js";

type Namespace = (e: Cloudflare.Env) => DurableObjectNamespace;

/** Commands that act on an existing ledger. */
const existing = [
  "deposit",
  "deposit_twice",
  "withdraw",
  "balance",
  "seen_version",
  "throws",
  "not_json",
  "undefined_data",
  "date_data",
  "huge",
  "returns_other",
  "late_deposit",
  "hang",
] as const;

/** Options of one command sent through the harness. */
export type SendOptions = { id?: string; dryRun?: DryRun; expectedVersion?: number; assigns?: JsonObject; timeoutMs?: number };

/**
 * A ledger-shaped aggregate served the way an app serves one: message handlers in a router, a
 * dispatcher, and Durable Objects behind them.
 */
export function ledgerHarness<C extends string>(aggregate: Aggregate<LedgerState, LedgerEvent, C>, namespace: Namespace) {
  const handlers = aggregateHandlers(aggregate, durableObjectAggregates(namespace));
  const command = (name: string) => name as C;
  const router = new Router<Cloudflare.Env>({ authorize: () => "ok" })
    .service("open", handlers.onNewAggregate(command("open")))
    .service("open_nothing", handlers.onNewAggregate(command("open_nothing")))
    .service("create_nothing", handlers.onNewAggregate(command("create_nothing")))
    .service("ensure", handlers.onMaybeNewAggregate(command("ensure")))
    .service("ensure_generating", handlers.onMaybeNewAggregate(command("ensure"), { generateIdIfMissing: true }));
  for (const name of existing) router.service(name, handlers.onAggregate(command(name)));
  const dispatcher = new Dispatcher({ services: [router], env, logger: silentLogger });

  const send = (service: string, rawRequest: JsonObject, options: SendOptions = {}): Promise<Message> =>
    dispatcher.dispatch(
      newMessage(service, {
        rawRequest,
        ...(options.id === undefined ? {} : { id: options.id }),
        dryRun: options.dryRun ?? false,
        assigns: options.assigns ?? {},
        aggregateMeta: options.expectedVersion === undefined ? {} : { expectedVersion: options.expectedVersion },
      }),
      { timeoutMs: options.timeoutMs ?? 10_000 },
    );

  const stub = (id: string) => {
    const ns = namespace(env);
    return ns.get(ns.idFromName(handlers.streamName(id)));
  };

  return {
    handlers,
    send,
    stub,
    /** A fresh aggregate id, so that tests never share a stream. */
    freshId: () => `t-${newId()}`,
    /** Every stored event of `id`. */
    events: async (id: string) => (await handlers.readStream(env, id, { from: 0, limit: 1000 })).events,
    /** The instance's counters. */
    stats: (id: string) =>
      runInDurableObject(stub(id), (instance) => (instance as unknown as AggregateObject).stats() as InstanceStats),
    /** The names of the tables the object's SQLite database holds. */
    tables: (id: string) =>
      runInDurableObject(stub(id), (_instance, state) =>
        state.storage.sql
          .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
          .toArray()
          .map((row) => row.name)
          .filter((name) => !name.startsWith("_cf")),
      ),
  };
}
