/**
 * x3m-system's typed HTTP client: `createClient<typeof router>({ baseUrl })` calls the gateway's
 * routes with the request types of the app's routers. It uses only `fetch` (browsers, Workers,
 * Node, Deno, Bun) and imports nothing else at run time.
 */
export * from "./client.js";
export * from "./types.js";
