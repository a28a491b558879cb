import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { JsonObject } from "../shared/json.js";
import type {
  InvocationContext,
  NoReply,
  ServiceDescription,
  ServiceHandler,
  ServiceRouter,
  ServiceSpec,
  ServiceSpecs,
  Visibility,
} from "./contracts.js";
import { halt, validateRequest, type DomainEvent, type Message } from "./message.js";
import { response, type DenialResponse, type ServiceResponse } from "./response.js";
import { finished } from "./telemetry.js";

/** Return this from a handler that will reply later (or not at all). */
export const noReply: NoReply = Object.freeze({ noReply: true });

/** A message whose request passed its schema: `request` is the schema's parsed output. */
export type ValidatedMessage<Request, Event extends DomainEvent = DomainEvent> = Message<Request, Event> & {
  request: Request;
  valid: true;
};

/**
 * What `authorize` answers: `"ok"` lets the call through; `"forbidden"` and `"unauthorized"`
 * refuse it with that status; a denial response (`{status: "error", reason}`, or forbidden or
 * unauthorized with a reason) refuses it with exactly that response.
 */
export type AuthorizeResult = "ok" | "forbidden" | "unauthorized" | DenialResponse;

/** What `authorize` can see besides the message. */
export type AuthorizeContext<Env> = { env: Env; visibility: Visibility };

/** Decides whether a message may reach its service. Runs before every call. */
export type Authorize<Env> = (
  message: Message,
  context: AuthorizeContext<Env>,
) => AuthorizeResult | Promise<AuthorizeResult>;

/** Options of a {@link Router}. */
export type RouterOptions<Env> = {
  /**
   * Runs before every call of every service of this router. Without it every call is refused
   * with `forbidden`: nothing is callable that the app did not authorize.
   */
  authorize?: Authorize<Env>;
};

/** Options of one service. */
export type ServiceOptions<S extends StandardSchemaV1> = {
  /**
   * A Standard Schema validator (zod, valibot, arktype…) for `rawRequest`. It runs after
   * `authorize`; an invalid request is answered `validation_error` and the handler is not called.
   */
  schema: S;
  /**
   * `false`: the router does not run the schema — the handler validates the request itself, at
   * the point it chooses (the schema still describes the request, e.g. in API descriptions).
   * Default true.
   */
  validate?: boolean;
};

type Entry<Env> = {
  visibility: Visibility;
  handler: ServiceHandler<Env>;
  schema: StandardSchemaV1 | undefined;
  /** Whether the router runs the schema before the handler. */
  validate: boolean;
};

const denyByDefault = (): AuthorizeResult => "forbidden";

/** The services a router's type knows (see {@link Router}), for typed clients. */
export type ServicesOf<R> = R extends { readonly "~services": infer Services extends ServiceSpecs } ? Services : never;

/**
 * Declares the services a Worker offers: public ones (visible to other Workers and to HTTP
 * callers) and private ones (callable only from inside this Worker), each mapped to a handler.
 *
 * ```ts
 * const router = new Router<Env>({ authorize: () => "ok" })
 *   .service("greet", (message) => ok(message, `Hello, ${String(message.rawRequest?.name)}!`));
 * ```
 */
export class Router<Env = unknown, Services extends ServiceSpecs = {}> implements ServiceRouter<Env> {
  /**
   * The services this router declares, as its type knows them, for typed clients
   * (`ServicesOf<typeof router>`). A type-level marker only: it has no value at run time.
   */
  declare readonly "~services": Services;
  readonly #services = new Map<string, Entry<Env>>();
  readonly #authorize: Authorize<Env>;

  /** A router with no services yet. */
  constructor(options: RouterOptions<Env> = {}) {
    this.#authorize = options.authorize ?? denyByDefault;
  }

