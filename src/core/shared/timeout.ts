/**
 * `work`'s result, or `onTimeout()`'s when `work` has not settled within `ms`. Whichever comes
 * first wins; a result that comes later is dropped. The work itself is not cancelled (JavaScript
 * cannot cancel a promise): callers hand it to `waitUntil` when it must run to its end. One
 * promise and one timer, cleared as soon as the work settles: every dispatch runs through here.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
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
