import { env, exports } from "cloudflare:workers";
import { aggregateRouter, Dispatcher, newMessage, projectedEvent, silentLogger, type DryRun, type JsonObject, type Message } from "../../src/core/index.js";
import { envelopeOf } from "../../src/core/readside/event-envelope.js";
import { newId } from "../../src/core/shared/ids.js";
import { processInstanceId } from "../../src/core/readside/process.js";
import type { StreamPage } from "../../src/core/aggregates/aggregate-protocol.js";
import { type EventEnvelope } from "../../src/core/readside/event-envelope.js";
import { durableObjectAggregates } from "../../src/objects/index.js";
import type { Envelope } from "../../src/worker/index.js";
import { sleep } from "./recorders.js";
import { tally } from "./test-read-side.js";

/** Resolves with `probe()`'s value once `done` holds for it; rejects after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`still not there after ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await sleep(25);
  }
}

/** The demo's development tokens. */
export const TOKENS = { ada: "Bearer dev-ada", bob: "Bearer dev-bob", root: "Bearer dev-root" } as const;

/** Calls a demo service over HTTP, as `who`. */
export async function call(service: string, body: object, who: keyof typeof TOKENS = "ada", headers: Record<string, string> = {}) {
  const answer = await exports.default.fetch(`http://demo/v1/services/${service}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { Authorization: TOKENS[who], ...headers },
  });
  return { status: answer.status, body: (await answer.json()) as Envelope };
}

/** The payload of an `ok` reply (throws otherwise). */
export function payloadOf<T>(reply: { body: Envelope }): T {
  const answer = reply.body.response;
  if (answer.status !== "ok") throw new Error(`expected ok, got ${JSON.stringify(answer)}`);
  return answer.payload as T;
}

/**
 * The id of the demo's transfer process instance that transfer `transfer_id` started: derived from
 * its stored `TransferRequested` (its version, when it was recorded, the message that caused it).
 */
export async function transferInstanceId(transfer_id: string): Promise<string> {
  const streamName = `transfer-${transfer_id}`;
  const page = await env.TRANSFERS.get(env.TRANSFERS.idFromName(streamName)).fetch(`https://x3m.internal/events?stream=${streamName}&from=0&limit=1`);
  const [requested] = ((await page.json()) as StreamPage).events;
  if (requested === undefined) throw new Error(`${streamName} has no events`);
  return processInstanceId("transfers", projectedEvent("transfer", streamName, requested));
}

/** Opens an account for `who` (with a first deposit) and answers its id. */
export async function openAccount(who: keyof typeof TOKENS, deposit = 0): Promise<string> {
  const account_id = `acc-${newId()}`;
  const opened = await call("open_account", { account_id }, who);
  if (opened.status !== 201) throw new Error(`open_account: ${JSON.stringify(opened.body)}`);
  if (deposit > 0) await call("deposit", { account_id, amount: deposit }, who);
  return account_id;
}

/** An account's balance, as the account itself knows it (asked as an admin). */
export async function balanceOf(account_id: string): Promise<number> {
  return payloadOf<{ balance: number }>(await call("get_account", { account_id }, "root")).balance;
}

const tallies = aggregateRouter(tally, durableObjectAggregates((e: Cloudflare.Env) => e.TALLY), { authorize: () => "ok" });
export const flakyTallies = aggregateRouter(tally, durableObjectAggregates((e: Cloudflare.Env) => e.FLAKY_TALLY), { authorize: () => "ok" });
const dispatchers = {
  tally: new Dispatcher({ services: [tallies], env, logger: silentLogger }),
  flaky: new Dispatcher({ services: [flakyTallies], env, logger: silentLogger }),
};

/** Sends a tally command (to the publishing tallies, or the flaky ones). */
export function tallyCommand(service: string, request: JsonObject, options: { flaky?: boolean; dryRun?: DryRun; id?: string } = {}): Promise<Message> {
  const message = newMessage(service, { rawRequest: request, dryRun: options.dryRun ?? false, ...(options.id === undefined ? {} : { id: options.id }) });
  return dispatchers[options.flaky === true ? "flaky" : "tally"].dispatch(message, { timeoutMs: 10_000 });
}

/** The stub of tally `id`'s object. */
export function tallyStub(id: string, flaky = false): DurableObjectStub {
  const ns = flaky ? env.FLAKY_TALLY : env.TALLY;
  return ns.get(ns.idFromName(`tally-${id}`));
}

/** The versions of tally `id`'s events not yet sent (its outbox), as a read of its stream says. */
export async function outboxOf(id: string, flaky = false): Promise<number[]> {
  const page = await (flaky ? flakyTallies : tallies).readStream(env, id, { from: 0, limit: 1 });
  const unpublished = page.unpublished ?? 0;
  return Array.from({ length: unpublished }, (_, i) => page.version - unpublished + 1 + i);
}

/** Every envelope of a tally stream, read back from its object (as the consumer would get them). */
export async function tallyEnvelopes(id: string): Promise<EventEnvelope[]> {
  const page = await tallies.readStream(env, id, { from: 0, limit: 1000 });
  return page.events.map((event) => envelopeOf(projectedEvent("tally", `tally-${id}`, event), new Date().toISOString()).envelope);
}