  /** Declares a public service (its raw request reaches the handler unchecked). */
  service<N extends string>(name: N, handler: ServiceHandler<Env>): Router<Env, Services & { [K in N]: ServiceSpec<JsonObject, "public"> }>;
  /** Declares a public service whose raw request is validated by `options.schema`. */
  service<N extends string, S extends StandardSchemaV1>(
    name: N,
    options: ServiceOptions<S>,
    handler: ServiceHandler<Env, ValidatedMessage<StandardSchemaV1.InferOutput<S>>>,
  ): Router<Env, Services & { [K in N]: ServiceSpec<StandardSchemaV1.InferInput<S>, "public"> }>;
  service<N extends string, S extends StandardSchemaV1>(
    name: N,
    optionsOrHandler: ServiceOptions<S> | ServiceHandler<Env>,
    handler?: ServiceHandler<Env, ValidatedMessage<StandardSchemaV1.InferOutput<S>>>,
  ): Router<Env, Services & { [K in N]: ServiceSpec<unknown, "public"> }> {
    return this.#declare("public", name, optionsOrHandler, handler);
  }

  /** Declares a private service: never announced, never callable from outside this Worker. */
  privateService<N extends string>(name: N, handler: ServiceHandler<Env>): Router<Env, Services & { [K in N]: ServiceSpec<JsonObject, "private"> }>;
  /** Declares a private service whose raw request is validated by `options.schema`. */
  privateService<N extends string, S extends StandardSchemaV1>(
    name: N,
    options: ServiceOptions<S>,
    handler: ServiceHandler<Env, ValidatedMessage<StandardSchemaV1.InferOutput<S>>>,
  ): Router<Env, Services & { [K in N]: ServiceSpec<StandardSchemaV1.InferInput<S>, "private"> }>;
  privateService<N extends string, S extends StandardSchemaV1>(
    name: N,
    optionsOrHandler: ServiceOptions<S> | ServiceHandler<Env>,
    handler?: ServiceHandler<Env, ValidatedMessage<StandardSchemaV1.InferOutput<S>>>,
  ): Router<Env, Services & { [K in N]: ServiceSpec<unknown, "private"> }> {
    return this.#declare("private", name, optionsOrHandler, handler);
  }

