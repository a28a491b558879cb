import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { JsonObject } from "../shared/json.js";
import type { Logger } from "../shared/logger.js";
import type { Message } from "./message.js";
import type { ServiceResponse } from "./response.js";
import type { Telemetry } from "./telemetry.js";

/*
 * The types that the router, the service registry and the dispatcher share. They live here, and
 * not in any one of those modules, so that none of the three imports another only for its types
 * (which used to make an import cycle dispatcher → registry → router → dispatcher).
 */

/** Whether a service is visible to other Workers (`public`) or only callable inside its own. */
export type Visibility = "public" | "private";

/** Options of one dispatch. */
export type DispatchOptions = {
  /** How long to wait for the reply, in ms (default: the dispatcher's, 5000). */
  timeoutMs?: number;
  /**
   * Only public services are found: set for calls from outside this Worker (HTTP, other
   * Workers), so that private services look exactly like services nobody offers.
   */
  publicOnly?: boolean;
  /** The node the message comes from (the node entrypoint sets it); default: this node. */
  originNode?: string;
};

/** "Nothing to send now": the handler replies later through `context.reply`, or never. */
export type NoReply = { readonly noReply: true };

/** What a handler returns: the message with its response, or {@link noReply}. */
export type HandlerResult = Message | NoReply;

/** What a service handler can reach besides its message. */
export type ServiceContext<Env> = {
  /** The Worker's bindings (Durable Object namespaces, secrets, vars…). */
  env: Env;
  /** The name of the node (Worker) running the handler. */
  node: string;
  /** A logger whose lines carry the message's ids and trace context. */
  logger: Logger;
  /** Dispatches another message from inside this Worker (private services included). */
  dispatch: (message: Message, options?: DispatchOptions) => Promise<Message>;
  /** Replies later, after the handler returned {@link noReply}; only the first reply counts. */
  reply: (message: Message) => void;
  /** Keeps work running after the reply has been sent (the platform's `waitUntil`). */
  waitUntil: (promise: Promise<unknown>) => void;
};

/** A service handler: gets the message and what the Worker offers it. */
export type ServiceHandler<Env, M extends Message = Message> = (
  message: M,
  context: ServiceContext<Env>,
) => HandlerResult | Promise<HandlerResult>;

/** What the router needs from its caller to run one service call. */
export type InvocationContext<Env> = Omit<ServiceContext<Env>, "reply"> & {
  telemetry: Telemetry;
  /** The node the call comes from. */
  originNode: string;
};

/**
 * What the type of a router knows of one of its services: the request a caller sends (the input
 * type of the service's schema; any JSON object when it has none) and who may see it. It exists
 * only at the type level, for typed clients.
 */
export type ServiceSpec<Request = JsonObject, V extends Visibility = Visibility> = { request: Request; visibility: V };

/** The services a router declares, by name, as its type knows them. */
export type ServiceSpecs = { [service: string]: ServiceSpec<unknown> };

/** One declared service as a router describes it (for API descriptions such as OpenAPI). */
export type ServiceDescription = {
  name: string;
  visibility: Visibility;
  /** The Standard Schema of its raw request, when it has one. */
  schema: StandardSchemaV1 | undefined;
};

/**
 * What the registry and the dispatcher need from a router. A router written for bindings `E`
 * serves any Worker whose bindings include `E` (a `Router<unknown>` serves every Worker).
 */
export interface ServiceRouter<Env> {
  /** Declared service names: public, private, or all (private first). */
  registeredServices(visibility?: Visibility | "all"): string[];
  /** The visibility of a declared service, or undefined. */
  visibilityOf(service: string): Visibility | undefined;
  /** Asks only the authorize hook: null when allowed, else the refusal (may reject if the hook throws). */
  authorization(message: Message, env: Env): Promise<ServiceResponse | null>;
  /** Runs one service call and resolves with its reply. */
  invoke(message: Message, context: InvocationContext<Env>): Promise<Message>;
  /** Every declared service with its visibility and request schema, in declaration order. */
  describe(): ServiceDescription[];
}
