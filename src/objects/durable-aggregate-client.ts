import { hc } from "hono/client";
import {
  replyMessage,
  type AggregateClient,
  type CommandReply,
  type CommandRequest,
  type DeleteOptions,
  type StreamPage,
} from "../core/aggregates/aggregate-protocol.js";
import type { Message } from "../core/messaging/message.js";
import type { ServiceResponse } from "../core/messaging/response.js";
import type { AggregateRoutes } from "./aggregate-routes.js";
import { PROTOCOL_BASE_URL, through, trustedAnswer } from "../protocol/hono-protocol.js";
import { namespaceOf } from "./namespace-of.js";

/**
 * The typed client of the AggregateObject protocol, made once: each call is given the `fetch` of
 * the object it goes to (a stub belongs to the request that made it, so stubs are never kept).
 */
const client = hc<AggregateRoutes>(PROTOCOL_BASE_URL);
/** The command route's call, taken from the client once: each `client.command.$post` makes two proxies. */
const postCommand = client.command.$post;

/**
 * Reaches the instances of one aggregate type in a Durable Object namespace: each stream
 * `<stream>-<id>` lives in the object named after it, reached through Hono's typed client over
 * `stub.fetch` ({@link AggregateRoutes}). The object is this Worker's own code, so its answers
 * are trusted as they are. A transport failure (the object cannot be reached, or refuses the
 * request) rejects; the message handlers turn that into `internal_error`.
 */
export function durableObjectAggregates<Env>(
  // Written out, not aliased, so that TypeScript's error for a namespace passed here shows the hint.
  binding: ((env: Env) => DurableObjectNamespace) | { readonly "pass a function of env, e.g. (env) => env.ACCOUNTS, not the namespace": never },
): AggregateClient<Env> {
  const namespace = namespaceOf(binding, "durableObjectAggregates");
  /** The options that send a request to the object holding `streamName`. */
  const objectOf = (env: Env, streamName: string) => {
    const ns = namespace(env);
    return through(ns.get(ns.idFromName(streamName)));
  };
  return {
    async execute(env: Env, request: CommandRequest): Promise<Message> {
      // The parsed request stays here: a schema's output need not be JSON (a Date, a Map) and would
      // not survive the hop; the instance parses the raw request again, as the schema says.
      const sent = { ...request, message: { ...request.message, request: null } };
      const answer = await postCommand({ json: sent }, objectOf(env, request.streamName));
      // The object answers only what it adds to the message (its answer, events, version).
      return replyMessage(request.message, (await trustedAnswer<{ reply: CommandReply }>(answer, request.streamName)).reply);
    },

    async readStream(env: Env, streamName: string, page: { from: number; limit: number }): Promise<StreamPage> {
      const query = { stream: streamName, from: String(page.from), limit: String(page.limit) };
      return trustedAnswer<StreamPage>(await client.events.$get({ query }, objectOf(env, streamName)), streamName);
    },

    async deleteStream(env: Env, streamName: string, options: DeleteOptions): Promise<ServiceResponse> {
      const answer = await client.delete.$post({ json: { streamName, ...options } }, objectOf(env, streamName));
      return (await trustedAnswer<{ response: ServiceResponse }>(answer, streamName)).response;
    },
  };
}
