import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { ServiceDescription } from "../core/messaging/contracts.js";
import type { JsonObject } from "../core/shared/json.js";
import { MAX_MISSED_RUNS, MIN_INTERVAL_FLOOR_MS, MIN_INTERVAL_MS } from "../core/scheduling/schedule.js";
import type { AnonymousAccess } from "./anonymous-access.js";
import { asComponents, toJsonSchema, type JsonSchemaConversion, type JsonSchemaConverter } from "./json-schema.js";

/** What the API reference says about one service, beyond what its router knows. */
export type ServiceDoc = {
  /** A one-line summary (default: "Call <service>"). */
  summary?: string;
  /** Longer text (plain text; shown as it is). */
  description?: string;
  /** An example request, offered first in the reference's "try it". */
  example?: JsonObject;
};

/**
 * Options of `GET /v1/openapi.json` and `/docs`. Both are on by default: the document describes
 * only what anyone can already call (public services, their request schemas, the routes); pass
 * `openapi: false` to the gateway to turn both off.
 */
export type OpenApiOptions = {
  /** `info.title` (default `"x3m-system API"`). */
  title?: string;
  /** `info.version`: the version of your API's description (default `"1"`). */
  version?: string;
  /** `info.description` (CommonMark, as OpenAPI defines it). */
  description?: string;
  /** Summaries, descriptions and examples per public service. */
  services?: { readonly [service: string]: ServiceDoc };
  /**
   * Converts request schemas that do not implement Standard JSON Schema (`~standard.jsonSchema`)
   * themselves; tried before the built-in conversion of valibot schemas (valibot's own
   * converter), so it can override that. A schema nothing converts is documented as accepting any
   * JSON object, with an `x-x3m-schema` note saying why.
   */
  jsonSchema?: JsonSchemaConverter;
};

/** What the gateway offers right now, as the document describes it. */
export type OpenApiSurface = {
  /** This Worker's public services (never its private ones). */
  local: readonly ServiceDescription[];
  /** Public services reached on other nodes (their schemas are not shared between nodes). */
  remote: readonly string[];
  /** Whether callers are identified (the app has `identify`): from `Authorization: Bearer`, or from `identityHeader`. */
  identify: boolean;
  /** The header callers are identified from, when not `Authorization`. */
  identityHeader?: string;
  /** What `authorize` answers an anonymous caller of each local public service (absent: unknown). */
  anonymous: ReadonlyMap<string, AnonymousAccess>;
  /** Whether `/v1/schedules` exists. */
  scheduler: boolean;
  /** The stream names of `/v1/streams/{stream}/{id}`, or null while no admin token is configured. */
  streams: readonly string[] | null;
  /** Whether the admin routes erase aggregates on request (the gateway's `admin.erasure`). */
  erasure?: boolean;
};

/** Builds the OpenAPI document of a gateway; request schemas are converted once per schema. */
export type OpenApiGenerator = (surface: OpenApiSurface) => JsonObject;

const ref = (to: string): JsonObject => ({ $ref: to });
const schemaRef = (name: string) => ref(`#/components/schemas/${name}`);
const literal = (value: string): JsonObject => ({ type: "string", const: value });

/** A JSON object schema with `required` fields listed first. */
function object(required: Record<string, JsonObject>, optional: Record<string, JsonObject> = {}, extra: JsonObject = {}): JsonObject {
  const schema: JsonObject = { type: "object", properties: { ...required, ...optional }, ...extra };
  if (Object.keys(required).length > 0) schema["required"] = Object.keys(required);
  return schema;
}

const anyJson: JsonObject = { description: "any JSON value" };
const integer: JsonObject = { type: "integer" };
const string: JsonObject = { type: "string" };
const idPattern = "^[!-~]{1,128}$";

