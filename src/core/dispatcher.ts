import { jsonLogger, withFields, type Logger } from "./logger.js";
import { halt, type Message } from "./message.js";
import type { Json } from "./json.js";
import { response, type ServiceResponse } from "./response.js";
import type { ServiceRouter } from "./router.js";
import { ServiceRegistry } from "./service-registry.js";
import { finished, Telemetry } from "./telemetry.js";
import { withTimeout } from "./timeout.js";

/** Options of one dispatch. */
export type DispatchOptions = {
  /** How long to wait for the reply, in ms (default: the dispatcher's, 5000). */
  timeoutMs?: number;
  /**
   * Only public services are found: set for calls from outside this Worker (HTTP, other
   * Workers), so that private services look exactly like services nobody offers.
   */
  publicOnly?: boolean;
};

/** Options of a {@link Dispatcher}. */
export type DispatcherOptions<Env> = {
  /** This Worker's services: a registry built once, or the routers to build it from. */
  services: ServiceRegistry<Env> | readonly ServiceRouter<Env>[];
  /** The bindings handed to handlers and to `authorize`. */
  env: Env;
  /** This node's name in telemetry and logs (default `"local"`). */
  node?: string;
  /** Where life-cycle events go (default: nowhere). */
  telemetry?: Telemetry;
  /** Structured logs (default: JSON lines at info level). */
  logger?: Logger;
  /** Keeps a handler running after its caller stopped waiting (the platform's `waitUntil`). */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Timeout of a dispatch that does not name one (default 5000 ms). */
  defaultTimeoutMs?: number;
};

/** A provider that was tried and asked to try another node, with its reason. */
export type TriedNode = { node: string; reason: Json };

/** What {@link Dispatcher.authorized} answers. */
export type AuthorizedResult = boolean | "service_unavailable";

/** Someone who can serve a message: this Worker's router, or (later) another node. */
type Provider = { node: string; call: (message: Message) => Promise<Message> };

/** The default wait for a reply, as in the original library. */
export const DEFAULT_TIMEOUT_MS = 5000;

/**
 * Finds who offers a service, forwards the message, and waits for the reply. Every failure comes
 * back as a Response value in the returned message (`service_unavailable`, `service_timeout`,
 * `error internal_error`, `error no_nodes_available`); `dispatch` never throws.
 *
 * A dispatcher is cheap: build one per request with that request's `env` and `waitUntil`.
 */
export class Dispatcher<Env = unknown> {
  readonly #registry: ServiceRegistry<Env>;
  readonly #env: Env;
  readonly #node: string;
  readonly #telemetry: Telemetry;
  readonly #logger: Logger;
  readonly #waitUntil: (promise: Promise<unknown>) => void;
  readonly #defaultTimeoutMs: number;

  /** A dispatcher over this Worker's services. */
  constructor(options: DispatcherOptions<Env>) {
    this.#registry = options.services instanceof ServiceRegistry ? options.services : new ServiceRegistry(options.services);
    this.#env = options.env;
    this.#node = options.node ?? "local";
    this.#logger = options.logger ?? jsonLogger();
    this.#telemetry = options.telemetry ?? new Telemetry([], this.#logger);
    this.#waitUntil = options.waitUntil ?? ((promise) => void promise.catch(() => {}));
    this.#defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** This node's name. */
  get node(): string {
    return this.#node;
  }

  /** The public services this dispatcher can reach. */
  publicServices(): string[] {
    return this.#registry.services("public");
  }

  /**
   * Sends `message` to its service and resolves with the reply. A halted message is returned
   * untouched and no service is called.
   */
  async dispatch(message: Message, options: DispatchOptions = {}): Promise<Message> {
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

    const providers = this.#discover(sent.serviceName, options.publicOnly === true);
    if (providers.length === 0) {
      telemetry.emit("service_not_found", finished(startMs), { message: sent, callerNode });
      this.#logger.warn(`[Discovery] Service ${sent.serviceName} NOT found!`, { messageId: sent.id });
      return halt(sent, response.serviceUnavailable(sent.serviceName));
    }

    const tried: TriedNode[] = [];
    let reply = sent;
    for (const provider of providers) {
      const serviceNode = provider.node;
      telemetry.emit("service_found", finished(startMs), { message: sent, callerNode, serviceNode });
      const invokedMs = Date.now();
      telemetry.emit("invoking_service", { start: new Date(invokedMs).toISOString() }, { message: sent, callerNode, serviceNode });
      reply = await this.#call(provider, sent, timeoutMs);
      telemetry.emit("service_responded", finished(invokedMs), { message: reply, callerNode, serviceNode });
      const answer = reply.response;
      if (answer?.status !== "error" || answer.reason !== "try_another_node") return reply;
      tried.push({ node: serviceNode, reason: answer.details ?? null });
      // Every provider tried so far asked for another one: that is the answer unless a later one serves.
      reply = halt(reply, response.error("no_nodes_available", { tried: [...tried] }));
    }
    return reply;
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
   * `service_unavailable`. A hook that throws answers `internal_error`.
   */
  async authorization(message: Message, options: Pick<DispatchOptions, "publicOnly"> = {}): Promise<ServiceResponse> {
    const sent: Message = { ...message, invokedAt: new Date().toISOString() };
    this.#telemetry.emit("checking_if_service_call_is_authorized", { start: sent.invokedAt }, { message: sent, callerNode: this.#node });
    const local = this.#registry.find(sent.serviceName, options.publicOnly === true);
    if (local === undefined) return response.serviceUnavailable(sent.serviceName);
    try {
      return (await local.router.authorization(sent, this.#env)) ?? response.ok();
    } catch (error) {
      this.#logger.error("authorize threw", { service: sent.serviceName, messageId: sent.id, error });
      return response.error("internal_error");
    }
  }

  /** Who offers `service`: this Worker's router wins over every other node. */
  #discover(service: string, publicOnly: boolean): Provider[] {
    const local = this.#registry.find(service, publicOnly);
    if (local === undefined) return [];
    return [{ node: "local", call: (message) => this.#invokeLocal(local.router, message) }];
  }

  #invokeLocal(router: ServiceRouter<Env>, message: Message): Promise<Message> {
    return router.invoke(message, {
      env: this.#env,
      node: this.#node,
      originNode: this.#node,
      telemetry: this.#telemetry,
      logger: withFields(this.#logger, { messageId: message.id, correlationId: message.correlationId, ...message.trace }),
      dispatch: (next, options) => this.dispatch(next, options),
      waitUntil: this.#waitUntil,
    });
  }

  /** One try: the provider's reply, `internal_error` when it failed, or `service_timeout`. */
  async #call(provider: Provider, message: Message, timeoutMs: number): Promise<Message> {
    const service = message.serviceName;
    const answered = provider.call(message).catch((error: unknown) => {
      this.#logger.error("service failed", { service, messageId: message.id, node: provider.node, error });
      return halt(message, response.error("internal_error"));
    });
    // Whichever settles first wins; a reply that comes later is dropped and never reaches the caller.
    return withTimeout(answered, timeoutMs, () => {
      this.#logger.warn("service timed out", { service, messageId: message.id, node: provider.node, timeoutMs });
      return halt(message, response.serviceTimeout(service, message.id, timeoutMs));
    });
  }
}
