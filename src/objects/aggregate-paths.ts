/** The routes of an AggregateObject's fetch protocol (both sides of it import them from here). */
export const AGGREGATE_PATHS = {
  command: "/command",
  events: "/events",
  delete: "/delete",
} as const;

/** The origin of requests to an AggregateObject; only its path matters. */
export const AGGREGATE_ORIGIN = "https://aggregate.x3m";
