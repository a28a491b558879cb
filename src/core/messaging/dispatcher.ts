import type { Json } from "../shared/json.js";
import { withFields, type Logger } from "../shared/logger.js";
import type { SharedDeadlines } from "../shared/shared-deadlines.js";
import { withTimeout } from "../shared/timeout.js";
import type { DispatchOptions, InvocationContext, ServiceRouter } from "./contracts.js";
import { halt, type Message } from "./message.js";
import { NodeDirectory, NodeFailure, UnencodableMessage, type RemoteNode } from "./node-directory.js";
import { response, type ServiceResponse } from "./response.js";
import type { ServiceRegistry } from "./service-registry.js";
import { finished, type Telemetry } from "./telemetry.js";
import { traceFields } from "./trace.js";
import { wiring } from "./wiring.js";
import { isoTime } from "../shared/iso-time.js";

/**
 * What one call brings that the dispatcher cannot know in advance: the bindings of the request
 * (or alarm) it serves, and its `waitUntil`. Both fall back to what the dispatcher was built with.
 */
export type CallScope<Env> = {
  /** The bindings handed to handlers, to `authorize` and to the `nodes` function. */
  env?: Env;
  /** Keeps a handler running after its caller stopped waiting (the platform's `waitUntil`). */
  waitUntil?: (promise: Promise<unknown>) => void;
};

/** Options of one dispatch, with the call's scope. */
export type DispatchCall<Env> = DispatchOptions & CallScope<Env>;

/** Options of a {@link Dispatcher}. */
export type DispatcherOptions<Env> = CallScope<Env> & {
  /** This Worker's services: a registry built once, or the routers to build it from. */
  services: ServiceRegistry<Env> | readonly ServiceRouter<Env>[];
  /** This node's name in telemetry and logs (default `"local"`). */
  node?: string;
  /**
   * Other nodes that may offer the services this one does not (tried after local ones): a list,
   * or a function of the call's `env` (service bindings live in env).
   */
  nodes?: readonly RemoteNode[] | ((env: Env) => readonly RemoteNode[]);
  /** What this isolate knows about those nodes; keep one per isolate (module level). */
  directory?: NodeDirectory;
  /**
   * Extra time a remote node gets beyond the dispatch timeout (default 1000 ms): within it the
   * node answers `service_timeout` for its slow service; past it the node itself counts as hung.
   */
  remoteMarginMs?: number;
  /** Where life-cycle events go (default: nowhere). */
  telemetry?: Telemetry;
  /** Structured logs (default: JSON lines at info level). */
  logger?: Logger;
  /** Timeout of a dispatch that does not name one (default 5000 ms). */
  defaultTimeoutMs?: number;
};

/** A provider that was tried without an answer, and why: its `try_another_node` reason, or a failure. */
export type TriedNode = { node: string; reason: Json };

/**
 * What {@link Dispatcher.authorized} answers: whether the call would be let through,
 * `"service_unavailable"` when no one offers the service, `"no_nodes_available"` when the nodes
 * that offer it could not be asked (they failed or did not answer): not a refusal.
 */
export type AuthorizedResult = boolean | "service_unavailable" | "no_nodes_available";

/** How one try went: a reply, a failure of the node itself, or no answer in time. */
type Attempt = { kind: "reply"; message: Message } | { kind: "failed"; reason: string } | { kind: "timeout" };

/**
 * Someone who can serve a message: this Worker's router, or another node. Data, not a closure: a
 * provider is made for every dispatch (see ARCHITECTURE.md, "Hot paths").
 */
type Provider<Env> = { node: string; remote: false; router: ServiceRouter<Env> } | { node: string; remote: true; remoteNode: RemoteNode };

/**
 * One call's resolved scope. `deadlines`: the Durable Object's shared timer its dispatches wait on
 * (see {@link dispatchWithDeadlines}); undefined elsewhere, where each try sets a timer of its own.
 */
