import type { ServiceResponse } from "../core/messaging/response.js";
import type { ScheduledSummary, ScheduleRequest, SchedulerClient } from "../core/scheduling/scheduler.js";
import { SCHEDULER_ORIGIN, SCHEDULER_PATHS } from "./scheduler-paths.js";

/**
 * Reaches scheduler shards in a Durable Object namespace: the shard of key `k` is the object named
 * `k`. A transport failure rejects.
 */
export function durableObjectScheduler<Env>(namespace: (env: Env) => DurableObjectNamespace): SchedulerClient<Env> {
  const post = async (env: Env, key: string, path: string, body: object): Promise<unknown> => {
    const ns = namespace(env);
    const answer = await ns.get(ns.idFromName(key)).fetch(`${SCHEDULER_ORIGIN}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "Content-Type": "application/json" },
    });
    const text = await answer.text();
    if (!answer.ok) throw new Error(`scheduler ${key} answered ${answer.status}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as unknown;
  };
  return {
    async schedule(env: Env, request: ScheduleRequest): Promise<ServiceResponse> {
      return ((await post(env, request.key, SCHEDULER_PATHS.schedule, request)) as { response: ServiceResponse }).response;
    },
    async list(env: Env, key: string, owner?: string): Promise<ScheduledSummary[]> {
      return ((await post(env, key, SCHEDULER_PATHS.list, { key, owner })) as { schedules: ScheduledSummary[] }).schedules;
    },
    async cancel(env: Env, key: string, messageId: string, owner?: string): Promise<ServiceResponse> {
      return ((await post(env, key, SCHEDULER_PATHS.cancel, { key, messageId, owner })) as { response: ServiceResponse }).response;
    },
  };
}
