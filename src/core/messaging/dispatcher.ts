import type { Json } from "../shared/json.js";
import { jsonLogger, withFields, type Logger } from "../shared/logger.js";
import { halt, messageProblem, type Message } from "./message.js";
import { NodeDirectory, NodeFailure, type RemoteNode } from "./node-directory.js";
import { response, type ServiceResponse } from "./response.js";
import type { DispatchOptions, ServiceRouter } from "./contracts.js";
import { ServiceRegistry } from "./service-registry.js";
import { finished, Telemetry } from "./telemetry.js";
import { withTimeout } from "../shared/timeout.js";

/** Options of a {@link Dispatcher}. */
export type DispatcherOptions<Env> = {
  /** This Worker's services: a registry built once, or the routers to build it from. */
  services: ServiceRegistry<Env> | readonly ServiceRouter<Env>[];
  /** The bindings handed to handlers and to `authorize`. */
  env: Env;
  /** This node's name in telemetry and logs (default `"local"`). */
  node?: string;
  /** Other nodes that may offer the services this one does not (tried after local ones). */
  nodes?: readonly RemoteNode[];
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
  /** Keeps a handler running after its caller stopped waiting (the platform's `waitUntil`). */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Timeout of a dispatch that does not name one (default 5000 ms). */
  defaultTimeoutMs?: number;
};

/** A provider that was tried without an answer, and why: its `try_another_node` reason, or a failure. */
export type TriedNode = { node: string; reason: Json };

/** What {@link Dispatcher.authorized} answers. */
export type AuthorizedResult = boolean | "service_unavailable";

/** How one try went: a reply, a failure of the node itself, or no answer in time. */
type Attempt = { kind: "reply"; message: Message } | { kind: "failed"; reason: string } | { kind: "timeout" };

/** Someone who can serve a message: this Worker's router, or another node. */
type Provider = { node: string; remote: boolean; attempt: (message: Message, timeoutMs: number, originNode: string) => Promise<Attempt> };

/** The default wait for a reply, as in the original library. */
export const DEFAULT_TIMEOUT_MS = 5000;

/**
 * Finds who offers a service — this Worker first, then the other nodes — forwards the message,
 * and waits for the reply. Every failure comes back as a Response value in the returned message
 * (`service_unavailable`, `service_timeout`, `error internal_error`, `error no_nodes_available`);
 * `dispatch` never throws.
 *
 * A dispatcher is cheap: build one per request with that request's `env` and `waitUntil`.
 */
export class Dispatcher<Env = unknown> {
  readonly #registry: ServiceRegistry<Env>;
  readonly #env: Env;
  readonly #node: string;
  readonly #nodes: readonly RemoteNode[];
  readonly #directory: NodeDirectory;
  readonly #remoteMarginMs: number;
  readonly #telemetry: Telemetry;
  readonly #logger: Logger;
  readonly #waitUntil: (promise: Promise<unknown>) => void;
  readonly #defaultTimeoutMs: number;

