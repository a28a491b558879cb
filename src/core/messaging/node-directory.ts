import type { Message } from "./message.js";
import { backoffDelay } from "../shared/backoff.js";
import { withTimeout } from "../shared/timeout.js";
import type { ServiceResponse } from "./response.js";

/**
 * Another node (Worker) as the dispatcher sees it: what public services it offers, and how to
 * send it a message. Transport failures (unreachable, garbage, a 5xx) reject; the dispatcher
 * then tries the next node.
 */
export interface RemoteNode {
  /** The node's name (its service binding's name in configuration). */
  readonly name: string;
  /** The public services it offers now. */
  services(): Promise<string[]>;
  /**
   * Dispatches `message` on that node (its `authorize` runs there) and resolves with the reply.
   * `callerNode` is this node's name, for the serving node's telemetry.
   */
  dispatch(message: Message, options: { timeoutMs: number; callerNode: string }): Promise<Message>;
  /** Asks only that node's authorize hook: `ok`, a refusal, or `service_unavailable`. */
  authorization(message: Message): Promise<ServiceResponse>;
}

/**
 * Why a node could not be used: `unreachable` (no answer, a 5xx) or `bad_reply` (an answer that is
 * not the protocol's). {@link RemoteNode} adapters reject with it; the dispatcher reports the
 * reason in `no_nodes_available` and tries the next node.
 */
export class NodeFailure extends Error {
  /** Why the node could not be used. */
  readonly reason: "unreachable" | "bad_reply";

  /** A failure of a node, with a message for the log. */
  constructor(reason: "unreachable" | "bad_reply", message: string) {
    super(message);
    this.name = "NodeFailure";
    this.reason = reason;
  }
}

/**
 * The message itself cannot be sent to another node (it cannot be encoded: nested too deeply,
 * not JSON…). {@link RemoteNode} adapters reject with it; the dispatcher answers
 * `invalid_request` and counts it against no node.
 */
export class UnencodableMessage extends Error {
  /** Why the message could not be encoded. */
  constructor(message: string) {
    super(message);
    this.name = "UnencodableMessage";
  }
}

/** Picks the node to try first among those offering a service (the others follow, shuffled). */
export type ChooseNode = (message: Message, candidates: readonly string[]) => string;

/** Options of a {@link NodeDirectory}. */
export type NodeDirectoryOptions = {
  /** How long a node's service list is trusted before it is fetched again (default 30 s). */
  ttlMs?: number;
  /** How long a node that failed is not tried at first (default 10 s; longer when it keeps failing). */
  backoffMs?: number;
  /** How long a node may take to list its services before it counts as failed (default 2000 ms). */
  listTimeoutMs?: number;
  /** Picks the first node to try; default: random. */
  chooseNode?: ChooseNode;
  /** The clock (epoch ms). */
  now?: () => number;
};

type Listing = { services: ReadonlySet<string>; fetchedAt: number };

/**
 * What this isolate knows about other nodes, kept across requests: each node's public services
 * (fetched on first use, refetched after `ttlMs`) and which nodes failed recently (skipped for
 * `backoffMs`, or until they answer again). A stale list is refreshed by one request at a time
 * while the others use it; no request waits on another's fetch. It replaces the original's
 * gossip: nodes are named in configuration and asked, rather than announcing themselves.
 */
export class NodeDirectory {
  readonly #ttlMs: number;
  readonly #backoffMs: number;
  readonly #listTimeoutMs: number;
  readonly #chooseNode: ChooseNode;
  readonly #now: () => number;
  readonly #listings = new Map<string, Listing>();
  /** When a caller last began fetching a node's list: while it may still be under way, the others use a stale one they know. */
  readonly #refreshing = new Map<string, number>();
  readonly #failedUntil = new Map<string, number>();
  /** Failures in a row, per node (cleared when it answers). */
  readonly #failures = new Map<string, number>();
  /** What a failed node listed before it failed, until it lists again: it is down, not gone. */
  readonly #listedBeforeFailing = new Map<string, ReadonlySet<string>>();

  /** An empty directory. */
  constructor(options: NodeDirectoryOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#backoffMs = options.backoffMs ?? 10_000;
    this.#listTimeoutMs = options.listTimeoutMs ?? 2000;
    this.#chooseNode = options.chooseNode ?? ((_message, candidates) => candidates[Math.floor(Math.random() * candidates.length)] ?? "");
    this.#now = options.now ?? Date.now;
  }

