import { hc } from "hono/client";
import type { ServiceResponse } from "../core/messaging/response.js";
import type { ScheduleOutcome } from "../core/scheduling/schedule-store.js";
import type { ScheduledSummary, ScheduleRequest, SchedulerClient, ScheduleViewer } from "../core/scheduling/scheduler.js";
import { shardKey } from "../core/scheduling/scheduler.js";
import { PROTOCOL_BASE_URL, through, trustedAnswer } from "../protocol/hono-protocol.js";
import type { SchedulerRoutes } from "./scheduler-routes.js";
import { namespaceOf } from "./namespace-of.js";

/** The typed client of the SchedulerObject protocol, made once (each call is given its shard's `fetch`). */
const client = hc<SchedulerRoutes>(PROTOCOL_BASE_URL);

/**
 * Reaches scheduler shards in a Durable Object namespace: the shard of key `k` is the object named
 * `k`, reached through Hono's typed client over `stub.fetch` ({@link SchedulerRoutes}). A
 * transport failure rejects.
 */
export function durableObjectScheduler<Env>(
  // Written out, not aliased, so that TypeScript's error for a namespace passed here shows the hint.
  binding: ((env: Env) => DurableObjectNamespace) | { readonly "pass a function of env, e.g. (env) => env.ACCOUNTS, not the namespace": never },
): SchedulerClient<Env> {
  const namespace = namespaceOf(binding, "durableObjectScheduler");
  // The shard is named by the key as the runner reads it (NFC): one key, however it is spelled.
  // A key the runner refuses is sent as it is, and refused there.
  const shardOf = (env: Env, key: string) => {
    const ns = namespace(env);
    return through(ns.get(ns.idFromName(shardKey(key))));
  };
  return {
    async schedule(env: Env, request: ScheduleRequest): Promise<ServiceResponse> {
      const answer = await client.schedule.$post({ json: { ...request, key: shardKey(request.key) } }, shardOf(env, request.key));
      return (await trustedAnswer<{ response: ServiceResponse }>(answer, `scheduler ${request.key}`)).response;
    },
    async list(env: Env, key: string, viewer: ScheduleViewer): Promise<ScheduledSummary[]> {
      const answer = await client.schedules.$post({ json: { key: shardKey(key), viewer } }, shardOf(env, key));
      return (await trustedAnswer<{ schedules: ScheduledSummary[] }>(answer, `scheduler ${key}`)).schedules;
    },
    async outcomes(env: Env, key: string, viewer: ScheduleViewer): Promise<ScheduleOutcome[]> {
      const answer = await client.outcomes.$post({ json: { key: shardKey(key), viewer } }, shardOf(env, key));
      return (await trustedAnswer<{ outcomes: ScheduleOutcome[] }>(answer, `scheduler ${key}`)).outcomes;
    },
    async cancel(env: Env, key: string, messageId: string, viewer: ScheduleViewer): Promise<ServiceResponse> {
      const answer = await client.cancel.$post({ json: { key: shardKey(key), messageId, viewer } }, shardOf(env, key));
      return (await trustedAnswer<{ response: ServiceResponse }>(answer, `scheduler ${key}`)).response;
    },
  };
}
