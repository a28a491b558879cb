import type { StandardSchemaV1 } from "@standard-schema/spec";
import { newId } from "../shared/ids.js";
import type { Json, JsonObject } from "../shared/json.js";
import {
  response,
  type ServiceResponse,
  type ValidationIssue,
} from "./response.js";
import { isoTime } from "../shared/iso-time.js";

/**
 * Validate-only mode: `true` runs the service without persisting anything; `"verbose"` also
 * returns the events that would have been stored.
 */
export type DryRun = false | true | "verbose";

/**
 * Trace context that travels with a message (W3C `traceparent`, a request id, a tenant…) and is
 * written into every log line about it. It replaces the original library's logger metadata.
 */
export type TraceContext = { [key: string]: string };

/** An event produced by a command: a type name and JSON data. Aggregates narrow both. */
export type DomainEvent = { type: string; data: Json };

/**
 * Where a message stands with its aggregate: its `id`; its `version` when the command ran (the
 * aggregate sets it); and the `expectedVersion` the caller requires (HTTP `X-Expected-Version`),
 * -1 for "must not exist yet".
 */
export type AggregateMeta = { id?: string; version?: number; expectedVersion?: number };

/**
 * The envelope that travels the whole way: it carries the request in, the response out, and the
 * ids that tie a conversation together. It is plain JSON and survives a JSON round trip unchanged.
 * Helpers in this module never mutate a message; they return a new one.
 *
 * `Request` is the type of the validated `request`; `Event` the type of the events it carries.
 */
export type Message<Request = unknown, Event extends DomainEvent = DomainEvent> = {
  /** The service that should handle it. */
  serviceName: string;
  /** Unique id; also the idempotency key of the command it carries. */
  id: string;
  /** Id of the message that started the conversation. */
  correlationId: string;
  /** Id of the message that directly caused this one. */
  causationId: string;
  /** Trace context propagated to every log line and every message caused by this one. */
  trace: TraceContext;
  /** When it was dispatched (ISO 8601, UTC); the dispatcher refreshes it. */
  invokedAt: string;
  /** Validate-only mode. */
  dryRun: DryRun;
  /** The request as received (e.g. the HTTP body), or null. */
  rawRequest: JsonObject | null;
  /** The validated, structured request, or null before validation. */
  request: Request | null;
  /** False once the request failed validation. */
  valid: boolean;
  /** Data shared along the pipeline, such as the caller's `identity`. */
  assigns: JsonObject;
  /** The answer, or null while there is none. */
  response: ServiceResponse | null;
  /** Events produced, in the order they were added. */
  events: Event[];
  /** The aggregate id and version the message acts on. */
  aggregateMeta: AggregateMeta;
  /** True when `response` is final and no further processing should happen. */
  halted: boolean;
};

/** Options of {@link newMessage}. */
export type NewMessageOptions = {
  /** The message id; generated (UUIDv7) when missing or null. */
  id?: string | null;
  /** Defaults to the id. */
  correlationId?: string | null;
  /** Defaults to the correlation id (as in the original library's code). */
  causationId?: string | null;
  dryRun?: DryRun;
  rawRequest?: JsonObject | null;
  assigns?: JsonObject;
  trace?: TraceContext;
  aggregateMeta?: AggregateMeta;
};

/** A new message for `serviceName`. */
export function newMessage(serviceName: string, options: NewMessageOptions = {}): Message {
  const id = options.id ?? newId();
  const correlationId = options.correlationId ?? id;
  return {
    serviceName,
    id,
    correlationId,
    causationId: options.causationId ?? correlationId,
    trace: { ...(options.trace ?? {}) },
    invokedAt: isoTime(),
    dryRun: options.dryRun ?? false,
    rawRequest: options.rawRequest ?? null,
    request: null,
    valid: true,
    assigns: { ...(options.assigns ?? {}) },
    response: null,
    events: [],
    aggregateMeta: { ...(options.aggregateMeta ?? {}) },
    halted: false,
  };
}

/** Options of {@link newCausedBy}. */
export type CausedByOptions = {
  /**
   * The new message's id (generated when missing). Derive it from the parent's id (for example
   * `${parent.id}:debit`) when the parent may be retried: its children are then applied once too.
   */
  id?: string;
  rawRequest?: JsonObject | null;
  /** Not inherited from the parent unless passed (as in the original library). */
  assigns?: JsonObject;
  /**
   * Not inherited from the parent unless passed (as in the original library): a service that
   * calls another during a dry run should pass `dryRun: parent.dryRun`.
   */
  dryRun?: DryRun;
};

/**
 * A new message caused by `parent`: fresh id, the parent's correlation id, the parent's id as
 * causation id, and the parent's trace context.
 */
export function newCausedBy(
  serviceName: string,
  parent: Message<unknown, DomainEvent>,
  options: CausedByOptions = {},
): Message {
  return newMessage(serviceName, {
    id: options.id ?? null,
    correlationId: parent.correlationId,
    causationId: parent.id,
    trace: parent.trace,
    rawRequest: options.rawRequest ?? null,
    assigns: options.assigns ?? {},
    dryRun: options.dryRun ?? false,
  });
}

