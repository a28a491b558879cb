/** A public key of a JSON Web Key Set that can check a signature, and names itself (`kid`). */
export type SigningKey = JsonWebKey & { kid: string };

/** How a key set's document is fetched: the global `fetch`, or a service binding's. */
export type KeyFetch = (request: Request) => Promise<Response>;

/** How long fetched keys are trusted, and how often an unknown key id may fetch them again. */
export type KeyCachePolicy = {
  /** Keys are fetched again once they are this old (ms). */
  ttlMs: number;
  /** At most one fetch per key set in this many ms, whatever the tokens' key ids. */
  refetchAfterMs: number;
};

/** The keys of a JWKS document (`{ "keys": [...] }`) that can verify a signature; null when it is not one. */
export function signingKeysOf(document: unknown): SigningKey[] | null {
  if (typeof document !== "object" || document === null || !("keys" in document) || !Array.isArray(document.keys)) return null;
  return document.keys.filter(isSigningKey);
}

// Public keys only: an HMAC secret (`oct`) or a private part (`d`) in a key set is never used.
const PUBLIC_KEY_TYPES: readonly unknown[] = ["RSA", "EC", "OKP"];

function isSigningKey(key: unknown): key is SigningKey {
  if (typeof key !== "object" || key === null) return false;
  const { kid, kty, use } = key as Record<string, unknown>;
  return typeof kid === "string" && kid !== "" && PUBLIC_KEY_TYPES.includes(kty) && (use === undefined || use === "sig") && !("d" in key);
}

/** How long a key set's fetch may take before it counts as failed. */
const FETCH_TIMEOUT_MS = 5000;

/** How often a request waiting for another one's first fetch of a key set looks whether it ended. */
const WAIT_STEP_MS = 20;

type Entry = {
  keys: SigningKey[] | null;
  fetchedAt: number;
  attemptedAt: number;
  failure: { error: unknown; at: number } | null;
  /** When (on the isolate's clock) a fetch still under way began, or null. */
  fetchingSince: number | null;
};

/**
 * Key sets fetched from their URLs, kept for the isolate's life. A key set is fetched when first
 * needed and again once older than the TTL; a key id it lacks (a key added by a rotation) fetches
 * it again at once — but never more than once per `refetchAfterMs`, so tokens with made-up key ids
 * cannot turn into a stream of requests to the issuer. No promise is shared between requests (the
 * Workers runtime forbids awaiting another request's I/O): a request fetches for itself, and
 * others meanwhile use the keys already known — or, before any are, wait for its outcome in the
 * entry (for a fetch's time at most).
 */
export class KeySetCache {
  readonly #policy: KeyCachePolicy;
  readonly #entries = new Map<string, Entry>();

  /** An empty cache. */
  constructor(policy: KeyCachePolicy) {
    this.#policy = policy;
  }

  /**
   * The keys of the key set at `url` as they are known now, fetched when due for a token signed by
   * `kid`. Rejects when they cannot be had: no keys usable and the fetch fails (or failed within
   * `refetchAfterMs`), or `kid` is unknown and fetching again fails. When a due refresh fails while
   * `kid` is known, the keys already known serve until they are twice the TTL old.
   */
  async keys(url: string, fetcher: KeyFetch, kid: string, now: number): Promise<SigningKey[]> {
    const { ttlMs, refetchAfterMs } = this.#policy;
    const entry = this.#entries.get(url) ?? { keys: null, fetchedAt: -Infinity, attemptedAt: -Infinity, failure: null, fetchingSince: null };
    this.#entries.set(url, entry);
    const usable = entry.keys !== null && now - entry.fetchedAt < 2 * ttlMs ? entry.keys : null;
    if (usable === null) {
      if (entry.failure !== null && now - entry.failure.at < refetchAfterMs) throw entry.failure.error;
      // Another request is fetching the set: wait for what it finds — looking at the entry, not
      // awaiting its promise — for as long as a fetch may take, then fetch for itself (that
      // request may have been cancelled). So made-up tokens on a cold isolate fetch once, not
      // once each.
      if (await this.#fetchedMeanwhile(entry)) return this.keys(url, fetcher, kid, now);
      return this.#fetch(url, fetcher, entry, now);
    }
    const known = usable.some((key) => key.kid === kid);
    if (known && now - entry.fetchedAt < ttlMs) return usable;
    // Fetched (or being fetched) lately: the keys known are the issuer's current ones.
    if (now - entry.attemptedAt < refetchAfterMs) return usable;
    try {
      return await this.#fetch(url, fetcher, entry, now);
    } catch (error) {
      if (!known) throw error;
      return usable;
    }
  }

  /** Whether a fetch under way when called ended (in keys or a failure) within the fetch timeout. */
  async #fetchedMeanwhile(entry: Entry): Promise<boolean> {
    const since = entry.fetchingSince;
    if (since === null) return false;
    while (entry.fetchingSince === since && Date.now() - since < FETCH_TIMEOUT_MS) {
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    }
    return entry.fetchingSince !== since;
  }

  async #fetch(url: string, fetcher: KeyFetch, entry: Entry, now: number): Promise<SigningKey[]> {
    entry.attemptedAt = now;
    const since = Date.now();
    entry.fetchingSince = since;
    try {
      const answer = await fetcher(new Request(url, { headers: { Accept: "application/json" }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) }));
      if (!answer.ok) throw new Error(`the key set at ${url} answered HTTP ${answer.status}`);
      const keys = signingKeysOf(await answer.json().catch(() => null));
      if (keys === null) throw new Error(`the key set at ${url} is not a JSON Web Key Set ({ "keys": [...] })`);
      Object.assign(entry, { keys, fetchedAt: now, failure: null });
      return keys;
    } catch (error) {
      entry.failure = { error, at: now };
      throw error;
    } finally {
      if (entry.fetchingSince === since) entry.fetchingSince = null;
    }
  }
}