  /**
   * The names of the declared services, in declaration order: `"public"`, `"private"`, or
   * `"all"` (private ones first, then public ones, as in the original library).
   */
  registeredServices(visibility: Visibility | "all" = "all"): string[] {
    const named = (v: Visibility) =>
      [...this.#services].filter(([, entry]) => entry.visibility === v).map(([name]) => name);
    return visibility === "all" ? [...named("private"), ...named("public")] : named(visibility);
  }

  /** The visibility of a declared service, or undefined when this router does not offer it. */
  visibilityOf(service: string): Visibility | undefined {
    return this.#services.get(service)?.visibility;
  }

  /**
   * Asks only the authorize hook: null when it lets the call through, otherwise the response that
   * refuses it (`service_unavailable` for a service this router does not declare). Rejects when
   * the hook throws.
   */
  async authorization(message: Message, env: Env): Promise<ServiceResponse | null> {
    const entry = this.#services.get(message.serviceName);
    if (entry === undefined) return response.serviceUnavailable(message.serviceName);
    return toDenial(await this.#authorize(message, { env, visibility: entry.visibility }));
  }

  /**
   * Runs one service call: telemetry, authorize, request validation, the handler. Resolves with
   * the first reply (request stripped; events stripped unless a verbose dry run). Rejects when
   * authorize or the handler throws, or the handler returns something that is not a reply to
   * this message. Never resolves when the handler returns {@link noReply} and never replies:
   * the caller's timeout covers that.
   */
  async invoke(message: Message, context: InvocationContext<Env>): Promise<Message> {
    const { telemetry } = context;
    const service = message.serviceName;
    const entry = this.#services.get(service);
    if (entry === undefined) return halt(strip(message), response.serviceUnavailable(service));
    if (telemetry.active) telemetry.emit("service_request_received", {}, {
      service,
      visibility: entry.visibility,
      originNode: context.originNode,
    });

    const denial = await this.authorization(message, context.env);
    if (denial !== null) return strip(halt(message, denial));

    const validated = entry.schema === undefined || !entry.validate ? message : await validateRequest(message, entry.schema);
    if (validated.halted) return strip(validated);

    const startMs = Date.now();
    if (telemetry.active) telemetry.emit("executing_service", { start: new Date(startMs).toISOString() }, { node: context.node, service });

    return new Promise<Message>((resolve, reject) => {
      const call = { settled: false };
      const settle = firstReplyOf(call, () => context.logger.warn("reply ignored: this message was already answered", { service }), (result) => {
        const problem = badReply(result, message);
        if (problem !== null) {
          reject(new Error(`service ${service}: ${problem}`));
          return;
        }
        const reply = strip(result as Message);
        if (telemetry.active) telemetry.emit("execution_finished", finished(startMs), { message: reply });
        resolve(reply);
      });
      const execution = Promise.resolve()
        .then(() => entry.handler(validated, { ...context, reply: settle }))
        .then(
          (result) => {
            if (result !== noReply) settle(result);
          },
          (error: unknown) => {
            if (call.settled) {
              context.logger.error("service handler threw after replying", { service, error });
              return;
            }
            call.settled = true;
            reject(error);
          },
        );
      // The handler keeps running when the caller stops waiting (a timeout): keep it alive.
      context.waitUntil(execution);
    });
  }

  /** Every declared service with its visibility and request schema, in declaration order. */
  describe(): ServiceDescription[] {
    return [...this.#services].map(([name, entry]) => ({ name, visibility: entry.visibility, schema: entry.schema }));
  }

  #declare<S extends StandardSchemaV1, More extends ServiceSpecs>(
    visibility: Visibility,
    name: string,
    optionsOrHandler: ServiceOptions<S> | ServiceHandler<Env>,
    handler: ServiceHandler<Env, ValidatedMessage<StandardSchemaV1.InferOutput<S>>> | undefined,
  ): Router<Env, Services & More> {
    if (name === "") throw new Error("a service needs a non-empty name");
    if (this.#services.has(name)) throw new Error(`service ${name} is declared twice`);
    if (typeof optionsOrHandler === "function") {
      this.#services.set(name, { visibility, handler: optionsOrHandler, schema: undefined, validate: false });
    } else {
      if (handler === undefined) throw new Error(`service ${name} needs a handler`);
      // The schema guarantees that the handler only ever sees a request of its output type.
      this.#services.set(name, {
        visibility,
        handler: handler as ServiceHandler<Env>,
        schema: optionsOrHandler.schema,
        validate: optionsOrHandler.validate !== false,
      });
    }
    // The same router, whose type now knows one more service.
    return this as unknown as Router<Env, Services & More>;
  }
}

/** A reply leaves without its request, and without events unless the caller asked to see them. */
function strip(message: Message): Message {
  return { ...message, request: null, events: message.dryRun === "verbose" ? message.events : [] };
}

function toDenial(result: AuthorizeResult): ServiceResponse | null {
  if (result === "ok") return null;
  if (result === "forbidden") return response.forbidden();
  if (result === "unauthorized") return response.unauthorized();
  if (typeof result === "object" && result !== null) {
    if (result.status === "forbidden" || result.status === "unauthorized" || result.status === "error") return result;
  }
  // Anything else (a JavaScript caller returning true, a typo…) refuses: deny by default.
  return response.forbidden();
}

function badReply(result: unknown, message: Message): string | null {
  if (typeof result !== "object" || result === null) return "handler returned neither a message nor noReply";
  const reply = result as Partial<Message>;
  if (reply.id !== message.id) return "handler replied with a different message (its id differs)";
  if (reply.response === null || reply.response === undefined) return "handler replied without a response";
  return null;
}

/**
 * A service call's `reply`: the first reply goes to `first`, any later one to `late`; `call`
 * records that it was answered. Returned from here rather than written as a named arrow in
 * `invoke`, which runs for every service call (see ARCHITECTURE.md, "Hot paths").
 */
function firstReplyOf(call: { settled: boolean }, late: () => void, first: (result: unknown) => void): (result: unknown) => void {
  return (result) => {
    if (call.settled) {
      late();
      return;
    }
    call.settled = true;
    first(result);
  };
}
