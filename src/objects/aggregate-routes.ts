import { sValidator } from "@hono/standard-validator";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import {
  commandReplyOf,
  type CommandReply,
  type CommandRequest,
  type DeleteOptions,
  type PastState,
  type StateQuery,
  type StorageRemoved,
  type StreamPage,
} from "../core/aggregates/aggregate-protocol.js";
import type { StreamUsage } from "../core/aggregates/stream-usage.js";
import type { Message } from "../core/messaging/message.js";
import { response, type ErrorResponse, type ServiceResponse } from "../core/messaging/response.js";
import type { Logger } from "../core/shared/logger.js";
import { firstProblem, ownMessage, refuseInvalid } from "../protocol/hono-protocol.js";
import { JURISDICTIONS } from "./jurisdictions.js";
import type { Residence } from "./residence-record.js";

/** What a stream's home answers a command ({@link StreamHost.executeAtHome}). */
export type HomeAnswer = { reply: CommandReply; residentHere?: true } | { residentIn: string } | { error: string };

/** What the routes of an AggregateObject reach: the one stream the object holds. */
export interface StreamHost {
  /** Runs a command on `stream`, counting what it cost. */
  execute(stream: HostedStream, request: CommandRequest): Promise<Message>;
  /** The instance serving `streamName`, or why this object cannot serve it. */
  streamFor(streamName: string): HostedStream | string;
  /**
   * As the stream's home (its object in the plain namespace): where the stream lives, recording
   * `claim` when nothing is yet; `release` forgets it (the stream was erased). A string says why
   * this object cannot answer.
   */
  residence(streamName: string, change: { claim?: string } | "release"): Residence | string;
  /**
   * As the stream's home, runs a command for a stream that nothing fixed yet: refused when the
   * stream lives elsewhere, and while it runs no claim for a jurisdiction is taken.
   */
  executeAtHome(stream: HostedStream, request: CommandRequest): Promise<HomeAnswer>;
  /** Whether this object holds its stream (anything was ever committed, and not removed). */
  holdsStream(): boolean;
  /** What this object has cost so far. */
  usage(): StreamUsage;
  /** How many committed events wait to be sent to the read side (null: the object has no outbox). */
  unpublished(): number | null;
  /** What the hard delete that just emptied the object removed (once: it is forgotten as it is taken). */
  takeRemoved(): StorageRemoved | null;
  /** The jurisdiction this object lives in (null: none). */
  readonly jurisdiction: string | null;
  /** Where failures are logged. */
  readonly logger: Logger;
}

/** The operations of one aggregate instance that its object's routes expose. */
export interface HostedStream {
  execute(request: CommandRequest): Promise<Message>;
  read(from: number, limit: number): Promise<StreamPage>;
  delete(options: DeleteOptions): Promise<ServiceResponse>;
  stateAt(query: StateQuery): Promise<PastState | ErrorResponse>;
}

const nonEmpty = v.pipe(v.string(), v.nonEmpty("must not be empty"));
const count = v.pipe(v.string(), v.regex(/^\d{1,15}$/, "must be a whole number"), v.transform(Number));

const CommandBody = v.object({
  streamName: nonEmpty,
  command: nonEmpty,
  message: ownMessage,
  // Sent to a stream's home by a client under a residency rule: refuse when the stream lives elsewhere.
  unlessResident: v.optional(v.literal(true)),
  // Sent to a jurisdiction's object a client remembered: refuse when it holds no stream.
  unlessEmpty: v.optional(v.literal(true)),
}) satisfies v.GenericSchema<unknown, CommandRequest & { unlessResident?: true }>;

const ResidenceBody = v.object({
  streamName: nonEmpty,
  claim: v.optional(v.picklist(JURISDICTIONS)),
  release: v.optional(v.literal(true)),
});

const EventsQuery = v.object({
  stream: nonEmpty,
  from: v.optional(count, "0"),
  limit: v.optional(v.pipe(count, v.minValue(1, "must be at least 1")), "100"),
});

const StateBody = v.object({
  streamName: nonEmpty,
  // Its values are the instance's to judge: it answers why a version or a time is not one.
  point: v.union([v.object({ version: v.number() }), v.object({ at: v.string() })]),
  dryRun: v.optional(v.object({ command: nonEmpty, message: ownMessage })),
}) satisfies v.GenericSchema<unknown, StateQuery & { streamName: string }>;

const DeleteBody = v.object({
  streamName: nonEmpty,
  mode: v.picklist(["soft", "hard"]),
  expectedVersion: v.optional(v.pipe(v.number(), v.integer())),
});

