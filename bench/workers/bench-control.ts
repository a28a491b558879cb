// The control entrypoint of the aggregates bench Workers: the suite reaches it on a direct socket
// (Miniflare's unsafeDirectSockets), never through the Worker's default export, so the measured
// HTTP path stays exactly as served. Each call asks one account object for a bench-only RPC; the
// stub dies with the call, so Miniflare can evict the object afterwards (a stub held from Node
// would keep it alive).
import { WorkerEntrypoint } from "cloudflare:workers";

/** What the account objects of both sides offer the benchmark (stats: the library side only). */
export type BenchAccount = {
  bornAt(): number;
  seed(count: number): number;
  setSnapshot(mode: "none" | "latest"): number | null;
  stats?(): unknown;
};

type Call = { op: "bornAt" | "seed" | "setSnapshot" | "stats"; name: string; arg?: unknown };

/** `POST { op, name, arg }` → the JSON result of `op(arg)` on the object named `name`. */
export function controlEntrypoint<Env>(namespace: (env: Env) => DurableObjectNamespace) {
  return class Control extends WorkerEntrypoint<Env> {
    override async fetch(request: Request): Promise<Response> {
      const { op, name, arg } = (await request.json()) as Call;
      const ns = namespace(this.env);
      const stub = ns.get(ns.idFromName(name)) as unknown as BenchAccount;
      switch (op) {
        case "bornAt":
          return Response.json(await stub.bornAt());
        case "seed":
          return Response.json(await stub.seed(Number(arg)));
        case "setSnapshot":
          return Response.json(await stub.setSnapshot(arg === "latest" ? "latest" : "none"));
        case "stats":
          return Response.json(stub.stats === undefined ? null : await stub.stats());
        default:
          return Response.json({ error: `unknown op ${String(op)}` }, { status: 400 });
      }
    }
  };
}