/** The `ServiceResponse` union (src/core/messaging/response.ts), one schema per status. */
const responseSchemas: Record<string, JsonObject> = {
  OkResponse: object({ status: literal("ok") }, { payload: anyJson, version: { ...integer, description: "the aggregate's version after the command" } }),
  CreatedResponse: object({ status: literal("created"), id: string }, { version: integer }),
  ValidationIssue: object({ path: { ...string, description: "dotted path; empty for the whole request" }, message: string }),
  ValidationErrorResponse: object({ status: literal("validation_error"), errors: { type: "array", items: schemaRef("ValidationIssue") } }),
  MissingIdResponse: object({ status: literal("missing_id"), field: { ...string, description: "the request field that names the aggregate" } }),
  UnauthorizedResponse: object({ status: literal("unauthorized") }, { reason: string }),
  ForbiddenResponse: object({ status: literal("forbidden") }, { reason: string }),
  ServiceUnavailableResponse: object({ status: literal("service_unavailable"), service: string }),
  ServiceTimeoutResponse: object({ status: literal("service_timeout"), service: string, messageId: string, timeoutMs: integer }),
  ErrorResponse: object(
    { status: literal("error"), reason: { ...string, description: "a library reason (not_found, wrong_expected_version, invalid_json, …) or the app's own" } },
    { details: anyJson },
  ),
};

const statuses = ["ok", "created", "validation_error", "missing_id", "unauthorized", "forbidden", "service_unavailable", "service_timeout", "error"];
const schemaOfStatus = (status: string) =>
  `${status.replace(/(^|_)([a-z])/g, (_match, _sep: string, letter: string) => letter.toUpperCase())}Response`;

/** Shared schemas of the envelope and of the gateway's other routes. */
function baseSchemas(): Record<string, JsonObject> {
  return {
    ...responseSchemas,
    ServiceResponse: {
      oneOf: statuses.map((status) => schemaRef(schemaOfStatus(status))),
      discriminator: { propertyName: "status", mapping: Object.fromEntries(statuses.map((s) => [s, `#/components/schemas/${schemaOfStatus(s)}`])) },
    },
    DomainEvent: object({ type: string, data: anyJson }),
    Envelope: object(
      { messageId: string, correlationId: string, causationId: string, service: string, response: schemaRef("ServiceResponse") },
      { events: { type: "array", items: schemaRef("DomainEvent"), description: "only for X-Dry-Run: verbose: the events the command would store" } },
      { description: "Every reply to a service call (the HTTP contract in the README)." },
    ),
    Answer: object({ response: schemaRef("ServiceResponse") }, {}, { description: "The reply of routes that carry no message." }),
  };
}

/** Responses of a service call: one per HTTP status, each with the responses it can carry. */
const serviceStatuses: readonly [code: string, name: string, description: string, statuses: readonly string[]][] = [
  ["200", "Ok", "ok", ["ok"]],
  ["201", "Created", "created", ["created"]],
  ["400", "BadRequest", "missing_id, or error: invalid_json, invalid_request, invalid_header, invalid_id, a domain error", ["missing_id", "error"]],
  ["401", "Unauthorized", "unauthorized: credentials refused, or the service needs an identified caller", ["unauthorized"]],
  ["403", "Forbidden", "forbidden", ["forbidden"]],
  ["404", "NotFound", "service_unavailable (no one offers it; private services look the same), or error not_found", ["service_unavailable", "error"]],
  ["409", "Conflict", "error: wrong_expected_version, already_exists, idempotency_key_reused", ["error"]],
  ["413", "PayloadTooLarge", "error: payload_too_large, event_too_large, state_too_large", ["error"]],
  ["422", "ValidationError", "validation_error", ["validation_error"]],
  ["500", "InternalError", "error internal_error (a handler threw; no details leak)", ["error"]],
  ["503", "NoNodesAvailable", "error no_nodes_available", ["error"]],
  ["504", "ServiceTimeout", "service_timeout", ["service_timeout"]],
];

const idHeaders = ["X-Message-Id", "X-Correlation-Id", "X-Causation-Id"] as const;
const headerName = (header: string) => header.replace(/-/g, "");