type Scope<Env> = { env: Env; waitUntil: (promise: Promise<unknown>) => void; originNode: string; deadlines: SharedDeadlines | undefined };

/**
 * A dispatch whose tries wait on `deadlines`, a Durable Object's shared timer, rather than a timer
 * each (see {@link SharedDeadlines}: only where every call shares the object's I/O context). For
 * the library's own objects; not exported from the package. Set by the Dispatcher's static block.
 */
export function dispatchWithDeadlines<Env>(dispatcher: Dispatcher<Env>, message: Message, call: DispatchCall<Env>, deadlines: SharedDeadlines): Promise<Message> {
  return dispatchOnShared(dispatcher, message, call, deadlines);
}

let dispatchOnShared: <Env>(dispatcher: Dispatcher<Env>, message: Message, call: DispatchCall<Env>, deadlines: SharedDeadlines) => Promise<Message>;

/** The default wait for a reply, as in the original library. */
export const DEFAULT_TIMEOUT_MS = 5000;

/** The answer when a message cannot be encoded to send it to another node. */
const unencodable = (): ServiceResponse => response.error("invalid_request", "the message cannot be encoded to send it to another node");

/**
 * Finds who offers a service — this Worker first, then the other nodes — forwards the message,
 * and waits for the reply. Every failure comes back as a Response value in the returned message
 * (`service_unavailable`, `service_timeout`, `error internal_error`, `error no_nodes_available`);
 * `dispatch` never throws.
 *
 * Build one per isolate (its registry and node directory outlive requests) and pass each call's
 * `env` and `waitUntil` to `dispatch`; a dispatcher built with an `env` uses it for calls that
 * bring none.
 */
export class Dispatcher<Env = unknown> {
  readonly #registry: ServiceRegistry<Env>;
  readonly #env: Env | undefined;
  readonly #node: string;
  readonly #nodes: (env: Env) => readonly RemoteNode[];
  readonly #directory: NodeDirectory;
  readonly #remoteMarginMs: number;
  readonly #telemetry: Telemetry;
  readonly #logger: Logger;
  readonly #waitUntil: (promise: Promise<unknown>) => void;
  readonly #defaultTimeoutMs: number;

