import { Telemetry, type TelemetryHandler } from "../messaging/telemetry.js";
import { response, type ServiceResponse } from "../messaging/response.js";
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
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by every re-arm: a timer or a re-arm from before it is stale. */
  generation: number;
  /** One delivery batch at a time, as a Durable Object runs one alarm at a time. */
  waking: boolean;
  /** Calls working on this shard right now: it is dropped only when none is. */
  users: number;
};

/** Timers longer than this are re-armed in steps (timers overflow after about 24.8 days). */
const LONGEST_TIMER_MS = 24 * 60 * 60 * 1000;

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
      await this.#arm(key, shard);
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
      await this.#arm(key, shard);
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
    for (const shard of this.#shards.values()) if (shard.timer !== undefined) clearTimeout(shard.timer);
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
    const idle = () => shard.users === 0 && !shard.waking && shard.timer === undefined && this.#shards.get(key) === shard;
    if (!idle()) return;
    const [next, outcomes] = await Promise.all([shard.runner.nextWake(), shard.runner.outcomes()]);
    // Someone may have started on the shard while this looked: check again before dropping it.
    if (next === null && outcomes.length === 0 && idle()) this.#shards.delete(key);
  }

  #shardOf(key: string): Shard {
    let shard = this.#shards.get(key);
    if (shard === undefined) {
      const runner = new SchedulerRunner(new MemoryScheduleStore(), { ...this.#options, telemetry: this.#telemetry });
      shard = { runner, timer: undefined, generation: 0, waking: false, users: 0 };
      this.#shards.set(key, shard);
    }
    return shard;
  }

  /** Points the shard's timer at its earliest entry (now, when more are due). */
  async #arm(key: string, shard: Shard, immediately = false): Promise<void> {
    shard.generation += 1;
    const generation = shard.generation;
    if (shard.timer !== undefined) clearTimeout(shard.timer);
    shard.timer = undefined;
    // While a batch runs, the batch re-arms when it ends.
    if (this.#closed || shard.waking) return;
    const next = immediately ? Date.now() : await shard.runner.nextWake();
    // A later re-arm (or close) happened while this one awaited: it decides.
    if (next === null || this.#closed || generation !== shard.generation) return;
    const delay = Math.min(Math.max(0, next - Date.now()), LONGEST_TIMER_MS);
    shard.timer = setTimeout(() => void this.#wake(key, shard, generation), delay);
  }

  async #wake(key: string, shard: Shard, generation: number): Promise<void> {
    if (this.#closed || shard.waking || generation !== shard.generation) return;
    shard.waking = true;
    let more = false;
    try {
      ({ more } = await shard.runner.deliverDue());
    } catch (error) {
      this.#options.logger?.error("scheduled delivery failed; retrying", { key, error });
    } finally {
      shard.waking = false;
    }
    await this.#arm(key, shard, more);
    await this.#dropIfIdle(key, shard);
  }
}
