import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ServiceResponse } from "../../core/messaging/response.js";

/*
 * The HTTP face of a response (the HTTP contract's status table). It belongs to the Worker side:
 * the core's responses know nothing of HTTP, so that they travel the same way between Workers,
 * Durable Objects and plain scripts.
 */

const statusByErrorReason: Readonly<Record<string, ContentfulStatusCode>> = {
  not_found: 404,
  wrong_expected_version: 409,
  already_exists: 409,
  wrong_jurisdiction: 409,
  payload_too_large: 413,
  event_too_large: 413,
  state_too_large: 413,
  idempotency_key_reused: 409,
  too_many_schedules: 429,
  too_many_attempts: 429,
  internal_error: 500,
  invalid_event: 500,
  unknown_command: 500,
  no_nodes_available: 503,
};

/** The HTTP status of a response (the HTTP contract in README.md): the gateway answers with it. */
export function httpStatus(r: ServiceResponse): ContentfulStatusCode {
  switch (r.status) {
    case "ok":
      return 200;
    case "created":
      return 201;
    case "validation_error":
      return 422;
    case "missing_id":
      return 400;
    case "unauthorized":
      return 401;
    case "forbidden":
      return 403;
    case "service_unavailable":
      return 404;
    case "service_timeout":
      return 504;
    case "error":
      // Own properties only: a reason such as "constructor" must not find Object.prototype's.
      return Object.hasOwn(statusByErrorReason, r.reason) ? (statusByErrorReason[r.reason] as ContentfulStatusCode) : 400;
  }
}
