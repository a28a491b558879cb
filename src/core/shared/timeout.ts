import type { SharedDeadlines } from "./shared-deadlines.js";

/**
 * `work`'s result, or `onTimeout()`'s when `work` has not settled within `ms`. Whichever comes
 * first wins; a result that comes later is dropped. The work itself is not cancelled (JavaScript
 * cannot cancel a promise): callers hand it to `waitUntil` when it must run to its end. One
 * promise and one timer, cleared as soon as the work settles: every dispatch runs through here.
 * Inside a Durable Object, `deadlines` lets many of these share the object's one timer.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => T, deadlines?: SharedDeadlines): Promise<T> {
  if (deadlines !== undefined) return withSharedTimeout(work, ms, onTimeout, deadlines);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (error) {
        reject(error);
      }
    }, ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function withSharedTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => T, deadlines: SharedDeadlines): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const deadline = deadlines.add(ms, () => {
      try {
        resolve(onTimeout());
      } catch (error) {
        reject(error);
      }
    });
    work.then(
      (value) => {
        deadlines.cancel(deadline);
        resolve(value);
      },
      (error: unknown) => {
        deadlines.cancel(deadline);
        reject(error);
      },
    );
  });
}