function envelopeWith(responses: readonly string[]): JsonObject {
  const one = responses.map((status) => schemaRef(schemaOfStatus(status)));
  return { allOf: [schemaRef("Envelope"), object({ response: one.length === 1 ? (one[0] as JsonObject) : { oneOf: one } })] };
}

function baseResponses(): Record<string, JsonObject> {
  const headers = Object.fromEntries(idHeaders.map((header) => [header, ref(`#/components/headers/${headerName(header)}`)]));
  const responses: Record<string, JsonObject> = {};
  for (const [, name, description, carried] of serviceStatuses) {
    responses[`Service${name}`] = { description, headers, content: { "application/json": { schema: envelopeWith(carried) } } };
  }
  for (const [code, name, description] of [
    ["400", "BadRequest", "invalid_request, invalid_id"],
    ["401", "Unauthorized", "unauthorized"],
    ["404", "NotFound", "not_found"],
    ["429", "TooManyAttempts", "too_many_attempts: more than 10 failed admin-token checks from this address in a minute; refused, whatever the token, for the seconds of Retry-After"],
  ] as const) {
    responses[`Answer${name}`] = { description: `${description} (HTTP ${code})`, content: { "application/json": { schema: schemaRef("Answer") } } };
  }
  return responses;
}

function baseParameters(): Record<string, JsonObject> {
  return {
    XMessageId: {
      name: "X-Message-Id",
      in: "header",
      description: "Your id for this message. Sending the same command twice with the same id applies it once.",
      schema: { type: "string", pattern: idPattern },
    },
    XCorrelationId: { name: "X-Correlation-Id", in: "header", description: "The conversation this message belongs to.", schema: { type: "string", pattern: idPattern } },
    XCausationId: { name: "X-Causation-Id", in: "header", description: "The message that caused this one.", schema: { type: "string", pattern: idPattern } },
    XDryRun: {
      name: "X-Dry-Run",
      in: "header",
      description: "true: validate and decide, persist nothing; verbose: also answer the events it would store.",
      schema: { type: "string", enum: ["true", "verbose", "false"] },
    },
    XExpectedVersion: {
      name: "X-Expected-Version",
      in: "header",
      description: "Optimistic concurrency for aggregate commands: the version the aggregate must be at (-1: must not exist).",
      schema: { type: "integer", minimum: -1 },
    },
    Traceparent: {
      name: "traceparent",
      in: "header",
      description: "W3C Trace Context; an unparsable value is ignored.",
      schema: { type: "string", pattern: "^[\\da-f]{2}-[\\da-f]{32}-[\\da-f]{16}-[\\da-f]{2}$" },
    },
  };
}

function baseHeaders(): Record<string, JsonObject> {
  return Object.fromEntries(idHeaders.map((header) => [headerName(header), { description: `The message's ${header.slice(2).toLowerCase().replace(/-/g, " ")}.`, schema: string }]));
}

const messageParameters = ["XMessageId", "XCorrelationId", "XCausationId", "XDryRun", "XExpectedVersion", "Traceparent"].map((name) =>
  ref(`#/components/parameters/${name}`),
);

const jsonBody = (schema: JsonObject, description: string, required = false): JsonObject => ({
  required,
  description,
  content: { "application/json": { schema } },
});

const jsonReply = (description: string, schema: JsonObject): JsonObject => ({ description, content: { "application/json": { schema } } });

