import { Telemetry, type TelemetryHandler } from "../messaging/telemetry.js";
import { response, type ServiceResponse } from "../messaging/response.js";
import { withFields } from "../shared/logger.js";
import { MemoryAlarm } from "./memory-alarm.js";
import { MemoryScheduleStore } from "./memory-schedule-store.js";
import type { ScheduleOutcome } from "./schedule-store.js";
import {
  SchedulerRunner,
  shardKey,
  type ScheduledSummary,
  type ScheduleRequest,
  type SchedulerClient,
  type SchedulerRunnerOptions,
  type ScheduleViewer,
} from "./scheduler.js";

/**
 * Options of a {@link MemoryScheduler}: those of each key's {@link SchedulerRunner} (`dispatch`,
 * `hooks`, `reidentify`, `limits`, `isAdmin`, `logger`, `batchSize`, `lateAfterMs`…), with the
 * telemetry given as subscribers — the scheduler makes one hub that all its keys share. Its
 * timers run on the real clock, so it takes no `now`.
 */
export type MemorySchedulerOptions = Omit<SchedulerRunnerOptions, "telemetry" | "now"> & {
  /** Telemetry subscribers for the scheduler's events (`scheduled_delivery`, `scheduled_retry`…). */
  telemetry?: readonly TelemetryHandler[];
};

type Shard = {
  runner: SchedulerRunner;
  /** Where its Durable Object would have its alarm. */
  alarm: MemoryAlarm;
  /** Calls working on this shard right now: it is dropped only when none is. */
  users: number;
};

/**
 * The scheduler in this process: one shard per key, each an in-memory store whose earliest entry
 * arms a timer (where the Durable Object adapter arms its alarm). Same semantics as the
 * SchedulerObject — leases, retries, recurring schedules — but nothing survives the process.
 * A key's shard is dropped once it holds nothing pending and no recent outcome, so memory follows
 * what is pending, not every key ever used. Call {@link close} to stop its timers so that a script
 * can exit.
 */
export class MemoryScheduler implements SchedulerClient<unknown> {
  readonly #options: MemorySchedulerOptions;
  readonly #shards = new Map<string, Shard>();
  readonly #telemetry: Telemetry;
  #closed = false;

  /** A scheduler with no shards yet. */
  constructor(options: MemorySchedulerOptions) {
    this.#options = options;
    this.#telemetry = new Telemetry(options.telemetry ?? [], options.logger);
  }

  /** Schedules a message (see {@link SchedulerRunner.schedule}). */
  async schedule(_env: unknown, request: ScheduleRequest): Promise<ServiceResponse> {
    const key = shardKey(request.key);
    return this.#using(key, async (shard) => {
      const answer = await shard.runner.schedule({ ...request, key });
      await shard.alarm.arm();
      return answer;
    });
  }

  /** The pending messages of `key` that `viewer` may see. */
  async list(_env: unknown, key: string, viewer: ScheduleViewer): Promise<ScheduledSummary[]> {
    return this.#shards.get(shardKey(key))?.runner.list(viewer) ?? [];
  }

  /** Cancels the entries with this id that `viewer` may cancel. */
  async cancel(_env: unknown, raw: string, messageId: string, viewer: ScheduleViewer): Promise<ServiceResponse> {
    const key = shardKey(raw);
    if (!this.#shards.has(key)) return response.error("not_found");
    return this.#using(key, async (shard) => {
      const answer = await shard.runner.cancel(messageId, viewer);
      await shard.alarm.arm();
      return answer;
    });
  }

  /** How recent schedules of `key` ended when they did not succeed (those `viewer` may see), newest first. */
  async outcomes(_env: unknown, key: string, viewer: ScheduleViewer): Promise<ScheduleOutcome[]> {
    return this.#shards.get(shardKey(key))?.runner.outcomes(viewer) ?? [];
  }

  /** How many keys this scheduler keeps in memory: those with something pending or a recent outcome. */
  get keyCount(): number {
    return this.#shards.size;
  }

  /** Stops every timer; nothing is delivered afterwards. */
  close(): void {
    this.#closed = true;
    for (const shard of this.#shards.values()) shard.alarm.close();
  }

  /** Runs `work` on the key's shard (made if need be), then drops the shard if it is left empty. */
  async #using<T>(key: string, work: (shard: Shard) => Promise<T>): Promise<T> {
    const shard = this.#shardOf(key);
    shard.users += 1;
    try {
      return await work(shard);
    } finally {
      shard.users -= 1;
      await this.#dropIfIdle(key, shard);
    }
  }

  /** Forgets a shard that nobody is using, that has no timer, nothing pending and no outcome to show. */
  async #dropIfIdle(key: string, shard: Shard): Promise<void> {
    const idle = () => shard.users === 0 && shard.alarm.idle && this.#shards.get(key) === shard;
    if (!idle()) return;
    const [next, outcomes] = await Promise.all([shard.runner.nextWake(), shard.runner.outcomes()]);
    // Someone may have started on the shard while this looked: check again before dropping it.
    if (next === null && outcomes.length === 0 && idle()) this.#shards.delete(key);
  }

  #shardOf(key: string): Shard {
    let shard = this.#shards.get(key);
    if (shard === undefined) {
      const runner = new SchedulerRunner(new MemoryScheduleStore(), { ...this.#options, telemetry: this.#telemetry });
      const logger = this.#options.logger === undefined ? undefined : withFields(this.#options.logger, { key });
      const made: Shard = { runner, alarm: new MemoryAlarm(runner, { ...(logger === undefined ? {} : { logger }), afterWake: () => this.#dropIfIdle(key, made) }), users: 0 };
      if (this.#closed) made.alarm.close();
      this.#shards.set(key, made);
      shard = made;
    }
    return shard;
  }
}
