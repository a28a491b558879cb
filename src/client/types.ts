import type { ServiceSpecs } from "../core/messaging/contracts.js";
import type { DomainEvent } from "../core/messaging/message.js";
import type { ServiceResponse } from "../core/messaging/response.js";
import type { ServicesOf } from "../core/messaging/router.js";
import type { MissedRuns } from "../core/scheduling/schedule.js";
import type { ScheduledSummary } from "../core/scheduling/scheduler.js";
import type { ScheduleOutcome } from "../core/scheduling/schedule-store.js";
import type { JsonObject } from "../core/shared/json.js";

/*
 * The client's types. Everything it knows of an app comes from the TYPES of the app's routers
 * (`typeof router`), imported with `import type`: no server code reaches the client's bundle.
 */

/** Anything whose type knows its services: a `Router` (see `ServicesOf`). */
export type HasServices = { readonly "~services": ServiceSpecs };

type UnionToIntersection<U> = (U extends unknown ? (union: U) => void : never) extends (intersection: infer I) => void ? I : never;

/**
 * The services that routers `R` declare, merged: `R` is one router's type, a union of them
 * (`typeof greeter | typeof bank`) or a tuple (`[typeof greeter, typeof bank]`).
 */
export type ServicesOfRouters<R> = UnionToIntersection<ServicesOf<R extends readonly unknown[] ? R[number] : R>>;

/** A client for any service: names are strings and requests any JSON object (no router type given). */
export type UntypedServices = { [service: string]: JsonObject };

/**
 * The services a client of routers `R` may call, with their request types: the public ones only
 * (private services are invisible from outside, so naming one does not compile). Without `R`,
 * {@link UntypedServices}.
 */
export type PublicServices<R> = unknown extends R
  ? UntypedServices
  : {
      [K in keyof ServicesOfRouters<R> as ServicesOfRouters<R>[K] extends { visibility: "public" } ? K : never]: ServicesOfRouters<R>[K] extends {
        request: infer Request;
      }
        ? Request
        : never;
    };

/** The names of the services in map `P`. */
export type ServiceName<P> = keyof P & string;

/** The reply to a service call over HTTP: the gateway's envelope (README, "The HTTP contract (v1)"). */
export type ClientEnvelope<Service extends string = string> = {
  messageId: string;
  correlationId: string;
  causationId: string;
  service: Service;
  /** What happened: a tagged union on `status` (`ok`, `created`, `validation_error`, `error`…). */
  response: ServiceResponse;
  /** Only for a verbose dry run: the events the command would have stored. */
  events?: DomainEvent[];
};

/** Options of every request the client sends. */
export type RequestOptions = {
  /**
   * The bearer token for this request (`Authorization: Bearer …`), instead of the client's;
   * `null` sends none.
   */
  token?: string | null;
  /** Aborts the request: the result is then a failure with reason `aborted`. */
  signal?: AbortSignal;
  /** Gives up after this many ms (the client's `timeoutMs` otherwise; `Infinity`: no limit): a failure with reason `timeout`. */
  timeoutMs?: number;
  /** More request headers. */
  headers?: Readonly<Record<string, string>>;
  /** The most bytes of the answer's body to read (the client's `maxAnswerBytes` otherwise): more is a failure with reason `too_large`. */
  maxAnswerBytes?: number;
};

/** Options of a service call: the message's ids, dry run, optimistic concurrency, trace. */
export type CallOptions = RequestOptions & {
  /** `X-Message-Id`: the idempotency key; a retry with the same id is applied once. */
  messageId?: string;
  /** `X-Correlation-Id`: the conversation this call belongs to. */
  correlationId?: string;
  /** `X-Causation-Id`: the message that caused this one. */
  causationId?: string;
  /** `X-Expected-Version`: the aggregate version the command requires (-1: must not exist yet). */
  expectedVersion?: number;
  /** `X-Dry-Run`: run without storing anything; `"verbose"` also returns the events. */
  dryRun?: boolean | "verbose";
  /** A W3C `traceparent` carried in the message's trace context. */
  traceparent?: string;
};

