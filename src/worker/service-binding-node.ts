import { messageProblem, type Message } from "../core/messaging/message.js";
import { NodeFailure, type RemoteNode } from "../core/messaging/node-directory.js";
import type { ServiceResponse } from "../core/messaging/response.js";
import { NODE_ORIGIN, NODE_PATHS } from "./node-protocol.js";

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

/**
 * A {@link RemoteNode} behind a service binding: the node protocol over `fetcher.fetch`, JSON both
 * ways. Anything but a well-formed 2xx answer rejects (the dispatcher then tries another node).
 */
export function serviceBindingNode(name: string, fetcher: Fetcher): RemoteNode {
  const call = async (path: string, body?: object): Promise<unknown> => {
    let answer: Response;
    let text: string;
    try {
      answer = await fetcher.fetch(
        `${NODE_ORIGIN}${path}`,
        body === undefined ? {} : { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } },
      );
      text = await answer.text();
    } catch (error) {
      throw new NodeFailure("unreachable", `node ${name} unreachable: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!answer.ok) throw new NodeFailure("unreachable", `node ${name} answered ${answer.status}: ${text.slice(0, 200)}`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new NodeFailure("bad_reply", `node ${name} answered something that is not JSON: ${text.slice(0, 200)}`);
    }
  };
  return {
    name,
    async services(): Promise<string[]> {
      const { services } = (await call(NODE_PATHS.services)) as { services?: unknown };
      if (!Array.isArray(services) || !services.every((s) => typeof s === "string")) {
        throw new NodeFailure("bad_reply", `node ${name} listed its services wrongly`);
      }
      return services as string[];
    },
    async dispatch(message: Message, options: { timeoutMs: number; callerNode: string }): Promise<Message> {
      const { message: reply } = (await call(NODE_PATHS.dispatch, { message, ...options })) as { message?: unknown };
      const problem = messageProblem(reply);
      if (problem !== null) throw new NodeFailure("bad_reply", `node ${name} answered a bad message: ${problem}`);
      return reply as Message;
    },
    async authorization(message: Message): Promise<ServiceResponse> {
      const { response } = (await call(NODE_PATHS.authorization, { message })) as { response?: ServiceResponse };
      if (typeof response?.status !== "string") throw new NodeFailure("bad_reply", `node ${name} answered a bad authorization`);
      return response;
    },
  };
}
