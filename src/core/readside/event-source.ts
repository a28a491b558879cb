import type { AggregateClient } from "../aggregates/aggregate-protocol.js";
import { projectedEvent, type ProjectedEvent } from "./event-envelope.js";

/**
 * Where the read side reads events back from their streams: to fill a gap, to read an event that
 * was too large for the queue, to catch up or rebuild a subscriber. Events come in today's shape.
 */
export interface EventSource {
  /**
   * The events of stream `streamName` (of aggregate type `stream`) with versions `from` to `to`
   * (inclusive; `to` may be Infinity), in order — fewer when the stream has fewer.
   */
  read(stream: string, streamName: string, from: number, to: number): Promise<ProjectedEvent[]>;
}

/** Events per stream read. */
const PAGE = 500;

/**
 * An {@link EventSource} over the aggregates' own clients, by aggregate type: for example
 * `{ account: durableObjectAggregates((env) => env.ACCOUNTS) }`. Reading a stream goes to its
 * Durable Object, in order with the commands it runs.
 */
export function aggregateSource<Env>(clients: { readonly [stream: string]: AggregateClient<Env> }, env: Env): EventSource {
  return {
    async read(stream, streamName, from, to) {
      const client = Object.hasOwn(clients, stream) ? clients[stream] : undefined;
      if (client === undefined) throw new Error(`no event source for aggregate type ${stream}`);
      const events: ProjectedEvent[] = [];
      let next: number | null = from;
      while (next !== null && next <= to) {
        const limit = Math.max(1, Math.min(PAGE, to - next + 1));
        const page = await client.readStream(env, streamName, { from: next, limit });
        for (const event of page.events) if (event.version <= to) events.push(projectedEvent(stream, streamName, event));
        next = page.nextFrom;
      }
      return events;
    },
  };
}
