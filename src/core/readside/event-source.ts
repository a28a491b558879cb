import type { AggregateClient, StreamPage } from "../aggregates/aggregate-protocol.js";
import type { StreamAccess } from "../aggregates/aggregate-router.js";
import { aggregateIdOf, projectedEvent, type ProjectedEvent } from "./event-envelope.js";

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
 * The aggregates whose streams the read side reads back: their routers, as the gateway serves
 * them (`[accounts, transfers]`), or, by aggregate type, their routers or clients
 * (`{ account: durableObjectAggregates((env) => env.ACCOUNTS) }`).
 */
export type EventSources<Env> =
  | readonly StreamAccess<Env>[]
  | { readonly [stream: string]: AggregateClient<Env> | StreamAccess<Env> };

/** How to read a page of one stream, by its full name, from what the app gave for its type. */
type PageReader<Env> = (env: Env, streamName: string, page: { from: number; limit: number }) => Promise<StreamPage>;

function readerOf<Env>(sources: EventSources<Env>, stream: string): PageReader<Env> | undefined {
  const found = isList(sources) ? sources.find((source) => source.stream === stream) : Object.hasOwn(sources, stream) ? sources[stream] : undefined;
  if (found === undefined) return undefined;
  // A client reads by stream name; a router by the aggregate's id (the part after `<stream>-`).
  if ("execute" in found) return (env, streamName, page) => found.readStream(env, streamName, page);
  return (env, streamName, page) => found.readStream(env, aggregateIdOf(found.stream, streamName), page);
}

function isList<Env>(sources: EventSources<Env>): sources is readonly StreamAccess<Env>[] {
  return Array.isArray(sources);
}

/**
 * An {@link EventSource} over the aggregates' routers or clients (see {@link EventSources}).
 * Reading a stream goes to its Durable Object, in order with the commands it runs.
 */
export function aggregateSource<Env>(sources: EventSources<Env>, env: Env): EventSource {
  return {
    async read(stream, streamName, from, to) {
      const readPage = readerOf(sources, stream);
      if (readPage === undefined) throw new Error(`no event source for aggregate type ${stream}: give readSide's sources its router`);
      const events: ProjectedEvent[] = [];
      let next: number | null = from;
      while (next !== null && next <= to) {
        const limit = Math.max(1, Math.min(PAGE, to - next + 1));
        const page = await readPage(env, streamName, { from: next, limit });
        for (const event of page.events) if (event.version <= to) events.push(projectedEvent(stream, streamName, event));
        next = page.nextFrom;
      }
      return events;
    },
  };
}
