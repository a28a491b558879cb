import type { ServiceHandler, ServiceSpec, ServiceSpecs } from "../messaging/contracts.js";
import { error, halt, newMessage, prepareAggregateId, type DomainEvent } from "../messaging/message.js";
import { response, type ErrorResponse, type ServiceResponse } from "../messaging/response.js";
import { Router, type Authorize } from "../messaging/router.js";
import type { JsonObject } from "../shared/json.js";
import { readKey } from "../shared/keys.js";
import type { Aggregate, CommandDefinition, CommandSpecs } from "./aggregate.js";
import { isPastState } from "./past-state.js";
import type { AggregateClient, DeleteOptions, PastPoint, PastState, StreamPage } from "./aggregate-protocol.js";

/**
 * A command to dry-run against a past state (admin): its name, its request (the aggregate id is
 * filled in), and the assigns of the caller it runs as (`{}`: an anonymous caller).
 */
export type PastCommand = { command: string; request: JsonObject; assigns: JsonObject };

/** Read and delete access to the streams of one aggregate type (for the admin routes). */
export interface StreamAccess<Env> {
  /** The stream name prefix of the aggregate. */
  readonly stream: string;
  /** One page of the events of aggregate `id`. */
  readStream(env: Env, id: string, page: { from: number; limit: number }): Promise<StreamPage>;
  /** Deletes aggregate `id`'s stream. */
  deleteStream(env: Env, id: string, options: DeleteOptions): Promise<ServiceResponse>;
  /**
   * Aggregate `id`'s state at a version or time and, with `command`, that command's dry run against
   * it (see {@link AggregateRouter.stateAt}). Optional: without it the admin routes answer that the
   * aggregate cannot look back.
   */
  stateAt?(env: Env, id: string, point: PastPoint, command?: PastCommand): Promise<PastState | ErrorResponse>;
}

/** Options of {@link aggregateRouter}. */
export type AggregateRouterOptions<Env, Commands extends CommandSpecs, Private extends keyof Commands & string = never> = {
  /**
   * Runs before every command (unless the command has its own). Without it every call is refused
   * with `forbidden`: nothing is callable that the app did not authorize.
   */
  authorize?: Authorize<Env>;
  /** Per command, by its name (a misspelt name does not compile): its own authorize. */
  commands?: { [C in keyof Commands]?: { authorize?: Authorize<Env> } };
  /** Commands callable only from inside this Worker: never listed, never callable from outside. */
  private?: readonly Private[];
};

/** The services an aggregate's commands become, as the router's type knows them (for typed clients). */
export type CommandServices<Commands extends CommandSpecs, Private extends string = never> = {
  [C in keyof Commands & string]: ServiceSpec<Commands[C]["request"], C extends Private ? "private" : "public">;
};

/**
 * A router whose services are the commands of one aggregate; it also reads and deletes that
 * aggregate's streams for the admin routes.
 */
export class AggregateRouter<Env, Services extends ServiceSpecs> extends Router<Env, Services> implements StreamAccess<Env> {
  readonly #stream: string;
  readonly #client: AggregateClient<Env>;
  /** Each command's id field, by command name. */
  readonly #idFields: ReadonlyMap<string, string>;

  /** Use {@link aggregateRouter}. */
  constructor(stream: string, client: AggregateClient<Env>, authorize: Authorize<Env>, idFields: ReadonlyMap<string, string> = new Map()) {
    super({ authorize });
    this.#stream = stream;
    this.#client = client;
    this.#idFields = idFields;
  }

  /** The stream name prefix of the aggregate. */
  get stream(): string {
    return this.#stream;
  }

  /** The stream name of aggregate `id`: `<stream>-<id>`. */
  streamName(id: string): string {
    return `${this.#stream}-${id}`;
  }

  /** One page of the events of aggregate `id`. */
  readStream(env: Env, id: string, page: { from: number; limit: number }): Promise<StreamPage> {
    return this.#client.readStream(env, this.streamName(id), page);
  }

  /** Deletes aggregate `id`'s stream: soft (answers `not_found` from now on) or hard (storage removed). */
  deleteStream(env: Env, id: string, options: DeleteOptions): Promise<ServiceResponse> {
    return this.#client.deleteStream(env, this.streamName(id), options);
  }

  /**
   * Aggregate `id`'s state at a version or time (see `PastState`) and, with `command`, what that
   * command would have answered there: a dry run, nothing stored. The command is one of the
   * router's public commands (private ones are not callable from outside the Worker, so they are
   * not here either). Its request names this aggregate (its id field is filled in), and it is
   * judged as a live call by the caller `command.assigns` describe would be: the router's
   * `authorize` first — a refusal is the dry run's answer — then, in the instance, the command's
   * schema, the aggregate's `access` rule and the decision, on the state at that version.
   */
  async stateAt(env: Env, id: string, point: PastPoint, command?: PastCommand): Promise<PastState | ErrorResponse> {
    const lookBack = this.#client.stateAt?.bind(this.#client);
    if (lookBack === undefined) return response.error("invalid_request", `the ${this.#stream} aggregates' client cannot look back (it has no stateAt)`);
    const streamName = this.streamName(id);
    if (command === undefined) return lookBack(env, streamName, { point });
    const idField = this.#idFields.get(command.command);
    if (idField === undefined || this.visibilityOf(command.command) !== "public") {
      return response.error("invalid_request", { problem: `${command.command} is not a public command of ${this.#stream}`, commands: this.registeredServices("public") });
    }
    const named = command.request[idField];
    if (named !== undefined && String(named) !== id) return response.error("invalid_request", `the request's ${idField} names another aggregate than ${id}`);
    const message = newMessage(command.command, { rawRequest: { ...command.request, [idField]: id }, assigns: command.assigns, dryRun: true, aggregateMeta: { id } });
    const denial = await this.authorization(message, env);
    if (denial === null) return lookBack(env, streamName, { point, dryRun: { command: command.command, message } });
    // Refused before the aggregate is asked, as a live call would be: the state is still shown.
    const past = await lookBack(env, streamName, { point });
    return isPastState(past) ? { ...past, dryRun: { response: denial, events: [] } } : past;
  }
}

