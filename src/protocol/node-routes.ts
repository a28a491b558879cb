import { sValidator } from "@hono/standard-validator";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import type { Dispatcher } from "../core/messaging/dispatcher.js";
import { MessageSchema } from "../core/messaging/message-schema.js";
import type { ServiceRegistry } from "../core/messaging/service-registry.js";
import type { Logger } from "../core/shared/logger.js";
import { refuseInvalid, waitUntilOf } from "./hono-protocol.js";

/** The longest time a caller may ask a node to wait for a service; longer asks are shortened. */
export const MAX_NODE_TIMEOUT_MS = 60_000;

/** What a caller sends to dispatch a message on this node. */
const DispatchBody = v.object({
  message: MessageSchema,
  timeoutMs: v.optional(v.pipe(v.number(), v.gtValue(0), v.transform((ms) => Math.min(ms, MAX_NODE_TIMEOUT_MS)))),
  callerNode: v.optional(v.string()),
});

/** What a caller sends to ask only the authorize hook. */
const AuthorizationBody = v.object({ message: MessageSchema });

/** What the node routes need: this node's name, its services, and a dispatcher over them. */
export type NodeRoutesOptions<Env> = {
  node: string;
  registry: ServiceRegistry<Env>;
  /** Built once per isolate over this node's own services only: a node never forwards further. */
  dispatcher: Dispatcher<Env>;
  logger: Logger;
};

/**
 * The node protocol between Workers, as a Hono app under `/x3m/node`: `GET /services` lists the
 * public services, `POST /dispatch` runs a message on one of them (its `authorize` runs here) and
 * answers the reply, `POST /authorization` asks only the authorize hook. Requests are checked by
 * schema; the caller ({@link serviceBindingNode}) reaches it with Hono's typed client.
 */
export function nodeRoutes<Env extends object>(options: NodeRoutesOptions<Env>) {
  const { node, registry, dispatcher, logger } = options;
  // Bindings are typed `object` here: Hono cannot follow a generic Env through validators, so
  // each handler names the env it was given (`bindings(c)`), once, where it enters.
  const bindings = (c: { env: object }) => c.env as Env;
  return new Hono<{ Bindings: object }>()
    .basePath("/x3m/node")
    .get("/services", (c) => c.json({ node, services: registry.services("public") }))
    .post("/dispatch", sValidator("json", DispatchBody, refuseInvalid), async (c) => {
      const { message, timeoutMs, callerNode } = c.req.valid("json");
      const reply = await dispatcher.serveForNode(message, {
        env: bindings(c),
        waitUntil: waitUntilOf(c),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        ...(callerNode === undefined ? {} : { originNode: callerNode }),
      });
      return c.json({ message: reply });
    })
    .post("/authorization", sValidator("json", AuthorizationBody, refuseInvalid), async (c) => {
      const { message } = c.req.valid("json");
      return c.json({ response: await dispatcher.authorization(message, { publicOnly: true, env: bindings(c) }) });
    })
    .onError((error, c) => {
    // Hono's own refusals (a body that is not JSON…) keep their status.
    if (error instanceof HTTPException) return error.getResponse();
      logger.error("node protocol failed", { error });
      return c.json({ error: "internal_error" }, 500);
    });
}

/** The node protocol's app type, for Hono's typed client. */
export type NodeRoutes = ReturnType<typeof nodeRoutes<object>>;