  /** A dispatcher over this Worker's services (and, when given, other nodes'). */
  constructor(options: DispatcherOptions<Env>) {
    const wired = wiring<Env>({ services: options.services, logger: options.logger });
    this.#registry = wired.registry;
    this.#logger = wired.logger;
    this.#telemetry = options.telemetry ?? wired.telemetry;
    this.#env = options.env;
    this.#node = options.node ?? "local";
    const nodes = options.nodes ?? [];
    this.#nodes = typeof nodes === "function" ? nodes : () => nodes;
    this.#directory = options.directory ?? new NodeDirectory();
    this.#remoteMarginMs = options.remoteMarginMs ?? 1000;
    // Without a runtime's waitUntil (Node, a Durable Object's deliveries) work handed to it runs on
    // by itself; its failure is logged, not lost and not an unhandled rejection.
    this.#waitUntil =
      options.waitUntil ?? ((promise) => void promise.catch((error: unknown) => this.#logger.error("work handed to waitUntil failed", { error })));
    this.#defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** The public services this dispatcher can reach: this Worker's, then other nodes'. */
  async publicServices(scope: CallScope<Env> = {}): Promise<string[]> {
    const local = this.#registry.services("public");
    let remote: readonly string[] = [];
    try {
      const nodes = this.#nodes(this.#scopeOf(scope).env);
      if (nodes.length > 0) remote = await this.#directory.services(nodes);
    } catch (error) {
      // The app's `nodes(env)` threw (a binding missing from this env): this node's own services, logged.
      this.#logger.error("node discovery failed", { error });
    }
    return [...new Set([...local, ...remote])];
  }

  /**
   * Sends `message` to its service and resolves with the reply. A halted message is returned
   * untouched and no service is called. With several providers, each try gets the full timeout;
   * a provider that asks for another node, fails or hangs makes the next one be tried.
   */
  dispatch(message: Message, options: DispatchCall<Env> = {}): Promise<Message> {
    return this.#dispatch(message, options, false, undefined);
  }

  /**
   * What a node answers to other nodes: the message is run on this node's own public services
   * only, and the reply is returned as it is — a `try_another_node` included, so that the caller
   * can try its next node.
   */
  serveForNode(message: Message, options: DispatchCall<Env> = {}): Promise<Message> {
    return this.#dispatch(message, { ...options, publicOnly: true }, true, undefined);
  }

  /** A dry run: `dryRun: false` becomes `true`; `true` and `"verbose"` stay as they are. */
  validate(message: Message, options: DispatchCall<Env> = {}): Promise<Message> {
    if (message.halted || message.dryRun !== false) return this.dispatch(message, options);
    return this.dispatch({ ...message, dryRun: true }, options);
  }

  /**
   * Asks only the authorize hook of the service's provider, without calling the service:
   * true or false, `"service_unavailable"` when no one offers it, or `"no_nodes_available"` when
   * every node that offers it failed to answer (see {@link authorization} for the details).
   */
  async authorized(message: Message, options: Pick<DispatchCall<Env>, "publicOnly" | "env"> = {}): Promise<AuthorizedResult> {
    const answer = await this.authorization(message, options);
    if (answer.status === "service_unavailable") return "service_unavailable";
    // Nobody could be asked: not the same as a refusal (the original told a failed call apart too).
    if (answer.status === "error" && answer.reason === "no_nodes_available") return "no_nodes_available";
    return answer.status === "ok";
  }

  /**
   * Like {@link authorized}, with the reason: `{status: "ok"}` when the call would be let
   * through, otherwise the refusal (`forbidden`, `unauthorized`, an error…) or
   * `service_unavailable`. A hook that throws answers `internal_error`. Remote providers are asked
   * in turn; one that fails is skipped; when all fail the answer is `no_nodes_available`.
   */
  async authorization(message: Message, options: Pick<DispatchCall<Env>, "publicOnly" | "env"> = {}): Promise<ServiceResponse> {
    const scope = this.#scopeOf(options);
    const sent: Message = { ...message, invokedAt: isoTime() };
    this.#telemetry.emit("checking_if_service_call_is_authorized", { start: sent.invokedAt }, { message: sent, callerNode: this.#node });
    const local = this.#registry.find(sent.serviceName, options.publicOnly === true);
    if (local !== undefined) {
      try {
        return (await local.router.authorization(sent, scope.env)) ?? response.ok();
      } catch (error) {
        this.#logger.error("authorize threw", { ...traceFields(sent.trace), service: sent.serviceName, messageId: sent.id, error });
        return response.error("internal_error");
      }
    }
    const nodes = await this.#remoteNodes(sent, scope);
    if (nodes.length === 0) {
      const down = this.#backingOff(sent, scope);
      return down.length > 0 ? response.error("no_nodes_available", { tried: down }) : response.serviceUnavailable(sent.serviceName);
    }
    const tried: TriedNode[] = [];
    for (const node of nodes) {
      const log = withFields(this.#logger, { node: node.name, service: sent.serviceName, messageId: sent.id });
      // A failure after the timeout (already counted against the node) is not counted again.
      let late = false;
      const asked = node.authorization(sent).then(
        (answer): ServiceResponse | string | null => answer,
        (error: unknown) => (late ? "timeout" : this.#nodeFailure(node, error, log)),
      );
      const answer = await withTimeout(asked, this.#defaultTimeoutMs + this.#remoteMarginMs, () => {
        late = true;
        this.#directory.failed(node.name);
        return "timeout";
      });
      if (answer === null) return unencodable();
      if (typeof answer === "string") {
        tried.push({ node: node.name, reason: answer });
        continue;
      }
      if (notOffered(answer, sent)) {
        // The node listed the service but no longer offers it: its list is stale. Ask the next.
        this.#directory.stale(node.name);
        tried.push({ node: node.name, reason: "service_unavailable" });
        continue;
      }
      this.#directory.answered(node.name);
      return answer;
    }
    if (tried.every(({ reason }) => reason === "service_unavailable")) return response.serviceUnavailable(sent.serviceName);
    return response.error("no_nodes_available", { tried });
  }

  async #dispatch(message: Message, options: DispatchCall<Env>, forNode: boolean, deadlines: SharedDeadlines | undefined): Promise<Message> {
    if (message.halted) return message;
    const timeoutMs = options.timeoutMs ?? this.#defaultTimeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      return halt(message, response.error("invalid_request", "timeoutMs must be a positive number of milliseconds"));
    }
    const scope = this.#scopeOf(options, deadlines);
    const startMs = Date.now();
    const sent: Message = { ...message, invokedAt: isoTime(startMs) };
    const telemetry = this.#telemetry;
    const callerNode = this.#node;
    telemetry.emit("discovering_service", { start: sent.invokedAt }, { message: sent, callerNode });

    const providers = await this.#discover(sent, scope, options.publicOnly === true, forNode);
    if (providers.length === 0) {
      // Offered by nodes that are down for now (backing off after a failure): down, not gone.
      const down = forNode ? [] : this.#backingOff(sent, scope);
      if (down.length > 0) return halt(sent, response.error("no_nodes_available", { tried: down }));
      telemetry.emit("service_not_found", finished(startMs), { message: sent, callerNode });
      this.#logger.warn(`[Discovery] Service ${shownName(sent.serviceName)} NOT found!`, { ...traceFields(sent.trace), messageId: sent.id });
      return halt(sent, response.serviceUnavailable(sent.serviceName));
    }

    const tried: TriedNode[] = [];
    let timeouts = 0;
    let unavailable = 0;
    for (const provider of providers) {
      const serviceNode = provider.node;
      // Telemetry events are only built when someone listens: this is every dispatch's hot path.
      const observed = telemetry.active;
      if (observed) telemetry.emit("service_found", finished(startMs), { message: sent, callerNode, serviceNode });
      const invokedMs = Date.now();
      if (observed) telemetry.emit("invoking_service", { start: new Date(invokedMs).toISOString() }, { message: sent, callerNode, serviceNode });
      const attempt = await (provider.remote ? this.#attemptRemote(provider.remoteNode, sent, timeoutMs, scope) : this.#attemptLocal(provider.router, sent, timeoutMs, scope));
      if (observed) {
        const reply = this.#replyOf(attempt, sent, timeoutMs, tried);
        telemetry.emit("service_responded", finished(invokedMs), { message: reply, callerNode, serviceNode });
      }
      if (attempt.kind === "reply") {
        const answer = attempt.message.response;
        if (!forNode && provider.remote && answer !== null && notOffered(answer, sent)) {
          // The node listed the service but no longer offers it: its list is stale. Try the next.
          this.#directory.stale(serviceNode);
          tried.push({ node: serviceNode, reason: "service_unavailable" });
          unavailable += 1;
          continue;
        }
        if (forNode || answer?.status !== "error" || answer.reason !== "try_another_node") return attempt.message;
        tried.push({ node: serviceNode, reason: answer.details ?? null });
        continue;
      }
      if (attempt.kind === "timeout") timeouts += 1;
      tried.push({ node: serviceNode, reason: attempt.kind === "timeout" ? "timeout" : attempt.reason });
    }
    if (unavailable === tried.length) return halt(sent, response.serviceUnavailable(sent.serviceName));
    if (timeouts === tried.length) return halt(sent, response.serviceTimeout(sent.serviceName, sent.id, timeoutMs));
    return halt(sent, response.error("no_nodes_available", { tried }));
  }

  #scopeOf(call: DispatchCall<Env>, deadlines?: SharedDeadlines): Scope<Env> {
    // A dispatcher built without env serves whatever env each call brings (the gateway's case).
    const env = (call.env ?? this.#env) as Env;
    return { env, waitUntil: call.waitUntil ?? this.#waitUntil, originNode: call.originNode ?? this.#node, deadlines };
  }

  static {
    // The library's objects dispatch on their own shared timer; nothing outside this package can.
    dispatchOnShared = (dispatcher, message, call, deadlines) => dispatcher.#dispatch(message, call, false, deadlines);
  }

  /** Who offers `service`: this Worker's router wins over every other node. */
  async #discover(message: Message, scope: Scope<Env>, publicOnly: boolean, localOnly: boolean): Promise<Provider<Env>[]> {
    const local = this.#registry.find(message.serviceName, publicOnly);
    if (local !== undefined) return [{ node: "local", remote: false, router: local.router }];
    if (localOnly) return [];
    return (await this.#remoteNodes(message, scope)).map((node) => ({ node: node.name, remote: true, remoteNode: node }));
  }

  /** The nodes that offered the message's service before they failed and are backing off now, as tried nodes. */
  #backingOff(message: Message, scope: Scope<Env>): TriedNode[] {
    try {
      return this.#directory.backingOff(message.serviceName, this.#nodes(scope.env)).map((node) => ({ node, reason: "backing_off" }));
    } catch {
      // The app's `nodes(env)` threw: logged where the nodes were asked for, as no node.
      return [];
    }
  }

  async #remoteNodes(message: Message, scope: Scope<Env>): Promise<RemoteNode[]> {
    // The app's `nodes(env)` may throw too (a binding missing from this env): no node, logged.
    try {
      const nodes = this.#nodes(scope.env);
      return nodes.length === 0 ? [] : await this.#directory.providers(message, nodes);
    } catch (error) {
      this.#logger.error("node discovery failed", { service: message.serviceName, error });
      return [];
    }
  }

  /** The reply the caller would see for one try (what `service_responded` reports). */
  #replyOf(attempt: Attempt, sent: Message, timeoutMs: number, tried: readonly TriedNode[]): Message {
    if (attempt.kind === "reply") return attempt.message;
    if (attempt.kind === "timeout") return halt(sent, response.serviceTimeout(sent.serviceName, sent.id, timeoutMs));
    return halt(sent, response.error("no_nodes_available", { tried: [...tried] }));
  }

  #attemptLocal(router: ServiceRouter<Env>, message: Message, timeoutMs: number, scope: Scope<Env>): Promise<Attempt> {
    const service = message.serviceName;
    const { env, waitUntil, deadlines } = scope;
    const answered = router
      .invoke(message, {
        env,
        node: this.#node,
        originNode: scope.originNode,
        telemetry: this.#telemetry,
        logger: withFields(this.#logger, () => ({ ...traceFields(message.trace), messageId: message.id, correlationId: message.correlationId })),
        dispatch: this.#dispatchIn(env, waitUntil, deadlines),
        waitUntil,
      })
      .then(
        (reply): Attempt => ({ kind: "reply", message: reply }),
        (error: unknown): Attempt => {
          this.#logger.error("service failed", { ...traceFields(message.trace), service, messageId: message.id, error });
          return { kind: "reply", message: halt(message, response.error("internal_error")) };
        },
      );
    // Whichever settles first wins; a reply that comes later is dropped and never reaches the caller.
    return withTimeout(
      answered,
      timeoutMs,
      (): Attempt => {
        this.#logger.warn("service timed out", { ...traceFields(message.trace), service, messageId: message.id, timeoutMs });
        return { kind: "timeout" };
      },
      deadlines,
    );
  }

  /**
   * What a handler's own `dispatch` is: a dispatch in its call's scope (same env, same waitUntil).
   * Returned from a method, not written in the context's literal (see ARCHITECTURE.md, "Hot paths").
   */
  #dispatchIn(env: Env, waitUntil: (promise: Promise<unknown>) => void, deadlines: SharedDeadlines | undefined): InvocationContext<Env>["dispatch"] {
    if (deadlines === undefined) return (next, options) => this.dispatch(next, { ...options, env, waitUntil });
    return (next, options) => this.#dispatch(next, { ...options, env, waitUntil }, false, deadlines);
  }