/** The request argument (optional when every field of the service's request is) and the options. */
export type RequestArgs<Request, Options = CallOptions> = {} extends Request
  ? [request?: Request, options?: Options]
  : [request: Request, options?: Options];

/** The HTTP side of an answer: its status and headers. */
export type Answered = { status: number; headers: Headers };

/** The gateway answered a service call: the envelope says what happened, whatever the HTTP status. */
export type CallAnswer<Service extends string = string> = Answered & {
  kind: "answer";
  envelope: ClientEnvelope<Service>;
  /** The same as `envelope.response`. */
  response: ServiceResponse;
};

/**
 * The gateway answered with a bare `{ response }` — before any message was made (a wrong base
 * URL, a route this deployment does not have, refused credentials on a listing…).
 */
export type Refused = Answered & { kind: "refused"; response: ServiceResponse };

/** Why no usable answer came back. */
export type FailureReason =
  /** The request never got an answer: connection refused, DNS, a fetch that rejected. */
  | "network"
  /** The `timeoutMs` passed first. */
  | "timeout"
  /** The caller's `signal` aborted the request. */
  | "aborted"
  /** Something answered, but not the gateway's JSON (a proxy's HTML page, a truncated body). */
  | "unexpected_answer"
  /**
   * The answer was a redirect (`status` says which, the message where it pointed; none for a
   * browser's opaque redirect), or a custom `fetch` followed one: the client follows none.
   */
  | "redirect"
  /** The answer's body is larger than `maxAnswerBytes` (by its `Content-Length`, or as it was read): it was not read further. */
  | "too_large"
  /** The request could not be built (a header value with a line break, a request that is not JSON…). */
  | "bad_input";

/** No usable answer: the client never throws, it returns this. `status` when an answer came. */
export type ClientFailure = { kind: "failure"; reason: FailureReason; message: string; status?: number };

/** What a service call (`call`, `validate`, `schedules.create`) returns. */
export type CallResult<Service extends string = string> = CallAnswer<Service> | Refused | ClientFailure;

/** What `services()` returns: the public services of the deployment. */
export type ServicesResult = (Answered & { kind: "answer"; services: string[] }) | Refused | ClientFailure;

/**
 * What `schedules.list()` returns: the caller's pending scheduled messages for a key, and how
 * their recent ones ended when they did not succeed (denied at delivery, or given up on).
 */
export type ScheduleListResult =
  | (Answered & { kind: "answer"; key: string; schedules: ScheduledSummary[]; outcomes: ScheduleOutcome[] })
  | Refused
  | ClientFailure;

/** What `schedules.cancel()` returns: `ok`, or `error not_found` (also for someone else's). */
export type CancelResult = (Answered & { kind: "answer"; response: ServiceResponse }) | ClientFailure;

/**
 * When a scheduled message is due: exactly one of `in` (ms from now), `at`, `cron` (in
 * `timeZone`, an IANA name; UTC by default) or `every` (ms); a recurring one may say what becomes
 * of the runs it `missed` while nothing ran ({@link MissedRuns}; default `"once"`).
 */
export type ScheduleWhen =
  | { in: number; at?: never; cron?: never; every?: never; timeZone?: never; missed?: never }
  | { at: string | Date; in?: never; cron?: never; every?: never; timeZone?: never; missed?: never }
  | { cron: string; timeZone?: string; missed?: MissedRuns; in?: never; at?: never; every?: never }
  | { every: number; missed?: MissedRuns; in?: never; at?: never; cron?: never; timeZone?: never };

/** `POST /v1/schedules`: a public service of `P`, its request, the shard key, and when. */
export type ScheduleInput<P, K extends ServiceName<P>> = {
  service: K;
  /** The scheduler shard: an aggregate id, a tenant… */
  key: string;
} & ({} extends P[K] ? { request?: P[K] } : { request: P[K] }) &
  ScheduleWhen;

/** Options of `schedules.create`: those of a call, without dry run (scheduling has none). */
export type ScheduleOptions = Omit<CallOptions, "dryRun">;
