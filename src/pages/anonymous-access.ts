import { newMessage } from "../core/messaging/message.js";
import type { ServiceRegistry } from "../core/messaging/service-registry.js";
import { withTimeout } from "../core/shared/timeout.js";

/*
 * Whether a public service needs an identified caller, as the gateway enforces it. A router's
 * `authorize` is a function, so the only one who knows is `authorize` itself: the OpenAPI document
 * asks it, for each public service of this Worker, about the call a client without a token makes —
 * an anonymous dry run with an empty request — and reports its answer, not a guess. What it cannot
 * ask (a hook that throws or does not answer in time, a service of another node) it says it does
 * not know. An `authorize` that looks at the request may answer a real call otherwise; the
 * document says "anonymous calls pass authorize" or "are refused", for a call like this one.
 */

/**
 * What `authorize` answers an anonymous caller: `allowed`, the refusal's status (`unauthorized`,
 * `forbidden`, or `refused` for an app's own denial), or `unknown` when it could not be asked.
 */
export type AnonymousAccess = "allowed" | "unauthorized" | "forbidden" | "refused" | "unknown";

/** How long one service's `authorize` may take to answer before its access is "unknown". */
export const ANONYMOUS_PROBE_TIMEOUT_MS = 1000;

/** How long the answers are kept per isolate (and per `env` object): the document is public. */
export const ANONYMOUS_PROBE_TTL_MS = 60_000;

/** Asks `authorize` of each of `services` (public services of this Worker) about an anonymous dry run with `{}`. */
async function probe<Env>(registry: ServiceRegistry<Env>, services: readonly string[], env: Env): Promise<Map<string, AnonymousAccess>> {
  const answers = await Promise.all(
    services.map(async (name): Promise<[string, AnonymousAccess]> => {
      const local = registry.find(name, true);
      if (local === undefined) return [name, "unknown"];
      const message = newMessage(name, { rawRequest: {}, dryRun: true });
      const asked = local.router.authorization(message, env).then(
        (denial): AnonymousAccess => {
          if (denial === null || denial.status === "ok") return "allowed";
          return denial.status === "unauthorized" || denial.status === "forbidden" ? denial.status : "refused";
        },
        (): AnonymousAccess => "unknown",
      );
      return [name, await withTimeout(asked, ANONYMOUS_PROBE_TIMEOUT_MS, (): AnonymousAccess => "unknown")];
    }),
  );
  return new Map(answers);
}

/**
 * What `authorize` answers an anonymous caller of each public service of this Worker, asked at
 * most once per {@link ANONYMOUS_PROBE_TTL_MS} per isolate and `env` (a Worker's `env` is the same
 * object for the requests of an isolate; another object is asked anew).
 */
export function anonymousAccess<Env>(registry: ServiceRegistry<Env>): (services: readonly string[], env: Env) => Promise<ReadonlyMap<string, AnonymousAccess>> {
  // Answers are kept once they are in, not while they are asked: on Workers, a request's
  // unfinished work never settles once its client goes away, and another request waiting on it
  // would wait for good. Requests that come before the first answers ask for themselves.
  const kept = new WeakMap<object, { at: number; services: string; answers: Map<string, AnonymousAccess> }>();
  return async (services, env) => {
    if (typeof env !== "object" || env === null) return probe(registry, services, env);
    const key = services.join("\n");
    const found = kept.get(env);
    if (found !== undefined && found.services === key && Date.now() - found.at < ANONYMOUS_PROBE_TTL_MS) return found.answers;
    const at = Date.now();
    const answers = await probe(registry, services, env);
    kept.set(env, { at, services: key, answers });
    return answers;
  };
}
