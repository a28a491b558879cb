import type { Context } from "hono";
import { response } from "../../core/messaging/response.js";
import { answerWith } from "./replies.js";

/*
 * Throttling of guesses at the admin token. Every check of a presented admin token that fails —
 * a wrong bearer on the stream routes or on the schedule routes' admin path, a wrong token in the
 * console's login form — is counted per client address. Past the limit the address is refused
 * (429) for a minute: each admin-token check from it is answered without looking at the token, so
 * that the right token, guessed then, is refused like any other and a guesser learns nothing.
 * Checks that succeed are not counted.
 *
 * The count is kept in this isolate's memory — the failures of the last minute, a window that
 * slides — for a bounded number of addresses, and also by Cloudflare's Rate Limiting binding
 * when the app gives one (shared by the Worker's isolates in a location): an address is refused
 * when either count is over. The binding counts in fixed windows, so a burst that straddles the
 * end of one is caught by the isolate's count. Which addresses are refused is always known per
 * isolate: the binding only counts.
 */

/** What the gateway needs of a rate limiter: Cloudflare's Rate Limiting binding (`RateLimit`) is one. */
export type RateLimiter = { limit(options: { key: string }): Promise<{ success: boolean }> };

/** Failed admin-token checks an address may make in any minute, in each isolate (a binding adds its own `limit`, across isolates). */
export const FAILED_CHECKS_PER_MINUTE = 10;

/** How long an address over the limit is refused, and the window its failures are counted in. */
export const THROTTLE_MS = 60_000;

/** Addresses the in-isolate count keeps at most; past it, the one that failed least recently is forgotten. */
export const THROTTLED_ADDRESSES = 10_000;

/** The key of requests that carry no client address (`CF-Connecting-IP`), e.g. under local tests: they share one count. */
export const UNKNOWN_ADDRESS = "unknown";

/**
 * Who is guessing: the client's address from `CF-Connecting-IP` (which Cloudflare sets on every
 * request), an IPv6 address by its /64 network (one subscriber's usual allocation, so that the
 * addresses of one network share a count), {@link UNKNOWN_ADDRESS} without the header.
 */
export function clientAddress(headers: Headers): string {
  const address = (headers.get("CF-Connecting-IP") ?? "").trim().toLowerCase().slice(0, 64);
  if (address === "") return UNKNOWN_ADDRESS;
  if (!address.includes(":") || address.includes(".")) return address;
  const [head = "", tail] = address.split("::", 2);
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? left : [...left, ...Array.from({ length: Math.max(0, 8 - left.length - right.length) }, () => "0"), ...right];
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

/** When one address failed within the last minute (oldest first, at most one more than the limit), and until when it is refused. */
type Failures = { times: number[]; refusedUntil: number };

/**
 * The failed admin-token checks of one gateway (one per isolate), per client address. A route
 * asks {@link refusedFor} before it compares a token, and reports each failed comparison with
 * {@link failed}.
 */
export class AdminThrottle<Env> {
  readonly #limiter: ((env: Env) => RateLimiter | undefined) | undefined;
  readonly #now: () => number;
  readonly #addresses = new Map<string, Failures>();

  /** A throttle counting with `limiter` (a Rate Limiting binding) when it gives one, else in memory. */
  constructor(limiter?: (env: Env) => RateLimiter | undefined, now: () => number = Date.now) {
    this.#limiter = limiter;
    this.#now = now;
  }

  /** How many ms `address` is still refused for (0: it may try). */
  refusedFor(address: string): number {
    const entry = this.#addresses.get(address);
    if (entry === undefined) return 0;
    const now = this.#now();
    if (entry.refusedUntil > now) return entry.refusedUntil - now;
    if ((entry.times.at(-1) ?? 0) + THROTTLE_MS <= now) this.#addresses.delete(address);
    return 0;
  }

  /**
   * Counts a failed check from `address`; answers how many ms the address is now refused for (0
   * while it is within the limit). With a binding, the binding counts too, and either count over
   * the limit refuses — a binding that fails leaves the count to this isolate.
   */
  async failed(env: Env, address: string): Promise<number> {
    const now = this.#now();
    const entry = this.#touch(address, now);
    entry.times.push(now);
    if (entry.times.length > FAILED_CHECKS_PER_MINUTE + 1) entry.times.shift();
    const limiter = this.#limiter?.(env);
    let over = entry.times.length > FAILED_CHECKS_PER_MINUTE;
    if (limiter !== undefined) {
      try {
        // Asked even when the isolate's count is over: the binding's count must include this failure.
        const allowed = (await limiter.limit({ key: `x3m-admin-token:${address}` })).success;
        over ||= !allowed;
      } catch {
        // Keep the isolate's own count.
      }
    }
    if (over) entry.refusedUntil = now + THROTTLE_MS;
    return Math.max(0, entry.refusedUntil - now);
  }

  /** The entry of `address` without its failures older than a minute, made the most recent; the least recent is forgotten past the bound. */
  #touch(address: string, now: number): Failures {
    const known = this.#addresses.get(address);
    this.#addresses.delete(address);
    const entry = known ?? { times: [], refusedUntil: 0 };
    while ((entry.times[0] ?? now) + THROTTLE_MS <= now) entry.times.shift();
    if (this.#addresses.size >= THROTTLED_ADDRESSES) {
      const oldest = this.#addresses.keys().next();
      if (oldest.done !== true) this.#addresses.delete(oldest.value);
    }
    this.#addresses.set(address, entry);
    return entry;
  }
}

/** Seconds to say in `Retry-After` for a refusal of `ms`. */
export const retryAfterSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

/**
 * The API's answer to an address that is refused: 429 `too_many_attempts` (`{ response }`), with
 * `Retry-After`.
 */
export function tooManyAttempts(c: Context, ms: number): Response {
  const seconds = retryAfterSeconds(ms);
  c.header("Retry-After", String(seconds));
  return answerWith(c, response.error("too_many_attempts", { retryAfterSeconds: seconds }));
}
