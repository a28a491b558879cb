/**
 * `work`'s result, or `onTimeout()`'s when `work` has not settled within `ms`. Whichever comes
 * first wins; a result that comes later is dropped. The work itself is not cancelled (JavaScript
 * cannot cancel a promise): callers hand it to `waitUntil` when it must run to its end.
 */
export async function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
