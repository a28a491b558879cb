import type { Json } from "../shared/json.js";

/**
 * The answer a service gives, carried in `message.response`: a tagged union on `status`.
 *
 * Named `ServiceResponse` (not `Response`) so it never shadows the web platform's `Response`.
 */
export type ServiceResponse =
  | OkResponse
  | CreatedResponse
  | ValidationErrorResponse
  | MissingIdResponse
  | UnauthorizedResponse
  | ForbiddenResponse
  | ServiceUnavailableResponse
  | ServiceTimeoutResponse
  | ErrorResponse;

/** The request was carried out; `payload` is the answer, `version` the aggregate version after it. */
export type OkResponse = { status: "ok"; payload?: Json; version?: number };

/** Something new exists under `id`; `version` is the new aggregate's version. */
export type CreatedResponse = { status: "created"; id: string; version?: number };

/** One problem with a request: where (`path`, dotted; empty for the whole request) and what. */
export type ValidationIssue = { path: string; message: string };

/** The request did not pass validation; nothing was done. */
export type ValidationErrorResponse = { status: "validation_error"; errors: ValidationIssue[] };

/** The request lacks the id field that names the aggregate to act on. */
export type MissingIdResponse = { status: "missing_id"; field: string };

/** The caller is not identified (no or bad credentials) and the service needs an identity. */
export type UnauthorizedResponse = { status: "unauthorized"; reason?: string };

/** The caller is identified (or anonymous) but may not call this service. */
export type ForbiddenResponse = { status: "forbidden"; reason?: string };

/** No one offers this service (private services look the same from outside). */
export type ServiceUnavailableResponse = { status: "service_unavailable"; service: string };

/** The service did not answer within `timeoutMs`; it may still finish its work. */
export type ServiceTimeoutResponse = {
  status: "service_timeout";
  service: string;
  messageId: string;
  timeoutMs: number;
};

/**
 * Reasons the library itself produces in an `error` response. Apps add their own domain reasons
 * (any string); those map to HTTP 400 unless listed in {@link httpStatus}.
 */
export type LibraryErrorReason =
  | "internal_error"
  | "not_found"
  | "wrong_expected_version"
  | "already_exists"
  | "wrong_jurisdiction"
  | "invalid_json"
  | "invalid_request"
  | "invalid_header"
  | "payload_too_large"
  | "try_another_node"
  | "no_nodes_available"
  | "invalid_id"
  | "invalid_event"
  | "event_too_large"
  | "unknown_command"
  | "idempotency_key_reused"
  | "too_many_schedules"
  | "too_many_attempts"
  | "state_too_large"
  | "unknown_service";

/** The request failed for `reason`; `details` says more when there is something safe to say. */
export type ErrorResponse = {
  status: "error";
  reason: LibraryErrorReason | (string & {});
  details?: Json;
};

/** A response that refuses a call: what `authorize` may answer instead of `"ok"`. */
export type DenialResponse = UnauthorizedResponse | ForbiddenResponse | ErrorResponse;

/** Every `status` a response can have. */
export type ResponseStatus = ServiceResponse["status"];

/** Constructors for every response shape; they never set a key to `undefined`. */
export const response = {
  /** `{status: "ok"}`, with `payload` when one is given. */
  ok(payload?: Json): OkResponse {
    return payload === undefined ? { status: "ok" } : { status: "ok", payload };
  },
  /** `{status: "created", id}`, with `version` when one is given. */
  created(id: string, version?: number): CreatedResponse {
    return version === undefined ? { status: "created", id } : { status: "created", id, version };
  },
  /** `{status: "validation_error", errors}`. */
  validationError(errors: ValidationIssue[]): ValidationErrorResponse {
    return { status: "validation_error", errors };
  },
  /** `{status: "missing_id", field}`. */
  missingId(field: string): MissingIdResponse {
    return { status: "missing_id", field };
  },
  /** `{status: "unauthorized"}`, with a `reason` when one is given. */
  unauthorized(reason?: string): UnauthorizedResponse {
    return reason === undefined ? { status: "unauthorized" } : { status: "unauthorized", reason };
  },
  /** `{status: "forbidden"}`, with a `reason` when one is given. */
  forbidden(reason?: string): ForbiddenResponse {
    return reason === undefined ? { status: "forbidden" } : { status: "forbidden", reason };
  },
  /** `{status: "service_unavailable", service}`. */
  serviceUnavailable(service: string): ServiceUnavailableResponse {
    return { status: "service_unavailable", service };
  },
  /** `{status: "service_timeout", service, messageId, timeoutMs}`. */
  serviceTimeout(service: string, messageId: string, timeoutMs: number): ServiceTimeoutResponse {
    return { status: "service_timeout", service, messageId, timeoutMs };
  },
  /** `{status: "error", reason}`, with `details` when given. */
  error(reason: ErrorResponse["reason"], details?: Json): ErrorResponse {
    return details === undefined ? { status: "error", reason } : { status: "error", reason, details };
  },
} as const;

/**
 * Whether a response says nothing about whether the call was applied — no one answered, the
 * answer was lost, or the node failed — so that sending the same message again (same id) is the
 * way to know: what scheduler retries and process steps retry.
 */
export function isTransient(answer: ServiceResponse): boolean {
  if (answer.status === "service_unavailable" || answer.status === "service_timeout") return true;
  return answer.status === "error" && (answer.reason === "internal_error" || answer.reason === "no_nodes_available" || answer.reason === "try_another_node");
}
