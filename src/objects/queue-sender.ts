import type { EventEnvelope } from "../core/readside/event-envelope.js";
import type { SendEnvelopes } from "../core/readside/outbox-publisher.js";

/**
 * Sends envelopes to a Cloudflare Queue as one `sendBatch`, as JSON (readable by any consumer,
 * in any language, and in the dashboard). The queue is looked up per send: bindings come from
 * the object's env.
 */
export function queueSender(queue: () => Queue): SendEnvelopes {
  return async (envelopes: readonly EventEnvelope[]) => {
    if (envelopes.length === 0) return;
    await queue().sendBatch(envelopes.map((body) => ({ body, contentType: "json" as const })));
  };
}