/** `POST /v1/schedules`'s body (src/worker/schedule-routes.ts). */
const scheduleBody: JsonObject = {
  ...object(
    { service: { type: "string", minLength: 1 }, key: { type: "string", description: "the scheduler shard: an aggregate id, a tenant…" } },
    {
      request: { type: "object", description: "the service's raw request (default {})" },
      in: { type: "number", description: "deliver in this many ms" },
      at: { type: "string", format: "date-time", description: "deliver at this time (with a time zone)" },
      cron: { type: "string", description: "5 fields: minute hour day-of-month month day-of-week, in timeZone (UTC by default)" },
      timeZone: { type: "string", description: "with cron: an IANA time zone (Europe/Berlin); runs follow its daylight saving changes" },
      missed: {
        description: "with cron or every: what becomes of runs missed while nothing ran — skip them, one run for them all (the default), or each of the n most recent",
        oneOf: [{ type: "string", enum: ["skip", "once"] }, object({ each: { type: "integer", minimum: 1, maximum: MAX_MISSED_RUNS } })],
      },
      every: {
        type: "integer",
        minimum: MIN_INTERVAL_FLOOR_MS,
        description: `deliver every this many ms: at least the scheduler's shortest interval (${MIN_INTERVAL_MS} ms unless it was configured otherwise)`,
      },
    },
    { additionalProperties: false, description: "Exactly one of in, at, cron or every." },
  ),
  oneOf: ["in", "at", "cron", "every"].map((when) => ({ required: [when] })),
};

const missedRuns: JsonObject = { oneOf: [{ type: "string", enum: ["skip", "once"] }, object({ each: integer })] };

const recurrence: JsonObject = {
  oneOf: [object({ cron: string }, { timeZone: string, missed: missedRuns }), object({ everyMs: integer }, { missed: missedRuns }), { type: "null" }],
};

const scheduledSummary: JsonObject = object({
  messageId: string,
  key: string,
  service: string,
  dispatchAt: { type: "string", format: "date-time", description: "when it is (or was) due" },
  nextAttemptAt: { type: "string", format: "date-time" },
  attempts: integer,
  late: { type: "boolean" },
  recurrence,
  rawRequest: { type: ["object", "null"] },
});

const recordedEvent: JsonObject = object(
  {
    version: integer,
    type: string,
    data: anyJson,
    metadata: { type: "object", description: "messageId, correlationId, causationId, service and the app's own" },
    recordedAt: { type: "string", format: "date-time" },
  },
  {
    schemaVersion: { ...integer, description: "the event's schema version" },
    stored: object({ data: anyJson, schemaVersion: integer }, {}, { description: "as stored, when the event was upcast on read" }),
  },
);

const streamPage: JsonObject = object({
  stream: string,
  status: { type: "string", enum: ["live", "deleted"] },
  version: integer,
  events: { type: "array", items: schemaRef("RecordedEvent") },
  nextFrom: { type: ["integer", "null"], description: "where the next page starts; null at the end" },
  snapshot: {
    oneOf: [object({ version: integer, schema: integer }), { type: "null" }],
    description: "the snapshot a load would start from (the newest of the aggregate's snapshot schema), or null",
  },
});

/** `GET /v1/streams/{stream}/{id}/state` and its dry run (src/worker/gateway/state-routes.ts). */
const pastState: JsonObject = object(
  {
    stream: string,
    version: { ...integer, description: "the version the state reflects: the last event at or before the point asked for" },
    recordedAt: { type: "string", format: "date-time", description: "when that event was recorded" },
    state: { ...anyJson, description: "the state then, replayed from the first event through today's upcasters" },
    upcastEvents: { ...integer, description: "how many of the events replayed were stored in an older shape" },
    now: object({ status: { type: "string", enum: ["live", "deleted"] }, version: integer }, {}, { description: "the stream as it is now" }),
  },
  {
    dryRun: object(
      { response: schemaRef("ServiceResponse"), events: { type: "array", items: schemaRef("DomainEvent") } },
      {},
      { description: "only for a dry run: what the command would have answered at that version, and the events it would have appended (nothing was stored)" },
    ),
  },
);

