import * as v from "valibot";
import type { Message } from "../../core/messaging/message.js";
import { MessageSchema } from "../../core/messaging/message-schema.js";
import { NodeFailure, UnencodableMessage, type RemoteNode } from "../../core/messaging/node-directory.js";
import type { ServiceResponse } from "../../core/messaging/response.js";
import { hc, type ClientRequestOptions } from "hono/client";
import { PROTOCOL_BASE_URL } from "../../protocol/hono-protocol.js";
import type { NodeRoutes } from "../../protocol/node-routes.js";

/**
 * Other nodes, as configured: node name → the service binding (to the node's `X3mNode`-style
 * entrypoint) in this Worker's env. A binding missing from env leaves its node out.
 */
export type NodeBindings<Env> = { readonly [node: string]: (env: Env) => Fetcher | undefined };

/** The nodes of `bindings` that exist in `env`, reached through their service bindings. */
export function remoteNodesOf<Env>(bindings: NodeBindings<Env> | undefined, env: Env): RemoteNode[] {
  if (bindings === undefined) return [];
  return Object.entries(bindings).flatMap(([name, binding]) => {
    const fetcher = binding(env);
    return fetcher === undefined ? [] : [serviceBindingNode(name, fetcher)];
  });
}

/** What the typed client answers, as far as this adapter reads it. */
type Answer = { ok: boolean; status: number; text(): Promise<string> };

// Another Worker is another trust domain: its answers are checked here, once, by schema.
const ServicesReply = v.object({ services: v.array(v.string()) });
const DispatchReply = v.object({ message: MessageSchema });
const AuthorizationReply = v.object({ response: v.looseObject({ status: v.string() }) });

/**
 * A {@link RemoteNode} behind a service binding: the node protocol ({@link nodeRoutes}) through
 * Hono's typed client over `fetcher.fetch`. Anything but a well-formed 2xx answer rejects with a
 * {@link NodeFailure} (the dispatcher then tries another node); a message that cannot even be
 * encoded rejects with {@link UnencodableMessage}, which is no node's fault.
 */
export function serviceBindingNode(name: string, fetcher: Fetcher): RemoteNode {
  const client = hc<NodeRoutes>(PROTOCOL_BASE_URL, { fetch: fetcher.fetch.bind(fetcher) });

  /**
   * Sends one request and reads its JSON answer. `send` builds the request (and encodes it) and
   * sends it through the `fetch` it is given — one per call, so that whether this call reached
   * the binding is never confused with another call's.
   */
  const call = async <S extends v.GenericSchema>(send: (options: ClientRequestOptions) => Promise<Answer>, schema: S): Promise<v.InferOutput<S>> => {
    let reached = false;
    const fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      reached = true;
      return fetcher.fetch(input, init);
    }) as typeof globalThis.fetch;
    let answer: Answer;
    let text: string;
    try {
      answer = await send({ fetch });
      text = await answer.text();
    } catch (error) {
      const problem = error instanceof Error ? error.message : String(error);
      // The client failed before it reached the binding: the message could not be encoded.
      if (!reached) throw new UnencodableMessage(problem);
      throw new NodeFailure("unreachable", `node ${name} unreachable: ${problem}`);
    }
    if (!answer.ok) throw new NodeFailure("unreachable", `node ${name} answered ${answer.status}: ${text.slice(0, 200)}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new NodeFailure("bad_reply", `node ${name} answered something that is not JSON: ${text.slice(0, 200)}`);
    }
    const parsed = v.safeParse(schema, body);
    if (!parsed.success) throw new NodeFailure("bad_reply", `node ${name} answered out of protocol: ${parsed.issues[0].message}`);
    return parsed.output;
  };

  return {
    name,
    async services(): Promise<string[]> {
      return (await call((options) => client.x3m.node.services.$get(undefined, options), ServicesReply)).services;
    },
    async dispatch(message: Message, options: { timeoutMs: number; callerNode: string }): Promise<Message> {
      return (await call((request) => client.x3m.node.dispatch.$post({ json: { message, ...options } }, request), DispatchReply)).message;
    },
    async authorization(message: Message): Promise<ServiceResponse> {
      const { response } = await call((options) => client.x3m.node.authorization.$post({ json: { message } }, options), AuthorizationReply);
      // The status was checked; the rest of a response is the node's own JSON.
      return response as ServiceResponse;
    },
  };
}
