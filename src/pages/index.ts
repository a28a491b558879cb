/**
 * x3m-system/pages: the gateway's browser side, opt in — `GET /v1/openapi.json`, the API reference
 * at `/docs` and the operations console at `/console` — mounted with
 * `createGateway({ pages: browserPages(…) })`. A Worker that does not import it bundles none of it.
 *
 * This file is the entry point's public API, chosen name by name; api/pages.api.md is its report.
 */
export { browserPages, type BrowserPagesOptions } from "./browser-pages.js";
export type { OpenApiOptions } from "./openapi.js";
export type { JsonSchemaConverter } from "./json-schema.js";
export type { ConsoleSettings } from "./console/console-routes.js";
export { ConsoleSessionObject, durableObjectConsoleSessions, type ConsoleSessions } from "./console/console-session-object.js";