/**
 * The fetch surface of an AggregateObject beside its command route ({@link serveCommand}), one app
 * per class: the object passes itself as the app's bindings (`app.fetch(request, object)`). `GET /events`
 * reads a page of the stream, `POST /state` looks back at its state at a version or time (and
 * dry-runs a command against it), `POST /delete` deletes it, `POST /residence` asks a stream's home
 * where the stream lives (see `StreamResidency`). The Worker side reaches it through
 * `durableObjectAggregates` with Hono's typed client (commands with one plain `stub.fetch`).
 */
export const aggregateRoutes = new Hono<{ Bindings: StreamHost }>()
  .get("/events", sValidator("query", EventsQuery, refuseInvalid), async (c) => {
    const { stream: streamName, from, limit } = c.req.valid("query");
    const stream = c.env.streamFor(streamName);
    if (typeof stream === "string") return c.json({ error: stream }, 400);
    const unpublished = c.env.unpublished();
    const page = { ...(await stream.read(from, limit)), usage: c.env.usage(), ...(unpublished === null ? {} : { unpublished }) };
    return c.json(c.env.jurisdiction === null ? page : { ...page, jurisdiction: c.env.jurisdiction });
  })
  .post("/state", sValidator("json", StateBody, refuseInvalid), async (c) => {
    const { streamName, ...query } = c.req.valid("json");
    const stream = c.env.streamFor(streamName);
    if (typeof stream === "string") return c.json({ error: stream }, 400);
    return c.json({ answer: await stream.stateAt(query) });
  })
  .post("/delete", sValidator("json", DeleteBody, refuseInvalid), async (c) => {
    const { streamName, mode, expectedVersion } = c.req.valid("json");
    const stream = c.env.streamFor(streamName);
    if (typeof stream === "string") return c.json({ error: stream }, 400);
    const deleted = await stream.delete(expectedVersion === undefined ? { mode } : { mode, expectedVersion });
    // A hard delete says what it removed (an erasure's receipt lists it): in the `ok` payload.
    const removed = mode === "hard" && deleted.status === "ok" ? c.env.takeRemoved() : null;
    if (removed === null) return c.json({ response: deleted });
    return c.json({ response: response.ok(c.env.jurisdiction === null ? removed : { ...removed, jurisdiction: c.env.jurisdiction }) });
  })
  .post("/residence", sValidator("json", ResidenceBody, refuseInvalid), async (c) => {
    const { streamName, claim, release } = c.req.valid("json");
    const residence = c.env.residence(streamName, release === true ? "release" : claim === undefined ? {} : { claim });
    if (typeof residence === "string") return c.json({ error: residence }, 400);
    return c.json({ residence });
  })
  .onError((error, c) => {
    // Hono's own refusals (a body that is not JSON…) keep their status.
    if (error instanceof HTTPException) return error.getResponse();
    c.env.logger.error("aggregate object failed", { error });
    return c.json({ response: response.error("internal_error") }, 500);
  });

/** A command's answer: the instance's reply, or where its stream lives, or why this object cannot serve it. */
async function commandAnswer(host: StreamHost, body: v.InferOutput<typeof CommandBody>): Promise<HomeAnswer | { askHome: true }> {
  const { unlessResident, unlessEmpty, ...request } = body;
  const stream = host.streamFor(request.streamName);
  if (typeof stream === "string") return { error: stream };
  // A jurisdiction's object a client remembered, that holds no stream: it was deleted since, and
  // where the id lives now is its home's to say.
  if (unlessEmpty === true && !host.holdsStream()) return { askHome: true };
  if (unlessResident !== true) return { reply: commandReplyOf(await host.execute(stream, request)) };
  return host.executeAtHome(stream, request);
}

/** The body of `POST /command`, as the Worker side sends it ({@link serveCommand}). */
export type CommandCall = v.InferInput<typeof CommandBody>;

/**
 * `POST /command` — every command an object runs — served without a router or Hono's context
 * (a fraction of the work per command): the body checked by its schema, a refusal 400 with the
 * first problem, as the app's routes answer. Null for any other request: the app serves it.
 */
export function serveCommand(request: Request, host: StreamHost): Promise<Response> | null {
  if (request.method !== "POST" || !request.url.endsWith("/command")) return null;
  return (async () => {
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return Response.json({ error: "request: the body is not JSON" }, { status: 400 });
    }
    const parsed = v.safeParse(CommandBody, body);
    if (!parsed.success) return Response.json({ error: firstProblem(parsed.issues) }, { status: 400 });
    try {
      const answer = await commandAnswer(host, parsed.output);
      return Response.json(answer, { status: "error" in answer ? 400 : 200 });
    } catch (error) {
      host.logger.error("aggregate object failed", { error });
      return Response.json({ response: response.error("internal_error") }, { status: 500 });
    }
  })();
}

/** The AggregateObject protocol's app type, for Hono's typed client. */
export type AggregateRoutes = typeof aggregateRoutes;
