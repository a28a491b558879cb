import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Message } from "../../core/messaging/message.js";
import { response, type ServiceResponse } from "../../core/messaging/response.js";
import { httpStatus } from "./http-status.js";
import { envelopeOf } from "./envelope.js";

/**
 * Answers with a message's envelope, its ids as headers, and the HTTP status of its response
 * (or `status`, when given).
 */
export function replyWith(c: Context, message: Message, status?: ContentfulStatusCode): Response {
  const envelope = envelopeOf(message, response.error("internal_error"));
  c.header("X-Message-Id", message.id);
  c.header("X-Correlation-Id", message.correlationId);
  c.header("X-Causation-Id", message.causationId);
  return c.json(envelope, status ?? httpStatus(envelope.response));
}

/**
 * {@link replyWith}'s answer made without a context — for the service calls the gateway serves
 * directly — with `Cache-Control: no-store`, as every answer of the API.
 */
export function envelopeReply(message: Message): Response {
  const envelope = envelopeOf(message, response.error("internal_error"));
  const headers = { "Cache-Control": "no-store", "X-Message-Id": message.id, "X-Correlation-Id": message.correlationId, "X-Causation-Id": message.causationId };
  return Response.json(envelope, { status: httpStatus(envelope.response), headers });
}

/** Answers `{ response }` with the response's HTTP status (routes that carry no message). */
export function answerWith(c: Context, r: ServiceResponse): Response {
  return c.json({ response: r }, httpStatus(r));
}
