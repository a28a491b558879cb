import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { aggregateRouter, Dispatcher, newMessage, silentLogger, type Aggregate, type DryRun, type JsonObject, type Message } from "../../src/core/index.js";
import { newId } from "../../src/core/shared/ids.js";
import { type CommandSpecs } from "../../src/core/aggregates/aggregate.js";
import { type InstanceStats } from "../../src/core/aggregates/aggregate-instance.js";
import { durableObjectAggregates, type DurableObjectAggregatesOptions } from "../../src/objects/index.js";
import { type AggregateObject } from "../../src/objects/aggregate-object.js";
import type { LedgerEvent, LedgerState } from "./test-aggregates.js";

type Namespace = (e: Cloudflare.Env) => DurableObjectNamespace;

/** Options of one command sent through the harness. */
export type SendOptions = { id?: string; dryRun?: DryRun; expectedVersion?: number; assigns?: JsonObject; timeoutMs?: number };

/**
 * A ledger-shaped aggregate served the way an app serves one: message handlers in a router, a
 * dispatcher, and Durable Objects behind them.
 */
export function ledgerHarness<C extends CommandSpecs>(
  aggregate: Aggregate<LedgerState, LedgerEvent, C>,
  namespace: Namespace,
  clientOptions: DurableObjectAggregatesOptions = {},
) {
  const handlers = aggregateRouter(aggregate, durableObjectAggregates(namespace, clientOptions), { authorize: () => "ok" });
  const router = handlers;
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