  #attemptRemote(node: RemoteNode, message: Message, timeoutMs: number, scope: Scope<Env>): Promise<Attempt> {
    const log = withFields(this.#logger, { node: node.name, service: message.serviceName, messageId: message.id });
    // Once the caller stopped waiting (the timeout counted against the node), what comes later is
    // not looked at: a late answer must not clear the back-off of a node that keeps answering too
    // late, nor a late failure count twice.
    let late = false;
    const answered = node.dispatch(message, { timeoutMs, callerNode: this.#node }).then(
      (reply): Attempt => {
        if (late) return { kind: "timeout" };
        // The node adapter checked the reply's shape; here only that it answers this message.
        if (reply.id !== message.id || reply.response === null) {
          log.warn("node answered something that is not a reply to this message");
          this.#directory.failed(node.name);
          return { kind: "failed", reason: "bad_reply" };
        }
        this.#directory.answered(node.name);
        return { kind: "reply", message: answerTo(message, reply) };
      },
      (error: unknown): Attempt => {
        if (late) return { kind: "timeout" };
        const reason = this.#nodeFailure(node, error, log);
        return reason === null ? { kind: "reply", message: halt(message, unencodable()) } : { kind: "failed", reason };
      },
    );
    scope.waitUntil(answered);
    return withTimeout(
      answered,
      timeoutMs + this.#remoteMarginMs,
      (): Attempt => {
        late = true;
        log.warn("node did not answer in time", { timeoutMs });
        this.#directory.failed(node.name);
        return { kind: "timeout" };
      },
      scope.deadlines,
    );
  }

  /**
   * Why a call to `node` failed, counted against the node — or null when our own message could not
   * be encoded to send it (nested too deeply…): no node is at fault, and none would take it.
   */
  #nodeFailure(node: RemoteNode, error: unknown, log: Logger): string | null {
    if (error instanceof UnencodableMessage) {
      log.warn("message cannot be sent to another node", { problem: error.message });
      return null;
    }
    log.warn("node failed", { error });
    this.#directory.failed(node.name);
    return error instanceof NodeFailure ? error.reason : "unreachable";
  }
}

