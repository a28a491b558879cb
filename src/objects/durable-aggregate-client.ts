import { hc } from "hono/client";
import {
  replyMessage,
  type AggregateClient,
  type CommandReply,
  type CommandRequest,
  type DeleteOptions,
  type PastState,
  type StateQuery,
  type StreamPage,
} from "../core/aggregates/aggregate-protocol.js";
import { halt, type Message } from "../core/messaging/message.js";
import { DEFAULT_COMMAND_TIMEOUT_MS } from "../core/aggregates/aggregate-instance.js";
import { backoffDelay, type BackoffOptions } from "../core/shared/backoff.js";
import { isJsonObject } from "../core/shared/json.js";
import { response, type ErrorResponse, type ServiceResponse } from "../core/messaging/response.js";
import type { AggregateRoutes, CommandCall } from "./aggregate-routes.js";
import { PROTOCOL_BASE_URL, through, trustedAnswer } from "../protocol/hono-protocol.js";
import type { ObjectPlace } from "./jurisdictions.js";
import { namespaceOf } from "./namespace-of.js";
import type { Residence } from "./residence-record.js";
import { StreamResidency, type Intent, type Residency, type ResidencyTarget } from "./stream-residency.js";

/**
 * The typed client of the AggregateObject protocol, made once: each call is given the `fetch` of
 * the object it goes to (a stub belongs to the request that made it, so stubs are never kept).
 */
const client = hc<AggregateRoutes>(PROTOCOL_BASE_URL);
/** Where commands go: the object's `POST /command` (`serveCommand` in aggregate-routes.ts). */
const COMMAND_URL = `${PROTOCOL_BASE_URL}/command`;

/**
 * Sends a command to the object behind `stub`. A plain `fetch`, not the typed client: the client
 * builds proxies and a URL for each call, the largest part of the library's own cost of sending
 * a command (every command is one). No Content-Type: the object reads the body as JSON whatever it says.
 */
function postCommand(stub: DurableObjectStub, call: CommandCall): Promise<Response> {
  return stub.fetch(COMMAND_URL, { method: "POST", body: JSON.stringify(call) });
}

/** The stub of the object at `place`. */
function stubAt(place: ObjectPlace): DurableObjectStub {
  return place.namespace.get(place.namespace.idFromName(place.name));
}

/**
 * How a claim is tried again while the home runs a command that may create the stream: soon at
 * first, then further apart, for as long as such a command may run (an aggregate's default
 * command deadline, and a second more) — not a fixed second, which a slow first command outlasts.
 */
const BUSY_RETRY: BackoffOptions = { baseMs: 20, maxMs: 1000 };
const BUSY_WAIT_MS = DEFAULT_COMMAND_TIMEOUT_MS + 1000;

/** Asks a stream's home where the stream lives, recording `claim` when nothing is yet. */
async function askHome(home: ObjectPlace, streamName: string, claim: string | undefined): Promise<Residence> {
  const json = claim === undefined ? { streamName } : { streamName, claim: claim as DurableObjectJurisdiction };
  let waited = 0;
  for (let tries = 1; ; tries += 1) {
    const { residence } = await trustedAnswer<{ residence: Residence }>(await client.residence.$post({ json }, through(stubAt(home))), streamName);
    if (residence.busy !== true) return residence;
    if (waited >= BUSY_WAIT_MS) throw new Error(`${streamName}: its home stayed busy creating it; the claim was not taken`);
    const delay = backoffDelay(tries, BUSY_RETRY);
    await new Promise((resolve) => setTimeout(resolve, delay));
    waited += delay;
  }
}

/** Options of {@link durableObjectAggregates}. */
export type DurableObjectAggregatesOptions = {
  /**
   * Where the type's streams live ({@link Residency}): one jurisdiction, or a rule over the id and
   * the command. Default: the plain namespace. Every Worker that reaches the type must use the
   * same residency.
   */
  residency?: Residency;
};

/**
 * Reaches the instances of one aggregate type in a Durable Object namespace: each stream
 * `<stream>-<id>` lives in the object named after it, reached through Hono's typed client over
 * `stub.fetch` ({@link AggregateRoutes}) — in the jurisdiction its `residency` says. The object is
 * this Worker's own code, so its answers are trusted as they are. A transport failure (the object
 * cannot be reached, or refuses the request) rejects; the message handlers turn that into
 * `internal_error`.
 */
