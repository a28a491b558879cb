import { DurableObject } from "cloudflare:workers";
import { Hono } from "hono";
import { hc } from "hono/client";
import { PROTOCOL_BASE_URL, through, trustedAnswer } from "../../protocol/hono-protocol.js";

/*
 * The console's session generation: one number, kept by one Durable Object. A console session
 * cookie names the generation it was started in, and holds only while that is still the current
 * one; logging out starts the next, which ends every session started before — a copy of a cookie
 * kept after logout included. Nothing is stored per session.
 */

/** What the routes of a {@link ConsoleSessionObject} reach: the generation, and the step to the next. */
export interface ConsoleSessionHost {
  /** The current generation (0 until the first logout). */
  generation(): Promise<number>;
  /** Ends every session: moves to the next generation and answers it. */
  endSessions(): Promise<number>;
}

/**
 * The fetch surface of a {@link ConsoleSessionObject}: `GET /generation` answers the current
 * generation, `POST /end` moves to the next one (`{ generation }` both). The Worker side reaches
 * it through {@link durableObjectConsoleSessions} with Hono's typed client.
 */
export const consoleSessionRoutes = new Hono<{ Bindings: ConsoleSessionHost }>()
  .get("/generation", async (c) => c.json({ generation: await c.env.generation() }))
  .post("/end", async (c) => c.json({ generation: await c.env.endSessions() }));

/** The type of {@link consoleSessionRoutes}, for Hono's typed client. */
export type ConsoleSessionRoutes = typeof consoleSessionRoutes;

// The generation's key in the object's storage.
const GENERATION = "generation";

/**
 * The Durable Object class that keeps the console's session generation (see
 * {@link durableObjectConsoleSessions}). It needs no options: export it from your Worker as it is,
 * `export { ConsoleSessionObject } from "x3m-system/pages";`, bind it (e.g. as
 * `CONSOLE_SESSIONS`) and declare it under a migration's `new_sqlite_classes`.
 */
export class ConsoleSessionObject extends DurableObject implements ConsoleSessionHost {
  override async fetch(request: Request): Promise<Response> {
    return consoleSessionRoutes.fetch(request, this);
  }

  async generation(): Promise<number> {
    return (await this.ctx.storage.get<number>(GENERATION)) ?? 0;
  }

  async endSessions(): Promise<number> {
    // No other request runs between the read and the write: storage operations hold the input gate.
    const next = (await this.generation()) + 1;
    await this.ctx.storage.put(GENERATION, next);
    return next;
  }
}

/** Where the console keeps its session generation (see {@link durableObjectConsoleSessions}). */
export type ConsoleSessions<Env> = {
  /** The current generation: a session started in an earlier one is over. */
  generation(env: Env): Promise<number>;
  /** Ends every console session (logout): moves to the next generation and answers it. */
  endAll(env: Env): Promise<number>;
};

/** The typed client of the ConsoleSessionObject protocol, made once (each call is given the object's `fetch`). */
const client = hc<ConsoleSessionRoutes>(PROTOCOL_BASE_URL);

/**
 * The console's sessions in a {@link ConsoleSessionObject} namespace: one object, named
 * "console", reached through Hono's typed client over `stub.fetch`. Give it to the browser pages
 * as `browserPages({ console: { sessions: durableObjectConsoleSessions((env) => env.CONSOLE_SESSIONS) } })`. A
 * transport failure rejects (the console then answers 500 rather than let anyone in).
 */
export function durableObjectConsoleSessions<Env>(namespace: (env: Env) => DurableObjectNamespace): ConsoleSessions<Env> {
  const objectOf = (env: Env) => {
    const ns = namespace(env);
    return through(ns.get(ns.idFromName("console")));
  };
  return {
    async generation(env: Env): Promise<number> {
      const answer = await client.generation.$get({}, objectOf(env));
      return (await trustedAnswer<{ generation: number }>(answer, "console sessions")).generation;
    },
    async endAll(env: Env): Promise<number> {
      const answer = await client.end.$post({}, objectOf(env));
      return (await trustedAnswer<{ generation: number }>(answer, "console sessions")).generation;
    },
  };
}