/**
 * Whether a node's answer says it does not offer the service called: `service_unavailable` naming
 * that service. One naming another is the handler's own answer — it ran, and passed on what a
 * service it called answered: trying another node would run it twice.
 */
function notOffered(answer: ServiceResponse, sent: Message): boolean {
  return answer.status === "service_unavailable" && answer.service === sent.serviceName;
}

/**
 * A node's reply as the caller's: what the node decided (its response, whether it halted, the
 * aggregate's meta, the assigns and validity it answered with; events only for a verbose dry run)
 * on the message that was sent. The ids, service, trace and dry run stay the caller's own: another
 * Worker answers a message, it does not rename it (a correlation id with a line break would not
 * even make a header).
 */
function answerTo(sent: Message, reply: Message): Message {
  return {
    ...sent,
    request: null,
    response: reply.response,
    halted: reply.halted,
    aggregateMeta: reply.aggregateMeta,
    assigns: reply.assigns,
    valid: reply.valid,
    events: sent.dryRun === "verbose" ? reply.events : [],
  };
}

/**
 * A service name as a log line shows it: as it is when it is a plain name, else quoted as JSON
 * and cut to 100 characters — a caller chooses the name of a service that does not exist, and must
 * not write a line break or kilobytes into the log.
 */
export function shownName(name: string): string {
  if (/^[!-~]{1,100}$/.test(name)) return name;
  return `${JSON.stringify(name.slice(0, 100))}${name.length > 100 ? "…" : ""}`;
}
