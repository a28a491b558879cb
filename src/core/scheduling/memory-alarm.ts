import type { Logger } from "../shared/logger.js";
import type { SchedulerRunner } from "./scheduler.js";

/** Timers longer than this are re-armed in steps (timers overflow after about 24.8 days). */
const LONGEST_TIMER_MS = 24 * 60 * 60 * 1000;

/** Options of a {@link MemoryAlarm}. */
export type MemoryAlarmOptions = {
  /** Where a failed batch is logged (it is tried again). */
  logger?: Logger;
  /** Called after each batch of deliveries, once the timer is pointed again. */
  afterWake?: () => Promise<void>;
};

/**
 * The in-memory equivalent of a Durable Object's alarm over one schedule store: a timer always
 * pointed at the earliest due entry, which delivers the due entries through the runner — one
 * batch at a time, as an object runs one alarm at a time. Its timers run on the real clock.
 */
export class MemoryAlarm {
  readonly #runner: SchedulerRunner;
  readonly #options: MemoryAlarmOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by every re-arm: a timer or a re-arm from before it is stale. */
  #generation = 0;
  #waking = false;
  #closed = false;

  /** An alarm over `runner`'s store; nothing is armed until {@link arm}. */
  constructor(runner: SchedulerRunner, options: MemoryAlarmOptions = {}) {
    this.#runner = runner;
    this.#options = options;
  }

  /** Whether nothing is armed and no batch runs. */
  get idle(): boolean {
    return this.#timer === undefined && !this.#waking;
  }

  /** Points the timer at the earliest entry (now, when more are due). */
  async arm(immediately = false): Promise<void> {
    this.#generation += 1;
    const generation = this.#generation;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    // While a batch runs, the batch re-arms when it ends.
    if (this.#closed || this.#waking) return;
    const next = immediately ? Date.now() : await this.#runner.nextWake();
    // A later re-arm (or close) happened while this one awaited: it decides.
    if (next === null || this.#closed || generation !== this.#generation) return;
    const delay = Math.min(Math.max(0, next - Date.now()), LONGEST_TIMER_MS);
    this.#timer = setTimeout(() => void this.#wake(generation), delay);
  }

  /** Stops the timer for good: nothing is delivered afterwards. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #wake(generation: number): Promise<void> {
    if (this.#closed || this.#waking || generation !== this.#generation) return;
    this.#timer = undefined;
    this.#waking = true;
    let more = false;
    try {
      ({ more } = await this.#runner.deliverDue());
    } catch (error) {
      this.#options.logger?.error("scheduled delivery failed; retrying", { error });
    } finally {
      this.#waking = false;
    }
    await this.arm(more);
    await this.#options.afterWake?.();
  }
}
