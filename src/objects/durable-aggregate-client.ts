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
import { PROTOCOL_BASE_URL, through, trustedAnswer } from "./hono-protocol.js";

/**
 * Reaches the instances of one aggregate type in a Durable Object namespace: each stream
 * `<stream>-<id>` lives in the object named after it, reached through Hono's typed client over
 * `stub.fetch` ({@link AggregateRoutes}). The object is this Worker's own code, so its answers
 * are trusted as they are. A transport failure (the object cannot be reached, or refuses the
 * request) rejects; the message handlers turn that into `internal_error`.
 */
export function durableObjectAggregates<Env>(namespace: (env: Env) => DurableObjectNamespace): AggregateClient<Env> {
  const objectOf = (env: Env, streamName: string) => {
    const ns = namespace(env);
    return hc<AggregateRoutes>(PROTOCOL_BASE_URL, through(ns.get(ns.idFromName(streamName))));
  };
  return {
    async execute(env: Env, request: CommandRequest): Promise<Message> {
      const answer = await objectOf(env, request.streamName).command.$post({ json: request });
      // The object answers only what it adds to the message (its answer, events, version).
      return replyMessage(request.message, (await trustedAnswer<{ reply: CommandReply }>(answer, request.streamName)).reply);
    },

    async readStream(env: Env, streamName: string, page: { from: number; limit: number }): Promise<StreamPage> {
      const query = { stream: streamName, from: String(page.from), limit: String(page.limit) };
      return trustedAnswer<StreamPage>(await objectOf(env, streamName).events.$get({ query }), streamName);
    },

    async deleteStream(env: Env, streamName: string, options: DeleteOptions): Promise<ServiceResponse> {
      const answer = await objectOf(env, streamName).delete.$post({ json: { streamName, ...options } });
      return (await trustedAnswer<{ response: ServiceResponse }>(answer, streamName)).response;
    },
  };
}
