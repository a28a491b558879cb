/** Options of {@link backoffDelay}. */
export type BackoffOptions = {
  /** The delay before the first retry, in ms. */
  baseMs: number;
  /** The longest delay, in ms. */
  maxMs: number;
  /**
   * How much of the delay is random, from 0 (none) to 1 (anywhere from 0 to the full delay).
   * Jitter keeps many clients that failed together from retrying together. Default 0.2.
   */
  jitter?: number;
  /** A number in [0, 1): `Math.random` unless a test needs repeatable delays. */
  random?: () => number;
};

/**
 * The delay before retry number `attempt` (1 for the first retry): `baseMs` doubled for each
 * attempt before it, capped at `maxMs`, with up to `jitter` of it taken off at random. The one
 * back-off of the library: scheduler retries, failed deliveries and failing nodes all use it.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const exponent = Math.max(0, Math.min(Math.floor(attempt) - 1, 30));
  const full = Math.min(options.maxMs, options.baseMs * 2 ** exponent);
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
  const random = options.random ?? Math.random;
  return Math.round(full * (1 - jitter * random()));
}