  /** A dispatcher over this Worker's services (and, when given, other nodes'). */
  constructor(options: DispatcherOptions<Env>) {
    this.#registry = options.services instanceof ServiceRegistry ? options.services : new ServiceRegistry(options.services);
    this.#env = options.env;
    this.#node = options.node ?? "local";
    this.#nodes = options.nodes ?? [];
    this.#directory = options.directory ?? new NodeDirectory();
    this.#remoteMarginMs = options.remoteMarginMs ?? 1000;
    this.#logger = options.logger ?? jsonLogger();
    this.#telemetry = options.telemetry ?? new Telemetry([], this.#logger);
    this.#waitUntil = options.waitUntil ?? ((promise) => void promise.catch(() => {}));
    this.#defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** The public services this dispatcher can reach: this Worker's, then other nodes'. */
  async publicServices(): Promise<string[]> {
    const local = this.#registry.services("public");
    const remote = this.#nodes.length === 0 ? [] : await this.#directory.services(this.#nodes);
    return [...new Set([...local, ...remote])];
  }

  /**
   * Sends `message` to its service and resolves with the reply. A halted message is returned
   * untouched and no service is called. With several providers, each try gets the full timeout;
   * a provider that asks for another node, fails or hangs makes the next one be tried.
   */
  dispatch(message: Message, options: DispatchOptions = {}): Promise<Message> {
    return this.#dispatch(message, options, false);
  }

  /**
   * What a node answers to other nodes: the message is run on this node's own public services
   * only, and the reply is returned as it is — a `try_another_node` included, so that the caller
   * can try its next node.
   */
  serveForNode(message: Message, options: DispatchOptions = {}): Promise<Message> {
    return this.#dispatch(message, { ...options, publicOnly: true }, true);
  }

  async #dispatch(message: Message, options: DispatchOptions, forNode: boolean): Promise<Message> {
    if (message.halted) return message;
    const timeoutMs = options.timeoutMs ?? this.#defaultTimeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      return halt(message, response.error("invalid_request", "timeoutMs must be a positive number of milliseconds"));
    }
    const startMs = Date.now();
    const sent: Message = { ...message, invokedAt: new Date(startMs).toISOString() };
    const telemetry = this.#telemetry;
    const callerNode = this.#node;
    telemetry.emit("discovering_service", { start: sent.invokedAt }, { message: sent, callerNode });

