import type { Deadline, SharedDeadlines } from "./shared-deadlines.js";

/** Where a timeout waits: a runtime timer of its own, or one of a {@link SharedDeadlines}. */
type Timers<Handle> = { add(ms: number, expire: () => void): Handle; cancel(handle: Handle): void };

/** A timer per call: safe anywhere (a stateless Worker's timer belongs to its request). */
const OWN_TIMER: Timers<ReturnType<typeof setTimeout>> = {
  add: (ms, expire) => setTimeout(expire, ms),
  cancel: (timer) => clearTimeout(timer),
};

/**
 * `work`'s result, or `onTimeout()`'s when `work` has not settled within `ms`. Whichever comes
 * first wins; a result that comes later is dropped. The work itself is not cancelled (JavaScript
 * cannot cancel a promise): callers hand it to `waitUntil` when it must run to its end. One
 * promise and one timer, cleared as soon as the work settles: every dispatch runs through here.
 * Inside a Durable Object, `deadlines` lets many of these share the object's one timer.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => T, deadlines?: SharedDeadlines): Promise<T> {
  return deadlines === undefined ? timed(work, ms, onTimeout, OWN_TIMER) : timed<T, Deadline>(work, ms, onTimeout, deadlines);
}

function timed<T, Handle>(work: Promise<T>, ms: number, onTimeout: () => T, timers: Timers<Handle>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const handle = timers.add(ms, () => {
      try {
        resolve(onTimeout());
      } catch (error) {
        reject(error);
      }
    });
    work.then(
      (value) => {
        timers.cancel(handle);
        resolve(value);
      },
      (error: unknown) => {
        timers.cancel(handle);
        reject(error);
      },
    );
  });
}