  /**
   * The nodes among `nodes` that offer `service` and are not backing off, in the order to try
   * them: the chosen one first, the others shuffled.
   */
  async providers(message: Message, nodes: readonly RemoteNode[]): Promise<RemoteNode[]> {
    const usable = nodes.filter((node) => !this.isBackingOff(node.name));
    const listings = await Promise.all(usable.map((node) => this.#listing(node)));
    const offering = usable.filter((_node, i) => listings[i]?.services.has(message.serviceName) === true);
    if (offering.length <= 1) return offering;
    const shuffled = shuffle(offering);
    let first: string;
    try {
      first = this.#chooseNode(message, shuffled.map((node) => node.name));
    } catch {
      first = "";
    }
    const chosen = shuffled.find((node) => node.name === first);
    return chosen === undefined ? shuffled : [chosen, ...shuffled.filter((node) => node !== chosen)];
  }

  /** The public services of every usable node (each name once). */
  async services(nodes: readonly RemoteNode[]): Promise<string[]> {
    const usable = nodes.filter((node) => !this.isBackingOff(node.name));
    const listings = await Promise.all(usable.map((node) => this.#listing(node)));
    return [...new Set(listings.flatMap((listing) => (listing === null ? [] : [...listing.services])))];
  }

  /**
   * The node failed (unreachable, garbage, a 5xx, a timeout): skip it for a while — `backoffMs`
   * after its first failure, twice that after the next one in a row, up to eight times, each a
   * little shorter at random so that isolates that saw it fail together do not retry together.
   */
  failed(node: string): void {
    // Already backing off: this is a call that began before the failure that started it (requests
    // run side by side), not a failure in a row.
    if (this.isBackingOff(node)) return;
    const failures = (this.#failures.get(node) ?? 0) + 1;
    this.#failures.set(node, failures);
    this.#failedUntil.set(node, this.#now() + backoffDelay(failures, { baseMs: this.#backoffMs, maxMs: this.#backoffMs * 8 }));
    const listing = this.#listings.get(node);
    if (listing !== undefined) this.#listedBeforeFailing.set(node, listing.services);
    this.#listings.delete(node);
  }

  /**
   * The nodes among `nodes` that are backing off and offered `service` when they were last
   * listed: the service is down for now, not gone (a call answers `no_nodes_available`, not
   * `service_unavailable`).
   */
  backingOff(service: string, nodes: readonly RemoteNode[]): string[] {
    return nodes.filter((node) => this.isBackingOff(node.name) && this.#listedBeforeFailing.get(node.name)?.has(service) === true).map((node) => node.name);
  }

  /** The node answered: it is usable again, and its next failure starts the back-off afresh. */
  answered(node: string): void {
    this.#failedUntil.delete(node);
    this.#failures.delete(node);
  }

  /** Whether `node` failed recently and is not tried. */
  isBackingOff(node: string): boolean {
    const until = this.#failedUntil.get(node);
    if (until === undefined) return false;
    if (this.#now() < until) return true;
    this.#failedUntil.delete(node);
    return false;
  }

  /** Forgets one node's list: it answered as if it no longer offered a service it listed. */
  stale(node: string): void {
    this.#listings.delete(node);
    this.#listedBeforeFailing.delete(node);
  }

  /**
   * `node`'s list: the one known while it is fresh; else fetched by this caller. No caller waits
   * on a fetch another one started: on Workers, what a request starts belongs to it, and when its
   * client goes away it never settles (nor does its timer ring) — a shared fetch would hold up
   * every later request of the isolate. So while a known list is being refreshed, the others go on
   * with it; without one, each caller fetches its own (an isolate's first requests, once).
   */
  async #listing(node: RemoteNode): Promise<Listing | null> {
    const known = this.#listings.get(node.name);
    const now = this.#now();
    if (known !== undefined && now - known.fetchedAt < this.#ttlMs) return known;
    const since = this.#refreshing.get(node.name);
    if (known !== undefined && since !== undefined && now - since < this.#listTimeoutMs) return known;
    this.#refreshing.set(node.name, now);
    // A node that does not list its services in time fails like one that cannot be reached.
    const listed = node.services().then(
      (services): string[] | null => services,
      (): string[] | null => null,
    );
    const services = await withTimeout(listed, this.#listTimeoutMs, () => null);
    if (this.#refreshing.get(node.name) === now) this.#refreshing.delete(node.name);
    if (services === null) {
      this.failed(node.name);
      return null;
    }
    const listing = { services: new Set(services), fetchedAt: this.#now() };
    this.#listings.set(node.name, listing);
    this.#listedBeforeFailing.delete(node.name);
    // Not `answered`: a node that lists its services but fails its calls is still failing, and
    // its back-off keeps growing until a call is answered.
    return listing;
  }
}

/** A shuffled copy (Fisher-Yates). */
function shuffle<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}
