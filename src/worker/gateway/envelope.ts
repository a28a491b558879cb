import type { DomainEvent, Message } from "../../core/messaging/message.js";
import type { ServiceResponse } from "../../core/messaging/response.js";

/** The JSON body of every reply to a service call over HTTP (the HTTP contract in README.md). */
export type Envelope = {
  messageId: string;
  correlationId: string;
  causationId: string;
  service: string;
  response: ServiceResponse;
  /** Only for `X-Dry-Run: verbose`: the events the command would have stored. */
  events?: DomainEvent[];
};

/** The envelope of a reply message; `events` only when the caller asked for a verbose dry run. */
export function envelopeOf(message: Message, fallback: ServiceResponse): Envelope {
  const envelope: Envelope = {
    messageId: message.id,
    correlationId: message.correlationId,
    causationId: message.causationId,
    service: message.serviceName,
    response: message.response ?? fallback,
  };
  if (message.dryRun === "verbose") envelope.events = message.events;
  return envelope;
}