/** An erasure's receipt (src/core/readside/erasure-receipt.ts), described in outline. */
const erasureReceipt: JsonObject = object(
  {
    erasureId: string,
    stream: string,
    streamName: string,
    erasedAt: { type: "string", format: "date-time", description: "when the aggregate's storage went: its events still in flight are dropped" },
    by: object({ via: string, operator: { type: ["string", "null"] } }),
    reason: { type: ["string", "null"] },
    complete: { type: "boolean", description: "nothing failed; false: erase again once the cause is fixed" },
    object: { type: "object", description: "the object's storage: found, and what was removed (events, snapshots, idempotency records, events not known to be sent (outbox), follow-ups, alarm)" },
    schedules: { type: "array", description: "pending schedules cancelled per scheduler key", items: { type: "object" } },
    subscribers: { type: "array", description: "per subscriber following the type: erased, not_handled (its rows stay) or failed", items: { type: "object" } },
    readSide: object({ checkpoints: integer, catalog: integer, usage: integer, deadLetters: integer }),
  },
  {},
  { description: "where the aggregate was removed from, with counts; never the erased data" },
);

const eraseBody: JsonObject = object(
  {},
  { operator: { type: "string", maxLength: 200, description: "who asks, kept in the receipt" }, reason: { type: "string", maxLength: 200, description: "why (a request's reference), kept in the receipt" } },
  { additionalProperties: false },
);

const pastPoint: JsonObject[] = [
  { name: "version", in: "query", description: "the version to look back to (give this or at)", schema: { type: "integer", minimum: 0 } },
  { name: "at", in: "query", description: "a time (RFC 3339, with a time zone): the last event recorded at or before it (give this or version)", schema: { type: "string", format: "date-time" } },
];

const dryRunBody: JsonObject = object(
  { command: { type: "string", minLength: 1, description: "one of the aggregate's public commands" } },
  {
    request: { type: "object", description: "the command's request (default {}); its id field is filled in" },
    credentials: {
      type: "string",
      description: "the credentials header value of the caller to run as (e.g. Bearer …), identified by the gateway's identify; without it the command runs as an anonymous caller",
    },
  },
  { additionalProperties: false },
);

/** A name usable as an OpenAPI component or operation id. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_");
}

/**
 * A generator of the OpenAPI 3.1 document of a gateway: one operation per public service
 * (`POST /v1/services/{name}` and its dry run `POST /v1/validate/{name}`) with its request schema
 * converted to JSON Schema, the envelope per HTTP status, the request headers, and the gateway's
 * other routes as configured. Private services never appear.
 */
