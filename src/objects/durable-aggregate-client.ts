import type { AggregateClient, CommandRequest, DeleteOptions, StreamPage } from "../core/aggregates/aggregate-protocol.js";
import { messageProblem, type Message } from "../core/messaging/message.js";
import type { ServiceResponse } from "../core/messaging/response.js";
import { AGGREGATE_ORIGIN, AGGREGATE_PATHS } from "./aggregate-paths.js";

/**
 * Reaches the instances of one aggregate type in a Durable Object namespace: each stream
 * `<stream>-<id>` lives in the object named after it, reached with `stub.fetch` carrying JSON.
 * A transport failure (the object cannot be reached, or answers garbage) rejects; the message
 * handlers turn that into `internal_error`.
 */
export function durableObjectAggregates<Env>(namespace: (env: Env) => DurableObjectNamespace): AggregateClient<Env> {
  const stubOf = (env: Env, streamName: string) => {
    const ns = namespace(env);
    return ns.get(ns.idFromName(streamName));
  };
  return {
    async execute(env: Env, request: CommandRequest): Promise<Message> {
      const answer = await stubOf(env, request.streamName).fetch(`${AGGREGATE_ORIGIN}${AGGREGATE_PATHS.command}`, {
        method: "POST",
        body: JSON.stringify(request),
        headers: { "Content-Type": "application/json" },
      });
      const body = await bodyOf(answer);
      const message = (body as { message?: unknown }).message;
      const problem = messageProblem(message);
      if (problem !== null) throw new Error(`aggregate ${request.streamName} answered a bad message: ${problem}`);
      return message as Message;
    },

    async readStream(env: Env, streamName: string, page: { from: number; limit: number }): Promise<StreamPage> {
      const query = new URLSearchParams({ stream: streamName, from: String(page.from), limit: String(page.limit) });
      const answer = await stubOf(env, streamName).fetch(`${AGGREGATE_ORIGIN}${AGGREGATE_PATHS.events}?${query}`);
      return (await bodyOf(answer)) as StreamPage;
    },

    async deleteStream(env: Env, streamName: string, options: DeleteOptions): Promise<ServiceResponse> {
      const answer = await stubOf(env, streamName).fetch(`${AGGREGATE_ORIGIN}${AGGREGATE_PATHS.delete}`, {
        method: "POST",
        body: JSON.stringify({ streamName, ...options }),
        headers: { "Content-Type": "application/json" },
      });
      return ((await bodyOf(answer)) as { response: ServiceResponse }).response;
    },
  };
}

async function bodyOf(answer: Response): Promise<unknown> {
  const text = await answer.text();
  if (!answer.ok) throw new Error(`aggregate object answered ${answer.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as unknown;
}
