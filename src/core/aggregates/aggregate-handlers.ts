import type { Aggregate } from "./aggregate.js";
import { readKey } from "../shared/keys.js";
import {
  type AggregateClient,
  type CommandMode,
  type DeleteOptions,
  type StreamPage,
} from "./aggregate-protocol.js";
import { error, halt, prepareAggregateId, type DomainEvent } from "../messaging/message.js";
import { response, type ServiceResponse } from "../messaging/response.js";
import type { ServiceHandler } from "../messaging/contracts.js";

/**
 * Options of a message handler. How long the Worker waits for the aggregate is the dispatch's
 * timeout (5000 ms by default), like for any other service.
 */
export type MessageHandlerOptions = {
  /** The raw-request field that holds the aggregate id (default `"id"`). */
  id?: string;
  /** `onMaybeNewAggregate` only: use the message id when the id field is missing (default false). */
  generateIdIfMissing?: boolean;
};

/** Read and delete access to the streams of one aggregate type (for admin routes). */
export interface StreamAccess<Env> {
  /** The stream name prefix of the aggregate. */
  readonly stream: string;
  /** One page of the events of aggregate `id`. */
  readStream(env: Env, id: string, page: { from: number; limit: number }): Promise<StreamPage>;
  /** Deletes aggregate `id`'s stream. */
  deleteStream(env: Env, id: string, options: DeleteOptions): Promise<ServiceResponse>;
}

/**
 * Turns the commands of an aggregate into router services: each handler reads the aggregate id
 * from the request, sends the command to that instance through `client`, and answers with its
 * reply (`{ok, version}`, `{created, id, version}`, an error…).
 *
 * ```ts
 * const accounts = aggregateHandlers(account, durableObjectAggregates((env: Env) => env.ACCOUNTS));
 * router.service("deposit", accounts.onAggregate("deposit", { id: "account_id" }));
 * ```
 */
export class AggregateHandlers<Env, State, Event extends DomainEvent, Commands extends string> implements StreamAccess<Env> {
  /** The aggregate whose commands these handlers send. */
  readonly aggregate: Aggregate<State, Event, Commands>;
  /** How instances are reached. */
  readonly client: AggregateClient<Env>;

  /** Handlers for `aggregate`'s commands, sent through `client`. */
  constructor(aggregate: Aggregate<State, Event, Commands>, client: AggregateClient<Env>) {
    this.aggregate = aggregate;
    this.client = client;
  }

  /**
   * A command that creates an aggregate: the id comes from the request or is generated; an id that
   * already has events answers `wrong_expected_version` with the actual version.
   */
  onNewAggregate(command: Commands, options: MessageHandlerOptions = {}): ServiceHandler<Env> {
    return this.#handler("new", command, options);
  }

  /** A command for an existing aggregate: a missing id answers `missing_id`, an unknown one `not_found`. */
  onAggregate(command: Commands, options: MessageHandlerOptions = {}): ServiceHandler<Env> {
    return this.#handler("existing", command, options);
  }

  /** A command that creates the aggregate when it does not exist yet. */
  onMaybeNewAggregate(command: Commands, options: MessageHandlerOptions = {}): ServiceHandler<Env> {
    return this.#handler("maybe", command, options);
  }

  /** The stream name prefix of the aggregate. */
  get stream(): string {
    return this.aggregate.stream;
  }

  /** The stream name of aggregate `id`: `<stream>-<id>`. */
  streamName(id: string): string {
    return `${this.aggregate.stream}-${id}`;
  }

  /** One page of the events of aggregate `id`. */
  readStream(env: Env, id: string, page: { from: number; limit: number }): Promise<StreamPage> {
    return this.client.readStream(env, this.streamName(id), page);
  }

  /** Deletes aggregate `id`'s stream: soft (answers `not_found` from now on) or hard (storage removed). */
  deleteStream(env: Env, id: string, options: DeleteOptions): Promise<ServiceResponse> {
    return this.client.deleteStream(env, this.streamName(id), options);
  }

  #handler(mode: CommandMode, command: Commands, options: MessageHandlerOptions): ServiceHandler<Env> {
    const idField = options.id ?? "id";
    const generateIfMissing = mode === "new" || (mode === "maybe" && options.generateIdIfMissing === true);
    return async (message, context) => {
      const prepared = prepareAggregateId(message, idField, { generateIfMissing });
      if (prepared.halted) return prepared;
      const id = readKey(prepared.aggregateMeta.id);
      if (!id.ok) return error(prepared, "invalid_id", { field: idField, problem: id.problem });
      const target = { ...prepared, aggregateMeta: { ...prepared.aggregateMeta, id: id.key } };
      try {
        return await this.client.execute(context.env, { streamName: this.streamName(id.key), command, mode, message: target });
      } catch (failure) {
        context.logger.error("aggregate unreachable", { stream: this.streamName(id.key), error: failure });
        return halt(prepared, response.error("internal_error"));
      }
    };
  }
}

/** Handlers for the commands of `aggregate`, reached through `client`. */
export function aggregateHandlers<Env, State, Event extends DomainEvent, Commands extends string>(
  aggregate: Aggregate<State, Event, Commands>,
  client: AggregateClient<Env>,
): AggregateHandlers<Env, State, Event, Commands> {
  return new AggregateHandlers(aggregate, client);
}