    const providers = await this.#discover(sent, options.publicOnly === true, forNode);
    if (providers.length === 0) {
      telemetry.emit("service_not_found", finished(startMs), { message: sent, callerNode });
      this.#logger.warn(`[Discovery] Service ${sent.serviceName} NOT found!`, { messageId: sent.id });
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
      const attempt = await provider.attempt(sent, timeoutMs, options.originNode ?? callerNode);
      if (observed) {
        const reply = this.#replyOf(attempt, sent, timeoutMs, tried);
        telemetry.emit("service_responded", finished(invokedMs), { message: reply, callerNode, serviceNode });
      }
      if (attempt.kind === "reply") {
        const answer = attempt.message.response;
        if (!forNode && provider.remote && answer?.status === "service_unavailable") {
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
      if (provider.remote) this.#directory.failed(serviceNode);
      if (attempt.kind === "timeout") timeouts += 1;
      tried.push({ node: serviceNode, reason: attempt.kind === "timeout" ? "timeout" : attempt.reason });
    }
    if (unavailable === tried.length) return halt(sent, response.serviceUnavailable(sent.serviceName));
    if (timeouts === tried.length) return halt(sent, response.serviceTimeout(sent.serviceName, sent.id, timeoutMs));
    return halt(sent, response.error("no_nodes_available", { tried }));
  }

  /** A dry run: `dryRun: false` becomes `true`; `true` and `"verbose"` stay as they are. */
  validate(message: Message, options: DispatchOptions = {}): Promise<Message> {
    if (message.halted || message.dryRun !== false) return this.dispatch(message, options);
    return this.dispatch({ ...message, dryRun: true }, options);
  }

  /**
   * Asks only the authorize hook of the service's provider, without calling the service:
   * true or false, or `"service_unavailable"` when no one offers it.
   */
  async authorized(message: Message, options: Pick<DispatchOptions, "publicOnly"> = {}): Promise<AuthorizedResult> {
    const answer = await this.authorization(message, options);
    if (answer.status === "service_unavailable") return "service_unavailable";
    return answer.status === "ok";
  }

  /**
   * Like {@link authorized}, with the reason: `{status: "ok"}` when the call would be let
   * through, otherwise the refusal (`forbidden`, `unauthorized`, an error…) or
   * `service_unavailable`. A hook that throws answers `internal_error`. Remote providers are asked
   * in turn; one that fails is skipped; when all fail the answer is `no_nodes_available`.
   */
  async authorization(message: Message, options: Pick<DispatchOptions, "publicOnly"> = {}): Promise<ServiceResponse> {
    const sent: Message = { ...message, invokedAt: new Date().toISOString() };
    this.#telemetry.emit("checking_if_service_call_is_authorized", { start: sent.invokedAt }, { message: sent, callerNode: this.#node });
    const local = this.#registry.find(sent.serviceName, options.publicOnly === true);
    if (local !== undefined) {
      try {
        return (await local.router.authorization(sent, this.#env)) ?? response.ok();
      } catch (error) {
        this.#logger.error("authorize threw", { service: sent.serviceName, messageId: sent.id, error });
        return response.error("internal_error");
      }
    }
    const nodes = await this.#remoteNodes(sent);
    if (nodes.length === 0) return response.serviceUnavailable(sent.serviceName);
    const tried: TriedNode[] = [];
    for (const node of nodes) {
      const asked = node.authorization(sent).then(
        (answer): ServiceResponse | string => answer,
        (error: unknown): ServiceResponse | string => {
          this.#logger.warn("node failed", { node: node.name, error });
          return error instanceof NodeFailure ? error.reason : "unreachable";
        },
      );
      const answer = await withTimeout(asked, this.#defaultTimeoutMs + this.#remoteMarginMs, () => "timeout");
      if (typeof answer !== "string") {
        this.#directory.answered(node.name);
        return answer;
      }
      this.#directory.failed(node.name);
      tried.push({ node: node.name, reason: answer });
    }
    return response.error("no_nodes_available", { tried });
  }

  /** Who offers `service`: this Worker's router wins over every other node. */
  async #discover(message: Message, publicOnly: boolean, localOnly: boolean): Promise<Provider[]> {
    const local = this.#registry.find(message.serviceName, publicOnly);
    if (local !== undefined) {
      return [{ node: "local", remote: false, attempt: (m, timeoutMs, origin) => this.#attemptLocal(local.router, m, timeoutMs, origin) }];
    }
    if (localOnly) return [];
    return (await this.#remoteNodes(message)).map((node) => ({
      node: node.name,
      remote: true,
      attempt: (m, timeoutMs) => this.#attemptRemote(node, m, timeoutMs),
    }));
  }

  async #remoteNodes(message: Message): Promise<RemoteNode[]> {
    if (this.#nodes.length === 0) return [];
    try {
      return await this.#directory.providers(message, this.#nodes);
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

  #attemptLocal(router: ServiceRouter<Env>, message: Message, timeoutMs: number, originNode: string): Promise<Attempt> {
    const service = message.serviceName;
    const answered = router
      .invoke(message, {
        env: this.#env,
        node: this.#node,
        originNode,
        telemetry: this.#telemetry,
        logger: withFields(this.#logger, { messageId: message.id, correlationId: message.correlationId, ...message.trace }),
        dispatch: (next, options) => this.dispatch(next, options),
        waitUntil: this.#waitUntil,
      })
      .then(
        (reply): Attempt => ({ kind: "reply", message: reply }),
        (error: unknown): Attempt => {
          this.#logger.error("service failed", { service, messageId: message.id, error });
          return { kind: "reply", message: halt(message, response.error("internal_error")) };
        },
      );
    // Whichever settles first wins; a reply that comes later is dropped and never reaches the caller.
    return withTimeout(answered, timeoutMs, (): Attempt => {
      this.#logger.warn("service timed out", { service, messageId: message.id, timeoutMs });
      return { kind: "timeout" };
    });
  }

  #attemptRemote(node: RemoteNode, message: Message, timeoutMs: number): Promise<Attempt> {
    const log = withFields(this.#logger, { node: node.name, service: message.serviceName, messageId: message.id });
    const answered = node.dispatch(message, { timeoutMs, callerNode: this.#node }).then(
      (reply): Attempt => {
        const problem = messageProblem(reply);
        if (problem !== null || reply.id !== message.id || reply.response === null) {
          log.warn("node answered something that is not a reply to this message", { problem });
          return { kind: "failed", reason: "bad_reply" };
        }
        this.#directory.answered(node.name);
        return { kind: "reply", message: reply };
      },
      (error: unknown): Attempt => {
        log.warn("node failed", { error });
        return { kind: "failed", reason: error instanceof NodeFailure ? error.reason : "unreachable" };
      },
    );
    this.#waitUntil(answered);
    return withTimeout(answered, timeoutMs + this.#remoteMarginMs, (): Attempt => {
      log.warn("node did not answer in time", { timeoutMs });
      return { kind: "timeout" };
    });
  }
}
