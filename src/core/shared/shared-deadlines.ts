/**
 * One deadline among those a {@link SharedDeadlines} watches: when it is (epoch ms) and what to do then.
 * Made by {@link SharedDeadlines.add}; hand it back to {@link SharedDeadlines.cancel}.
 */
export type Deadline = { readonly at: number; readonly expire: () => void };

/**
 * The deadlines of many pieces of work on one runtime timer, set for the earliest of them. A
 * scheduler object's drain delivers thousands of messages, each with a dispatch timeout; a timer
 * set and cleared for each cost about a tenth of its CPU (see ARCHITECTURE.md, "Hot paths").
 *
 * Only where every piece of work shares one I/O context: inside a Durable Object, whose requests
 * and alarms all run in the object's. Never across a stateless Worker's requests: a timer there
 * belongs to the request that set it and ends with it, and a later request would wait on it in vain.
 *
 * The timer is cleared as soon as no deadline is left: a pending timer keeps an object in memory,
 * and billed, until it rings.
 */
export class SharedDeadlines {
  readonly #deadlines = new Set<Deadline>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer rings (Infinity when none is set). */
  #ringsAt = Infinity;

  /** Calls `expire` once `ms` have passed, unless the deadline is cancelled before. */
  add(ms: number, expire: () => void): Deadline {
    // Whole milliseconds: a fractional delay is cut short by the runtime's timer, which would then
    // ring before the deadline and be set again at once.
    const deadline: Deadline = { at: Date.now() + Math.ceil(ms), expire };
    this.#deadlines.add(deadline);
    if (deadline.at < this.#ringsAt) this.#ringAt(deadline.at);
    return deadline;
  }

  /** Forgets `deadline` (its work is done); the last one gone takes the timer with it. */
  cancel(deadline: Deadline): void {
    if (this.#deadlines.delete(deadline) && this.#deadlines.size === 0) this.#disarm();
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#ringsAt = Infinity;
  }

  #ringAt(at: number): void {
    this.#disarm();
    this.#ringsAt = at;
    // At most the longest delay a timer takes (Node makes a longer one 1 ms); it is set again then.
    this.#timer = setTimeout(() => this.#ring(), Math.min(MAX_TIMER_DELAY_MS, Math.max(0, at - Date.now())));
  }

  /** Expires every deadline that has passed, after setting the timer for the next one. */
  #ring(): void {
    // It rang: nothing to clear.
    this.#timer = undefined;
    this.#ringsAt = Infinity;
    const now = Date.now();
    const due: Deadline[] = [];
    let next = Infinity;
    for (const deadline of this.#deadlines) {
      if (deadline.at <= now) due.push(deadline);
      else if (deadline.at < next) next = deadline.at;
    }
    if (next !== Infinity) this.#ringAt(next);
    for (const deadline of due) {
      // Each is still watched unless an `expire` before it cancelled it.
      if (!this.#deadlines.delete(deadline)) continue;
      try {
        deadline.expire();
      } catch (error) {
        // Not the others' concern: reported as the runtime reports a timer's throw.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    // The last one gone (an expire cancelled the rest): no timer left pending.
    if (this.#deadlines.size === 0) this.#disarm();
  }
}

/** The longest delay a runtime timer takes as it is (2^31 − 1 ms, about 24.8 days). */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;