/** The same message addressed to another service. */
export function toService<R, E extends DomainEvent>(message: Message<R, E>, serviceName: string): Message<R, E> {
  return { ...message, serviceName };
}

/** The message with `assigns[key] = value`. */
export function assign<R, E extends DomainEvent>(message: Message<R, E>, key: string, value: Json): Message<R, E> {
  return { ...message, assigns: { ...message.assigns, [key]: value } };
}

/** The message with its final `response` set and `halted` true. */
export function halt<R, E extends DomainEvent>(message: Message<R, E>, r: ServiceResponse): Message<R, E> {
  return { ...message, response: r, halted: true };
}

/** Halts with `{status: "ok"}`, or `{status: "ok", payload}`. */
export function ok<R, E extends DomainEvent>(message: Message<R, E>, payload?: Json): Message<R, E> {
  return halt(message, response.ok(payload));
}

/** Halts with `{status: "created", id}`. */
export function created<R, E extends DomainEvent>(message: Message<R, E>, id: string): Message<R, E> {
  return halt(message, response.created(id));
}

/** Halts with `{status: "error", reason}` (and `details` when given). */
export function error<R, E extends DomainEvent>(message: Message<R, E>, reason: string, details?: Json): Message<R, E> {
  return halt(message, response.error(reason, details));
}

/**
 * Halts with `error try_another_node`: this provider cannot serve the message now (no quorum, a
 * shard elsewhere…) and the dispatcher should try the next one.
 */
export function tryAnotherNode<R, E extends DomainEvent>(message: Message<R, E>, reason: Json): Message<R, E> {
  return halt(message, response.error("try_another_node", reason));
}

/** The message with a valid, structured `request` (not halted). */
export function putRequest<T, E extends DomainEvent>(message: Message<unknown, E>, request: T): Message<T, E> {
  return { ...message, request, valid: true };
}

/** The message marked invalid and halted with `validation_error` listing `errors`. */
export function putValidationErrors<T, E extends DomainEvent>(
  message: Message<unknown, E>,
  errors: ValidationIssue[],
): Message<T, E> {
  return { ...message, request: null, valid: false, response: response.validationError(errors), halted: true };
}

/**
 * Validates `rawRequest` (null counts as `{}`) with any Standard Schema validator (zod, valibot,
 * arktype…). Valid: the parsed value becomes `request`. Invalid: the message halts with
 * `validation_error` and a readable list of issues.
 */
export async function validateRequest<S extends StandardSchemaV1, E extends DomainEvent>(
  message: Message<unknown, E>,
  schema: S,
): Promise<Message<StandardSchemaV1.InferOutput<S>, E>> {
  const result = await schema["~standard"].validate(message.rawRequest ?? {});
  if (result.issues === undefined) {
    return putRequest(message, result.value as StandardSchemaV1.InferOutput<S>);
  }
  return putValidationErrors(message, result.issues.map(toValidationIssue));
}

function toValidationIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  const path = (issue.path ?? [])
    .map((segment) => (typeof segment === "object" ? segment.key : segment))
    .map((key) => String(key))
    .join(".");
  return { path, message: issue.message };
}

/** The message with `rawRequest[key] = value` (a null raw request counts as `{}`). */
export function putInRawRequest<R, E extends DomainEvent>(message: Message<R, E>, key: string, value: Json): Message<R, E> {
  return { ...message, rawRequest: { ...(message.rawRequest ?? {}), [key]: value } };
}

/** The message with `event` appended to its events; `null`/`undefined` leave it unchanged. */
export function addEvent<R, E extends DomainEvent>(message: Message<R, E>, event: E | null | undefined): Message<R, E> {
  if (event === null || event === undefined) return message;
  return { ...message, events: [...message.events, event] };
}

/** Options of {@link prepareAggregateId}. */
export type PrepareAggregateIdOptions = {
  /**
   * When the field is missing, use the message's id (a UUIDv7 unless the caller chose one) as the
   * aggregate id, and write it into the raw request too.
   */
  generateIfMissing?: boolean;
};

/**
 * Reads the aggregate id from `rawRequest[idField]` into `aggregateMeta.id`. A non-empty string
 * or a finite number counts as an id. Missing: taken from the message id when
 * `generateIfMissing` — so that a retry of the same message reaches the same aggregate —
 * otherwise the message halts with `missing_id`.
 */
export function prepareAggregateId<R, E extends DomainEvent>(
  message: Message<R, E>,
  idField: string,
  options: PrepareAggregateIdOptions = {},
): Message<R, E> {
  const raw = message.rawRequest?.[idField];
  if ((typeof raw === "string" && raw !== "") || (typeof raw === "number" && Number.isFinite(raw))) {
    return { ...message, aggregateMeta: { ...message.aggregateMeta, id: String(raw) } };
  }
  if (options.generateIfMissing === true && (raw === undefined || raw === null)) {
    const id = message.id;
    return { ...putInRawRequest(message, idField, id), aggregateMeta: { ...message.aggregateMeta, id } };
  }
  return halt(message, response.missingId(idField));
}
