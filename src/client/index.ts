/**
 * x3m-system's typed HTTP client: `createClient<typeof router>({ baseUrl })` calls the gateway's
 * routes with the request types of the app's routers. It uses only `fetch` (browsers, Workers,
 * Node, Deno, Bun) and imports nothing else at run time.
 *
 * This file is the entry point's public API, chosen name by name; api/client.api.md is its report.
 */
export { createClient, DEFAULT_MAX_ANSWER_BYTES, type Client, type ClientOptions } from "./client.js";
export type {
  CallOptions,
  CallResult,
  CancelResult,
  ClientEnvelope,
  ClientFailure,
  FailureReason,
  Refused,
  RequestOptions,
  ScheduleInput,
  ScheduleListResult,
  ScheduleOptions,
  ServicesResult,
} from "./types.js";
