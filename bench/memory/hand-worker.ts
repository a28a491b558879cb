// The hand-written side of the memory harness (bench/memory/run.mjs): what the demo's deposits,
// transfers and Workflows do, written without the library, on the same `wrangler dev` and workerd.
// Each route is one operation of a scenario; none checks identity or validates much — the point is
// which runtime resources one operation leaves behind (Durable Objects, SQLite rows, alarms,
// Workflow instances, queue messages), not the work around them.
//
//   POST /noop           nothing: the request's own path through wrangler dev and workerd
//   POST /append/<id>    one SQLite Durable Object per id, one row appended
//   POST /deposit/<id>   the same, and one queue message, projected into D1 by the consumer
//   POST /alarm/<id>     the same object, one row and its alarm set 30 s ahead (as a transfer's check)
//   POST /workflow       a Workflow instance with one trivial step
//   POST /transfer       a new transfer object (row, alarm 30 s ahead, queue message); the consumer
//                        starts a Workflow instance for it, whose three steps append to the two
//                        accounts and settle the transfer (row, alarm deleted); every write is
//                        also sent to the queue and projected into D1
import { DurableObject, WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";

type Env = {
  LOGS: DurableObjectNamespace<Log>;
  FLOW: Workflow;
  TRANSFER_FLOW: Workflow<TransferParams>;
  EVENTS: Queue<Published>;
  DB: D1Database;
};

type TransferParams = { transfer: string; from: string; to: string; amount: number };
type Published = { kind: string; id: string; n: number; transfer?: TransferParams };

const CHECK_IN_MS = 30_000;

/** One SQLite Durable Object: an append-only log of rows, and an alarm. */
export class Log extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (n INTEGER PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL, at INTEGER NOT NULL)");
  }

  #append(kind: string, body: string): number {
    this.ctx.storage.sql.exec("INSERT INTO log (kind, body, at) VALUES (?, ?, ?)", kind, body, Date.now());
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT max(n) AS n FROM log").one().n;
  }

  append(kind: string, body: string): number {
    return this.#append(kind, body);
  }

  /** Appends, then sends what it appended to the queue (an outbox in its simplest form). */
  async publish(kind: string, id: string, body: string, transfer?: TransferParams): Promise<number> {
    const n = this.#append(kind, body);
    await this.env.EVENTS.send(transfer === undefined ? { kind, id, n } : { kind, id, n, transfer });
    return n;
  }

  async appendWithAlarm(kind: string, body: string): Promise<number> {
    const n = this.#append(kind, body);
    await this.ctx.storage.setAlarm(Date.now() + CHECK_IN_MS);
    return n;
  }

  /** A transfer: recorded, its check armed, published. */
  async request(transfer: TransferParams): Promise<number> {
    const n = this.#append("requested", JSON.stringify(transfer));
    await this.ctx.storage.setAlarm(Date.now() + CHECK_IN_MS);
    await this.env.EVENTS.send({ kind: "requested", id: transfer.transfer, n, transfer });
    return n;
  }

  /** A transfer settled: recorded, its check cancelled, published. */
  async complete(id: string): Promise<number> {
    const n = this.#append("completed", "{}");
    await this.ctx.storage.deleteAlarm();
    await this.env.EVENTS.send({ kind: "completed", id, n });
    return n;
  }

  override async alarm(): Promise<void> {
    this.#append("alarm", "{}");
  }
}

/** A Workflow with one trivial step. */
export class Flow extends WorkflowEntrypoint<Env, Record<string, never>> {
  override async run(_event: WorkflowEvent<Record<string, never>>, step: WorkflowStep): Promise<number> {
    return step.do("noop", async () => 1);
  }
}

/** A transfer's process: withdraw, deposit, settle — one step each. */
export class TransferFlow extends WorkflowEntrypoint<Env, TransferParams> {
  override async run(event: WorkflowEvent<TransferParams>, step: WorkflowStep): Promise<string> {
    const { transfer, from, to, amount } = event.payload;
    const log = (name: string) => this.env.LOGS.get(this.env.LOGS.idFromName(name));
    await step.do("withdraw", async () => log(`account-${from}`).publish("withdrawn", from, JSON.stringify({ amount, transfer })));
    await step.do("deposit", async () => log(`account-${to}`).publish("deposited", to, JSON.stringify({ amount, transfer })));
    await step.do("complete", async () => log(`transfer-${transfer}`).complete(transfer));
    return "completed";
  }
}

let tableReady = false;

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    const [, route = "", id = ""] = url.pathname.split("/");
    if (request.method !== "POST") return new Response("ok");
    const log = (name: string) => env.LOGS.get(env.LOGS.idFromName(name));
    switch (route) {
      case "noop":
        return Response.json({ ok: true });
      case "append":
        return Response.json({ n: await log(`account-${id}`).append("deposited", "{\"amount\":1}") });
      case "deposit":
        return Response.json({ n: await log(`account-${id}`).publish("deposited", id, "{\"amount\":1}") });
      case "alarm":
        return Response.json({ n: await log(`alarm-${id}`).appendWithAlarm("armed", "{}") });
      case "workflow": {
        const instance = await env.FLOW.create({ id: crypto.randomUUID(), params: {} });
        return Response.json({ id: instance.id });
      }
      case "transfer": {
        const body = await request.json<{ from: string; to: string; amount: number }>();
        const transfer = { transfer: crypto.randomUUID(), ...body };
        await log(`transfer-${transfer.transfer}`).request(transfer);
        return Response.json({ id: transfer.transfer }, { status: 201 });
      }
      default:
        return new Response("not found", { status: 404 });
    }
  },

  /** The read side in its simplest form: every message inserted into D1; a requested transfer starts its Workflow. */
  async queue(batch, env): Promise<void> {
    if (!tableReady) {
      await env.DB.exec("CREATE TABLE IF NOT EXISTS projected (id TEXT NOT NULL, n INTEGER NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (id, n))");
      tableReady = true;
    }
    const statements = batch.messages.map((message) =>
      env.DB.prepare("INSERT OR IGNORE INTO projected (id, n, kind) VALUES (?, ?, ?)").bind(message.body.id, message.body.n, message.body.kind),
    );
    if (statements.length > 0) await env.DB.batch(statements);
    for (const message of batch.messages) {
      const transfer = message.body.transfer;
      if (message.body.kind === "requested" && transfer !== undefined) {
        try {
          await env.TRANSFER_FLOW.create({ id: transfer.transfer, params: transfer });
        } catch (error) {
          if (!(error instanceof Error && /already.exists/i.test(error.message))) throw error;
        }
      }
    }
  },
} satisfies ExportedHandler<Env, Published>;