/**
 * Exposes every command of `aggregate` as a service of one router, each under the command's
 * name: the router authorizes the call, reads the aggregate id from the command's id field,
 * and sends the command to that instance through `client`, where the command's schema checks the
 * request before anything is loaded (for example `durableObjectAggregates((env) => env.ACCOUNTS)`). Replies carry the
 * version: `{ok, version}`, `{created, id, version}`, or the refusal.
 *
 * ```ts
 * export const bank = aggregateRouter(account, durableObjectAggregates((env: Env) => env.ACCOUNTS), {
 *   authorize: (message) => (message.assigns["identity"] === undefined ? "unauthorized" : "ok"),
 *   private: ["audit"],
 * });
 * ```
 */
export function aggregateRouter<
  Env,
  State,
  Event extends DomainEvent,
  Commands extends CommandSpecs,
  const Private extends keyof Commands & string = never,
>(
  aggregate: Aggregate<State, Event, Commands>,
  // The second member is never a value: its one key is the hint TypeScript shows when something
  // else is passed (the namespace itself, a router), written out so that the error shows it.
  clientOrHint:
    | AggregateClient<Env>
    | { readonly "pass an AggregateClient: durableObjectAggregates((env) => env.ACCOUNTS), or new MemoryAggregates(aggregate)": never },
  options: AggregateRouterOptions<Env, Commands, Private> = {},
): AggregateRouter<Env, CommandServices<Commands, Private>> {
  const client = aggregateClientOf(clientOrHint);
  const own: { [command: string]: { authorize?: Authorize<Env> } | undefined } = options.commands ?? {};
  const hidden = new Set<string>(options.private ?? []);
  const fallback = options.authorize ?? (() => "forbidden" as const);
  const authorize: Authorize<Env> = (message, context) => (own[message.serviceName]?.authorize ?? fallback)(message, context);
  const idFields = new Map<string, string>();
  const router = new AggregateRouter<Env, CommandServices<Commands, Private>>(aggregate.stream, client, authorize, idFields);
  for (const name of aggregate.commandNames) {
    const command = aggregate.commandNamed(name);
    if (command === undefined) continue;
    idFields.set(name, command.idField);
    const handler = commandHandler(aggregate.stream, command, client);
    // The instance validates (after the id is read here, as the contract orders the answers),
    // before it loads anything; the router's entry only describes the request.
    const schema = command.schema;
    if (hidden.has(name)) {
      if (schema === undefined) router.privateService(name, handler);
      else router.privateService(name, { schema, validate: false }, handler);
    } else if (schema === undefined) router.service(name, handler);
    else router.service(name, { schema, validate: false }, handler);
  }
  return router;
}

/**
 * The service that sends one command to its aggregate: the id from the request (or the message
 * id, for commands that may generate it), checked and normalised, then the instance's reply.
 */
function commandHandler<Env, State, Event extends DomainEvent>(
  stream: string,
  command: CommandDefinition<State, Event>,
  client: AggregateClient<Env>,
): ServiceHandler<Env> {
  return async (message, context) => {
    const prepared = prepareAggregateId(message, command.idField, { generateIfMissing: command.generateId });
    if (prepared.halted) return prepared;
    const id = readKey(prepared.aggregateMeta.id);
    if (!id.ok) return error(prepared, "invalid_id", { field: command.idField, problem: id.problem });
    // The command's schema runs once, in the instance, before anything is loaded: it must run
    // there anyway (a schema's output need not survive the hop to an object), so running it here
    // too would only double its cost. Whatever another schema made of the request before (a
    // handler forwarding its own validated message) is dropped: this command's schema decides.
    const target = { ...prepared, request: null, valid: false, aggregateMeta: { ...prepared.aggregateMeta, id: id.key } };
    const streamName = `${stream}-${id.key}`;
    try {
      return await client.execute(context.env, { streamName, command: command.name, message: target });
    } catch (failure) {
      context.logger.error("aggregate unreachable", { stream: streamName, error: failure });
      return halt(prepared, response.error("internal_error"));
    }
  };
}

/** `value` as an AggregateClient, or a TypeError that says what to pass (for JavaScript callers). */
function aggregateClientOf<Env>(value: AggregateClient<Env> | object): AggregateClient<Env> {
  if (typeof value === "object" && value !== null && "execute" in value && "readStream" in value && "deleteStream" in value) return value as AggregateClient<Env>;
  throw new TypeError("aggregateRouter takes an AggregateClient: durableObjectAggregates((env) => env.ACCOUNTS), or new MemoryAggregates(aggregate)");
}