export function durableObjectAggregates<Env>(
  // Written out, not aliased, so that TypeScript's error for a namespace passed here shows the hint.
  binding: ((env: Env) => DurableObjectNamespace) | { readonly "pass a function of env, e.g. (env) => env.ACCOUNTS, not the namespace": never },
  options: DurableObjectAggregatesOptions = {},
): AggregateClient<Env> {
  const namespace = namespaceOf(binding, "durableObjectAggregates");
  const residency = options.residency === undefined ? null : new StreamResidency(options.residency, askHome);
  /** Where a request for `streamName` goes, or the jurisdiction the stream lives in when the residency names another. */
  const placeOf = async (env: Env, streamName: string, target: ResidencyTarget | null, access: Intent) => {
    const ns = namespace(env);
    return residency === null
      ? { place: { namespace: ns, name: streamName }, unlessResident: false, remembered: false }
      : residency.place(ns, streamName, target, access);
  };
  const lookAt = async (env: Env, streamName: string) => {
    const placement = await placeOf(env, streamName, null, "look");
    if (!("place" in placement)) throw new Error(`${streamName}: a read was refused a jurisdiction`);
    return through(stubAt(placement.place));
  };

  return {
    async execute(env: Env, request: CommandRequest): Promise<Message> {
      // The parsed request stays here: a schema's output need not be JSON (a Date, a Map) and would
      // not survive the hop; the instance parses the raw request again, as the schema says.
      const sent = { ...request, message: { ...request.message, request: null } };
      if (residency === null) {
        const answer = await postCommand(stubAt({ namespace: namespace(env), name: request.streamName }), sent);
        // The object answers only what it adds to the message (its answer, events, version).
        return replyMessage(request.message, (await trustedAnswer<{ reply: CommandReply }>(answer, request.streamName)).reply);
      }
      const target = { id: String(request.message.aggregateMeta.id ?? ""), command: request.command, request: request.message.rawRequest };
      const access = request.message.dryRun ? "look" : "command";
      for (let hop = 0; ; hop += 1) {
        const placement = await placeOf(env, request.streamName, target, access);
        // Where it lives is not said: the aggregate's access rule has not judged the caller yet.
        if (!("place" in placement)) return halt(request.message, response.error("wrong_jurisdiction"));
        const json = placement.unlessResident ? { ...sent, unlessResident: true as const } : placement.remembered ? { ...sent, unlessEmpty: true as const } : sent;
        const answer = await trustedAnswer<{ reply: CommandReply; residentHere?: true } | { residentIn: string } | { askHome: true }>(
          await postCommand(stubAt(placement.place), json),
          request.streamName,
        );
        if ("reply" in answer) {
          // Its home holds the stream: it lives in the plain namespace, for good.
          if (answer.residentHere === true) residency.remember(request.streamName, null);
          return replyMessage(request.message, answer.reply);
        }
        if (hop > 1) throw new Error(`${request.streamName}: its home and its jurisdiction's object kept sending the command on`);
        // The home says the stream lives elsewhere: remembered, and the command goes there. Or the
        // object remembered holds nothing any more: forgotten, and the home asked again.
        if ("residentIn" in answer) residency.remember(request.streamName, answer.residentIn);
        else residency.forget(request.streamName);
      }
    },

    async readStream(env: Env, streamName: string, page: { from: number; limit: number }): Promise<StreamPage> {
      const query = { stream: streamName, from: String(page.from), limit: String(page.limit) };
      return trustedAnswer<StreamPage>(await client.events.$get({ query }, await lookAt(env, streamName)), streamName);
    },

    async stateAt(env: Env, streamName: string, query: StateQuery): Promise<PastState | ErrorResponse> {
      // As for a command, the parsed request stays here: the instance runs the command's schema.
      const dryRun = query.dryRun === undefined ? {} : { dryRun: { ...query.dryRun, message: { ...query.dryRun.message, request: null } } };
      const answer = await client.state.$post({ json: { streamName, point: query.point, ...dryRun } }, await lookAt(env, streamName));
      return (await trustedAnswer<{ answer: PastState | ErrorResponse }>(answer, streamName)).answer;
    },

    async deleteStream(env: Env, streamName: string, options: DeleteOptions): Promise<ServiceResponse> {
      const answer = await client.delete.$post({ json: { streamName, ...options } }, await lookAt(env, streamName));
      const deleted = (await trustedAnswer<{ response: ServiceResponse }>(answer, streamName)).response;
      const gone = deleted.status === "ok" || (deleted.status === "error" && deleted.reason === "not_found");
      if (residency?.byRule === true && options.mode === "hard" && gone) {
        // Gone for good (or never created: a claim left by a refused command): its home forgets
        // where it lived, so that the id is new again. Other Workers that remember the old place
        // find it empty and ask the home again.
        residency.forget(streamName);
        const home = { namespace: namespace(env), name: streamName };
        await trustedAnswer(await client.residence.$post({ json: { streamName, release: true } }, through(stubAt(home))), streamName);
        // A stream that lived in a jurisdiction had a record in its home: the report names it too.
        if (deleted.status === "ok" && isJsonObject(deleted.payload) && typeof deleted.payload["jurisdiction"] === "string") {
          return response.ok({ ...deleted.payload, homeRecord: true });
        }
      }
      return deleted;
    },
  };
}
