import { canonicalJson } from "../../core/shared/canonical-json.js";
import type { JsonObject } from "../../core/shared/json.js";
import { halt, newMessage, type Message } from "../../core/messaging/message.js";
import { childTrace } from "../../core/messaging/trace.js";
import { response } from "../../core/messaging/response.js";
import { isLibraryPrincipal } from "../../core/messaging/library-principals.js";
import { parseRequestHeaders } from "./request-headers.js";

/**
 * Turns the credentials header — `Authorization`, or the gateway's `identityHeader` — into the
 * caller's identity (stored in `assigns.identity`). Return null when the credentials are not
 * valid: the gateway answers 401 without calling anything. It is only called when the header is
 * present; without it the caller is anonymous and `authorize` decides. `jwtIdentity` and
 * `accessIdentity` make one for JSON Web Tokens.
 */
export type Identify<Env> = (authorization: string, env: Env) => JsonObject | null | Promise<JsonObject | null>;

/**
 * Who a caller is for good: a stable string for an identity (a user id, a token's subject),
 * stored in `assigns.principal`. Idempotency records and schedules belong to a principal, and a
 * scheduled message is delivered with the rights its principal has at delivery. Default: the
 * canonical JSON of the whole identity — give one that ignores roles, so that a role change does
 * not make someone else of the same user. A principal with a control character, or one that
 * starts with `process:`, is refused (401): the library keeps such names for its own work.
 */
export type PrincipalOf = (identity: JsonObject) => string;

/** The default {@link PrincipalOf}: the identity's canonical JSON. */
export const identityAsPrincipal: PrincipalOf = (identity) => canonicalJson(identity);

/**
 * A new message for `service` from the request headers (ids, dry run, expected version, trace).
 * When a header is not acceptable the message comes back halted with `invalid_header`.
 */
export function messageFromHeaders(headers: Headers, service: string, validateOnly = false): Message {
  const parsed = parseRequestHeaders(headers);
  if (!parsed.ok) {
    return halt(newMessage(service), response.error("invalid_header", { header: parsed.header, problem: parsed.problem }));
  }
  const { dryRun, expectedVersion, trace, ...ids } = parsed.fields;
  return newMessage(service, {
    ...ids,
    // The request is a span of the caller's trace (its traceparent), or the first of a new one.
    trace: childTrace(trace),
    dryRun: validateOnly && dryRun === false ? true : dryRun,
    aggregateMeta: expectedVersion === undefined ? {} : { expectedVersion },
  });
}

/**
 * The caller's assigns: `{ identity, principal }` from `identify`, `{}` when anonymous (no
 * header, or no hook), or null when credentials were presented and refused.
 */
export async function callerAssigns<Env>(
  authorization: string | undefined,
  identify: Identify<Env> | undefined,
  env: Env,
  principalOf: PrincipalOf = identityAsPrincipal,
): Promise<JsonObject | null> {
  if (authorization === undefined || identify === undefined) return {};
  const identity = await identify(authorization, env);
  if (identity === null) return null;
  const principal = principalOf(identity);
  // The library's own work runs as principals no caller may hold (see library-principals.ts).
  // Neither the default (canonical JSON: `{…}`, control characters escaped) nor a sane
  // `principalOf` makes one.
  return isLibraryPrincipal(principal) ? null : { identity, principal };
}
