import { assign, error, ok, Router, type Message, type SchedulerHooks, type TelemetryEvent } from "../../src/core/index.js";
import { newId } from "../../src/core/shared/ids.js";
import { sleep } from "./recorders.js";

/** The scheduler's clock in tests: real time plus `offset` ms (tests move it forward). */
export const testClock = { offset: 0, now: () => Date.now() + testClock.offset };

/** One delivery a test service saw. */
export type Delivery = { id: string; service: string; attempts: unknown; assigns: Message["assigns"]; rawRequest: Message["rawRequest"] };

/** Everything the test services and hooks saw (tests share the isolate with the objects). */
export const seen = {
  deliveries: [] as Delivery[],
  saved: [] as { id: string; key: string; assigns: Message["assigns"] }[],
  responded: [] as { id: string; response: Message["response"]; attempts: unknown; assigns: Message["assigns"] }[],
  /** Users whose calls `authorize` refuses from now on. */
  revoked: new Set<string>(),
  /** Principals that no longer resolve (`reidentify` answers null). */
  gone: new Set<string>(),
  /** The scheduler's own telemetry events (scheduled_*), as the test scheduler object emitted them. */
  telemetry: [] as TelemetryEvent[],
  /** Message ids whose first serviceResponded call throws. */
  throwOnce: new Set<string>(),
};

/** A key no other test uses. */
export const freshKey = () => `k-${newId()}`;

const identityOf = (m: Message) => {
  const identity = m.assigns["identity"];
  return typeof identity === "object" && identity !== null && !Array.isArray(identity) ? String(identity["user"]) : null;
};

function record(m: Message): void {
  seen.deliveries.push({ id: m.id, service: m.serviceName, attempts: m.assigns["dispatchAttempts"], assigns: m.assigns, rawRequest: m.rawRequest });
}

/** Services that scheduled messages are delivered to in tests. */
export const scheduledServices = new Router({
  authorize: (m) => {
    const user = identityOf(m);
    return user !== null && seen.revoked.has(user) ? "forbidden" : "ok";
  },
})
  .service("record", (m) => {
    record(m);
    return ok(m);
  })
  .service("flaky", (m) => {
    record(m);
    return m.assigns["dispatchAttempts"] === 3 ? ok(m, "third time") : error(m, "boom");
  })
  .service("slow", async (m) => {
    await sleep(200);
    return ok(m);
  })
  .service("forbidden_to_all", (m) => ok(m))
  .service("stall", async (m) => {
    // Starts a delivery that takes a while: long enough for a test to crash its object meanwhile.
    record(m);
    await sleep(3000);
    return ok(m);
  });

/** The test scheduler's `reidentify`: a principal is the user of that name, unless it is gone. */
export const testReidentify = (principal: string) => (seen.gone.has(principal) ? null : { user: principal });

/**
 * The test scheduler's hooks: saving injects a value into the message; a reply other than ok is
 * retried at once, marked `redelivered` (unless its request says `noRetry`); `serviceResponded`
 * throws once for an id in `seen.throwOnce`; `slow` deliveries time out after 50 ms. Each hook
 * records what it saw in `seen`.
 */
export const testHooks: SchedulerHooks = {
  saveAlarm: (message, key) => {
    seen.saved.push({ id: message.id, key, assigns: message.assigns });
    return assign(message, "injected", "value");
  },
  serviceResponded: (reply) => {
    seen.responded.push({ id: reply.id, response: reply.response, attempts: reply.assigns["dispatchAttempts"], assigns: reply.assigns });
    if (seen.throwOnce.delete(reply.id)) throw new Error("serviceResponded is broken this once");
    const status = reply.response?.status;
    if (status === "ok" || reply.rawRequest?.["noRetry"] === true) return "ok";
    return { retry: { inMs: 0, message: assign(reply, "redelivered", true) } };
  },
  dispatchTimeout: (message) => (message.serviceName === "slow" ? 50 : 5000),
};
