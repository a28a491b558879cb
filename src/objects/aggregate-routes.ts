import { sValidator } from "@hono/standard-validator";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { commandReplyOf, type CommandRequest, type DeleteOptions, type StreamPage } from "../core/aggregates/aggregate-protocol.js";
import type { Message } from "../core/messaging/message.js";
import { response, type ServiceResponse } from "../core/messaging/response.js";
import type { Logger } from "../core/shared/logger.js";
import { ownMessage, refuseInvalid } from "../protocol/hono-protocol.js";

/** What the routes of an AggregateObject reach: the one stream the object holds. */
export interface StreamHost {
  /** The instance serving `streamName`, or why this object cannot serve it. */
  streamFor(streamName: string): HostedStream | string;
  /** Where failures are logged. */
  readonly logger: Logger;
}

/** The operations of one aggregate instance that its object's routes expose. */
export interface HostedStream {
  execute(request: CommandRequest): Promise<Message>;
  read(from: number, limit: number): Promise<StreamPage>;
  delete(options: DeleteOptions): Promise<ServiceResponse>;
}

const nonEmpty = v.pipe(v.string(), v.nonEmpty("must not be empty"));
const count = v.pipe(v.string(), v.regex(/^\d{1,15}$/, "must be a whole number"), v.transform(Number));

const CommandBody = v.object({
  streamName: nonEmpty,
  command: nonEmpty,
  message: ownMessage,
}) satisfies v.GenericSchema<unknown, CommandRequest>;

const EventsQuery = v.object({
  stream: nonEmpty,
  from: v.optional(count, "0"),
  limit: v.optional(v.pipe(count, v.minValue(1, "must be at least 1")), "100"),
});

const DeleteBody = v.object({
  streamName: nonEmpty,
  mode: v.picklist(["soft", "hard"]),
  expectedVersion: v.optional(v.pipe(v.number(), v.integer())),
});

/**
 * The fetch surface of an AggregateObject, one app per class: the object passes itself as the
 * app's bindings (`app.fetch(request, object)`). `POST /command` runs a command, `GET /events`
 * reads a page of the stream, `POST /delete` deletes it. The Worker side reaches it through
 * `durableObjectAggregates` with Hono's typed client.
 */
export const aggregateRoutes = new Hono<{ Bindings: StreamHost }>()
  .post("/command", sValidator("json", CommandBody, refuseInvalid), async (c) => {
    const request = c.req.valid("json");
    const stream = c.env.streamFor(request.streamName);
    if (typeof stream === "string") return c.json({ error: stream }, 400);
    return c.json({ reply: commandReplyOf(await stream.execute(request)) });
  })
  .get("/events", sValidator("query", EventsQuery, refuseInvalid), async (c) => {
    const { stream: streamName, from, limit } = c.req.valid("query");
    const stream = c.env.streamFor(streamName);
    if (typeof stream === "string") return c.json({ error: stream }, 400);
    return c.json(await stream.read(from, limit));
  })
  .post("/delete", sValidator("json", DeleteBody, refuseInvalid), async (c) => {
    const { streamName, mode, expectedVersion } = c.req.valid("json");
    const stream = c.env.streamFor(streamName);
    if (typeof stream === "string") return c.json({ error: stream }, 400);
    return c.json({ response: await stream.delete(expectedVersion === undefined ? { mode } : { mode, expectedVersion }) });
  })
  .onError((error, c) => {
    // Hono's own refusals (a body that is not JSON…) keep their status.
    if (error instanceof HTTPException) return error.getResponse();
    c.env.logger.error("aggregate object failed", { error });
    return c.json({ response: response.error("internal_error") }, 500);
  });

/** The AggregateObject protocol's app type, for Hono's typed client. */
export type AggregateRoutes = typeof aggregateRoutes;
