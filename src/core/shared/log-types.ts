/*
 * What a logger is — its levels, its fields, its shape — apart from the loggers themselves, so that
 * the formats (log-text.ts, pretty-logger.ts) and the loggers (logger.ts) all build on it without
 * importing each other in a circle.
 */

/** How much a logger says; each level includes the ones after it. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Fields added to a log line; values are serialised as JSON. */
export type LogFields = { [key: string]: unknown };

/** A structured logger: one method per level, a message and fields. */
export type Logger = { [L in LogLevel]: (message: string, fields?: LogFields) => void };