export function openApiGenerator(options: OpenApiOptions = {}): OpenApiGenerator {
  // Schemas are values built once at startup: convert each once per isolate.
  const converted = new WeakMap<StandardSchemaV1, JsonSchemaConversion>();
  const convert = (schema: StandardSchemaV1): JsonSchemaConversion => {
    let conversion = converted.get(schema);
    if (conversion === undefined) {
      conversion = toJsonSchema(schema, options.jsonSchema);
      converted.set(schema, conversion);
    }
    return conversion;
  };

  return (surface) => {
    const schemas: Record<string, JsonObject> = baseSchemas();
    const paths: Record<string, JsonObject> = {};
    const securitySchemes: Record<string, JsonObject> = {};
    const takenIds = new Set<string>();
    const uniqueName = (wanted: string) => {
      let name = safeName(wanted);
      for (let n = 2; takenIds.has(name) || schemas[name] !== undefined; n += 1) name = `${safeName(wanted)}_${n}`;
      takenIds.add(name);
      return name;
    };
    if (surface.identify) {
      const header = surface.identityHeader;
      securitySchemes["bearer"] = {
        // A token in a header of its own (Cloudflare Access's) is an API key as OpenAPI names it.
        ...(header === undefined || header.toLowerCase() === "authorization" ? { type: "http", scheme: "bearer" } : { type: "apiKey", in: "header", name: header }),
        description:
          "Identifies the caller (the app's identify hook). A service needs it when its authorize refuses anonymous callers: each service operation's security says so, and x-x3m-anonymous what authorize answered an anonymous dry run with an empty request (allowed, unauthorized, forbidden, refused, or unknown: it could not be asked).",
      };
    }
    if (surface.streams !== null) {
      securitySchemes["adminToken"] = { type: "http", scheme: "bearer", description: "The admin token (ADMIN_TOKEN)." };
    }
    const callerSecurity: JsonObject = surface.identify ? { security: [{}, { bearer: [] }] } : {};
    // Routes that check the admin token answer 429 to an address past its failed checks.
    const adminThrottled: JsonObject = surface.streams !== null ? { "429": ref("#/components/responses/AnswerTooManyAttempts") } : {};

    // A service that refuses anonymous callers needs the bearer token; one that lets them through,
    // or whose authorize could not be asked, may be called either way.
    const serviceSecurity = (access: AnonymousAccess): JsonObject => {
      const anonymous: JsonObject = { "x-x3m-anonymous": access };
      if (!surface.identify) return anonymous;
      return { security: access === "allowed" || access === "unknown" ? [{}, { bearer: [] }] : [{ bearer: [] }], ...anonymous };
    };

    const serviceOperations = (name: string, requestSchema: JsonObject, notes: JsonObject) => {
      const doc = options.services?.[name] ?? {};
      const id = uniqueName(name);
      const media: JsonObject = { schema: requestSchema, ...(doc.example === undefined ? {} : { example: doc.example }) };
      const responses = Object.fromEntries(serviceStatuses.map(([code, status]) => [code, ref(`#/components/responses/Service${status}`)]));
      const segment = encodeURIComponent(name);
      const security = serviceSecurity(surface.anonymous.get(name) ?? "unknown");
      const operation = (validate: boolean): JsonObject => ({
        operationId: validate ? `validate_${id}` : id,
        tags: [validate ? "Dry runs" : "Services"],
        summary: validate ? `Dry run of ${name}` : (doc.summary ?? `Call ${name}`),
        description: validate
          ? `Validates and decides ${name} without persisting anything (X-Dry-Run: verbose also answers the events).`
          : (doc.description ?? `Calls the service ${name}. The body is its raw request; an empty body is {}.`),
        parameters: messageParameters,
        requestBody: { required: false, description: "The raw request: a JSON object (an empty body is {}).", content: { "application/json": media } },
        responses,
        ...security,
        ...notes,
        // /docs shows a dry run as an option of its service, not as an operation of its own.
        ...(validate ? { "x-x3m-dry-run-of": `/v1/services/${segment}` } : {}),
      });
      paths[`/v1/services/${segment}`] = { post: operation(false) };
      paths[`/v1/validate/${segment}`] = { post: operation(true) };
    };

    for (const service of surface.local) {
      if (service.visibility !== "public") continue;
      let request: JsonObject;
      let notes: JsonObject = {};
      if (service.schema === undefined) {
        request = { type: "object", description: "Any JSON object: this service declares no request schema." };
      } else {
        const conversion = convert(service.schema);
        if (conversion.ok) {
          const component = uniqueName(`${service.name}.request`);
          Object.assign(schemas, asComponents(component, conversion.schema));
          request = schemaRef(component);
          if (conversion.partial !== undefined) notes = { "x-x3m-schema-partial": conversion.partial };
        } else {
          request = { type: "object", description: "Any JSON object here: the service's schema could not be described." };
          notes = { "x-x3m-schema": conversion.problem };
        }
      }
      serviceOperations(service.name, request, notes);
    }
    for (const name of surface.remote) {
      serviceOperations(name, { type: "object", description: "Offered by another node, whose request schema is not shared." }, { "x-x3m-offered-by": "another node" });
    }

    paths["/v1/services"] = {
      get: {
        operationId: "list_services",
        tags: ["Gateway"],
        summary: "The public services this deployment offers",
        responses: { "200": jsonReply("their names", object({ services: { type: "array", items: string } })) },
      },
    };
    paths["/v1/health"] = {
      get: { operationId: "health", tags: ["Gateway"], summary: "Liveness", responses: { "200": jsonReply("alive", object({ status: literal("ok") })) } },
    };
    paths["/v1/openapi.json"] = {
      get: { operationId: "openapi", tags: ["Gateway"], summary: "This document", responses: { "200": jsonReply("OpenAPI 3.1", { type: "object" }) } },
    };

    if (surface.scheduler) {
      Object.assign(schemas, { ScheduleRequest: scheduleBody, ScheduledSummary: scheduledSummary });
      const viewers: JsonObject[] = [...(surface.identify ? [{ bearer: [] }] : []), ...(surface.streams !== null ? [{ adminToken: [] }] : [])];
      const keyQuery: JsonObject = { name: "key", in: "query", required: true, description: "the scheduler shard", schema: { type: "string", minLength: 1, maxLength: 200 } };
      paths["/v1/schedules"] = {
        post: {
          operationId: "schedule",
          tags: ["Schedules"],
          summary: "Deliver a message later, once or repeatedly",
          description: "Authorized now and again at delivery. Answers 202 with the scheduled message's ids.",
          parameters: [ref("#/components/parameters/XMessageId"), ref("#/components/parameters/XCorrelationId"), ref("#/components/parameters/XCausationId")],
          requestBody: jsonBody(schemaRef("ScheduleRequest"), "what to call, with what, on which shard, and when", true),
          responses: {
            "202": { description: "scheduled", content: { "application/json": { schema: envelopeWith(["ok"]) } } },
            ...Object.fromEntries(serviceStatuses.filter(([code]) => ["400", "401", "403", "409", "413", "503"].includes(code)).map(([code, name]) => [code, ref(`#/components/responses/Service${name}`)])),
            "429": { description: "error too_many_schedules: the caller or the key has as many pending schedules as allowed", content: { "application/json": { schema: envelopeWith(["error"]) } } },
          },
          ...callerSecurity,
        },
        get: {
          operationId: "list_schedules",
          tags: ["Schedules"],
          summary: "Your pending scheduled messages for a key (the admin token: everyone's)",
          parameters: [keyQuery],
          responses: {
            "200": jsonReply("pending messages, and how recent ones ended when they did not succeed", object({ key: string, schedules: { type: "array", items: schemaRef("ScheduledSummary") }, outcomes: { type: "array", items: { type: "object" } } })),
            "400": ref("#/components/responses/AnswerBadRequest"),
            "401": ref("#/components/responses/AnswerUnauthorized"),
            ...adminThrottled,
          },
          ...(viewers.length > 0 ? { security: viewers } : {}),
        },
      };
      paths["/v1/schedules/{messageId}"] = {
        delete: {
          operationId: "cancel_schedule",
          tags: ["Schedules"],
          summary: "Cancel one scheduled message",
          parameters: [{ name: "messageId", in: "path", required: true, schema: string }, keyQuery],
          responses: {
            "200": jsonReply("cancelled", schemaRef("Answer")),
            "400": ref("#/components/responses/AnswerBadRequest"),
            "401": ref("#/components/responses/AnswerUnauthorized"),
            "404": ref("#/components/responses/AnswerNotFound"),
            ...adminThrottled,
          },
          ...(viewers.length > 0 ? { security: viewers } : {}),
        },
      };
    }

    if (surface.streams !== null) {
      Object.assign(schemas, { RecordedEvent: recordedEvent, StreamPage: streamPage, PastState: pastState });
      const target: JsonObject[] = [
        { name: "stream", in: "path", required: true, description: "the aggregate type", schema: { type: "string", enum: [...surface.streams] } },
        { name: "id", in: "path", required: true, description: "the aggregate id", schema: string },
      ];
      const admin = { security: [{ adminToken: [] }] };
      const refusals = {
        "400": ref("#/components/responses/AnswerBadRequest"),
        "401": ref("#/components/responses/AnswerUnauthorized"),
        "404": ref("#/components/responses/AnswerNotFound"),
        ...adminThrottled,
      };
      paths["/v1/streams/{stream}/{id}"] = {
        get: {
          operationId: "read_stream",
          tags: ["Streams"],
          summary: "The stored events of one aggregate, page by page (admin)",
          parameters: [
            ...target,
            { name: "from", in: "query", schema: { type: "integer", minimum: 0, default: 0 } },
            { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 } },
          ],
          responses: { "200": jsonReply("one page", schemaRef("StreamPage")), ...refusals },
          ...admin,
        },
        delete: {
          operationId: "delete_stream",
          tags: ["Streams"],
          summary: "Delete a stream: soft (kept, answers not_found) or hard (removed) (admin)",
          parameters: [
            ...target,
            { name: "mode", in: "query", schema: { type: "string", enum: ["soft", "hard"], default: "soft" } },
            { name: "expectedVersion", in: "query", schema: integer },
          ],
          responses: { "200": jsonReply("deleted", schemaRef("Answer")), "409": jsonReply("wrong_expected_version", schemaRef("Answer")), ...refusals },
          ...admin,
        },
      };
      paths["/v1/streams/{stream}/{id}/state"] = {
        get: {
          operationId: "stream_state_at",
          tags: ["Streams"],
          summary: "The state of one aggregate at a version or time, replayed through today's upcasters (admin)",
          parameters: [...target, ...pastPoint],
          responses: { "200": jsonReply("the state then", schemaRef("PastState")), ...refusals },
          ...admin,
        },
      };
      paths["/v1/streams/{stream}/{id}/state/dry-run"] = {
        post: {
          operationId: "stream_dry_run_at",
          tags: ["Streams"],
          summary: "A command's dry run against the state at a version or time: nothing is stored (admin)",
          parameters: [...target, ...pastPoint],
          requestBody: jsonBody(dryRunBody, "the command, its request, and whom it runs as", true),
          responses: {
            "200": jsonReply("the state then, with what the command would have answered (whatever it answered)", schemaRef("PastState")),
            "413": jsonReply("payload_too_large", schemaRef("Answer")),
            ...refusals,
          },
          ...admin,
        },
      };
      if (surface.erasure === true) {
        Object.assign(schemas, { ErasureReceipt: erasureReceipt });
        paths["/v1/streams/{stream}/{id}/erase"] = {
          post: {
            operationId: "erase_aggregate",
            tags: ["Streams"],
            summary: "Erase one aggregate end to end — its storage, schedules, read model rows, dead letters — and answer the receipt (admin)",
            parameters: target,
            requestBody: jsonBody(eraseBody, "who asks and why (both optional)", false),
            responses: { "200": jsonReply("the receipt (the same again once nothing is left)", schemaRef("ErasureReceipt")), "413": jsonReply("payload_too_large", schemaRef("Answer")), ...refusals },
            ...admin,
          },
        };
        paths["/v1/streams/{stream}/{id}/erasures"] = {
          get: {
            operationId: "aggregate_erasures",
            tags: ["Streams"],
            summary: "The receipts of an aggregate's erasures, newest first: the audit log (admin)",
            parameters: target,
            responses: { "200": jsonReply("its receipts", object({ erasures: { type: "array", items: schemaRef("ErasureReceipt") } })), ...refusals },
            ...admin,
          },
        };
      }
    }

    const info: JsonObject = { title: options.title ?? "x3m-system API", version: options.version ?? "1" };
    if (options.description !== undefined) info["description"] = options.description;
    const tags = [
      { name: "Services", description: "Call a public service: POST its raw request, get the envelope back." },
      { name: "Dry runs", description: "The same calls, validated and decided, with nothing persisted." },
      ...(surface.scheduler ? [{ name: "Schedules", description: "Messages delivered later, once or on a cron." }] : []),
      ...(surface.streams !== null ? [{ name: "Streams", description: "Aggregate event streams (admin token)." }] : []),
      { name: "Gateway", description: "What this deployment offers." },
    ];
    return {
      openapi: "3.1.0",
      info,
      tags,
      paths,
      components: {
        schemas,
        responses: baseResponses(),
        parameters: baseParameters(),
        headers: baseHeaders(),
        ...(Object.keys(securitySchemes).length > 0 ? { securitySchemes } : {}),
      },
    };
  };
}
