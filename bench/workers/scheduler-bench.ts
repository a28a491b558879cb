// The Worker the scheduler benchmark runs on local workerd (Miniflare): a SchedulerObject with a
// trivial service, and the baselines it is compared with.
import { DurableObject } from "cloudflare:workers";
import { newMessage, ok, Router, silentLogger, type Message } from "../../src/core/index.js";
import { schedulerObject } from "../../src/objects/index.js";

/**
 * How late each delivery reached the service (ms), read through RPC — numbers, as the baseline
 * keeps them: an object kept for every delivery of every drain grew a heap the baseline did not
 * have (the bench's bookkeeping, not the library's work).
 */
const lateness: number[] = [];

const services = new Router({ authorize: () => "ok" }).service("noop", (message: Message) => {
  lateness.push(Date.now() - Date.parse(String(message.assigns["dispatchAt"])));
  return ok(message);
});

// The bench fills one key with 10,000 anonymous messages: one owner, as many as a key may hold.
const Base = schedulerObject({ services: [services], logger: silentLogger, limits: { perOwner: 10_000 } });

/** The library's scheduler, with RPC methods for the benchmark to fill it and read it. */
export class BenchScheduler extends Base {
  /** Schedules `dues.length` messages to `noop`, due at the given times (epoch ms). */
  async fill(key: string, dues: number[]): Promise<void> {
    for (const due of dues) {
      const request = { key, message: newMessage("noop"), spec: { at: new Date(due).toISOString() } };
      const answer = await this.fetch(
        new Request("https://scheduler.x3m/schedule", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request) }),
      );
      const body = (await answer.json()) as { response?: { status: string } };
      if (!answer.ok || body.response?.status !== "ok") throw new Error(JSON.stringify(body));
    }
  }

  /** Makes every stored message due now and rings the alarm: the drain starts. */
  async makeDue(): Promise<void> {
    this.ctx.storage.sql.exec("UPDATE schedules SET due_at = ?", Date.now());
    await this.ctx.storage.setAlarm(Date.now());
  }

  /** Messages not delivered yet. */
  pending(): number {
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM schedules").one().n;
  }

  /** How late each delivery was (ms), emptied. */
  takeLateness(): number[] {
    return lateness.splice(0);
  }
}

/**
 * The baseline: a hand-written multiplexing scheduler in one Durable Object, with the same
 * batching — select due rows, call the handler directly, delete them; up to ten batches of 100 per
 * ring of the alarm, then re-arm it — without router, dispatcher, hooks, leases or retries.
 */
export class BaselineDrain extends DurableObject {
  #handled = 0;
  #lateness: number[] = [];

  /** Stores `dues.length` rows due at the given times and arms the alarm at the earliest. */
  async fill(dues: number[]): Promise<void> {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS due (id TEXT PRIMARY KEY, due_at INTEGER NOT NULL, message TEXT NOT NULL)");
    sql.exec("CREATE INDEX IF NOT EXISTS due_by_time ON due (due_at)");
    for (const due of dues) {
      const message = newMessage("noop");
      sql.exec("INSERT INTO due (id, due_at, message) VALUES (?, ?, ?)", message.id, due, JSON.stringify(message));
    }
    await this.ctx.storage.setAlarm(dues.reduce((a, b) => Math.min(a, b)));
  }

  /** Makes every stored row due now and rings the alarm: the drain starts. */
  async makeDue(): Promise<void> {
    this.ctx.storage.sql.exec("UPDATE due SET due_at = ?", Date.now());
    await this.ctx.storage.setAlarm(Date.now());
  }

  override async alarm(): Promise<void> {
    const sql = this.ctx.storage.sql;
    for (let batch = 0; batch < 10; batch += 1) {
      const rows = sql.exec<{ id: string; message: string; due_at: number }>("SELECT id, message, due_at FROM due WHERE due_at <= ? ORDER BY due_at LIMIT 100", Date.now()).toArray();
      for (const row of rows) {
        const message = JSON.parse(row.message) as Message;
        ok(message);
        this.#handled += 1;
        this.#lateness.push(Date.now() - row.due_at);
        sql.exec("DELETE FROM due WHERE id = ?", row.id);
      }
      if (rows.length < 100) break;
    }
    const next = sql.exec<{ next: number | null }>("SELECT MIN(due_at) AS next FROM due").one().next;
    // Never at or before now: an alarm set, inside alarm(), to the ringing alarm's own time counts
    // as unchanged and is deleted when the handler returns (the drain then stalled now and then).
    if (next !== null) await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 1));
  }

  /** Rows not handled yet. */
  pending(): number {
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM due").one().n;
  }

  /** How late each handled row was (ms), emptied. */
  takeLateness(): number[] {
    return this.#lateness.splice(0);
  }
}

type Env = { SCHEDULER: DurableObjectNamespace<BenchScheduler>; DRAIN: DurableObjectNamespace<BaselineDrain> };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const body = request.method === "POST" ? ((await request.json()) as { key: string; dues: number[] }) : null;
    const key = url.searchParams.get("key") ?? body?.key ?? "bench";
    switch (url.pathname) {
      case "/scheduler/fill":
        await env.SCHEDULER.get(env.SCHEDULER.idFromName(key)).fill(key, body?.dues ?? []);
        return Response.json({ ok: true });
      case "/scheduler/make-due":
        await env.SCHEDULER.get(env.SCHEDULER.idFromName(key)).makeDue();
        return Response.json({ ok: true });
      case "/scheduler/pending":
        return Response.json({ pending: await env.SCHEDULER.get(env.SCHEDULER.idFromName(key)).pending() });
      case "/scheduler/lateness":
        return Response.json({ lateness: await env.SCHEDULER.get(env.SCHEDULER.idFromName(key)).takeLateness() });
      case "/drain/fill":
        await env.DRAIN.get(env.DRAIN.idFromName(key)).fill(body?.dues ?? []);
        return Response.json({ ok: true });
      case "/drain/make-due":
        await env.DRAIN.get(env.DRAIN.idFromName(key)).makeDue();
        return Response.json({ ok: true });
      case "/drain/pending":
        return Response.json({ pending: await env.DRAIN.get(env.DRAIN.idFromName(key)).pending() });
      case "/drain/lateness":
        return Response.json({ lateness: await env.DRAIN.get(env.DRAIN.idFromName(key)).takeLateness() });
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
