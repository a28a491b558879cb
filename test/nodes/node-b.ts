// Auxiliary Worker "node-b": a second provider of `shared` and `quorum`; it can stop offering a
// service, and be slow to list them.
import { ok, Router, silentLogger } from "../../src/core/index.js";
import { nodeEntrypoint } from "../../src/objects/node-entrypoint.js";

const withdrawn = new Set<string>();
/** How long its service list takes to answer (a test sets it: a node slow to list). */
let listingDelayMs = 0;

const services = new Router({ authorize: () => "ok" })
  .service("shared", (m) => ok(m, "node-b"))
  .service("quorum", (m) => ok(m, "node-b"))
  .service("only_b", (m) => ok(m, "node-b"));

const Base = nodeEntrypoint({ services: [services], node: "node-b", logger: silentLogger });

/** The node entrypoint, plus a test route to withdraw a service from its list. */
export class X3mNode extends Base {
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/test/withdraw") {
      withdrawn.add(url.searchParams.get("service") ?? "");
      return Response.json({ ok: true });
    }
    if (url.pathname === "/test/restore") {
      withdrawn.clear();
      listingDelayMs = 0;
      return Response.json({ ok: true });
    }
    if (url.pathname === "/test/slow-listing") {
      listingDelayMs = Number(url.searchParams.get("ms") ?? 0);
      return Response.json({ ok: true });
    }
    const answer = await super.fetch(request);
    if (url.pathname !== "/x3m/node/services") return answer;
    if (listingDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, listingDelayMs));
    const listed = (await answer.json()) as { node: string; services: string[] };
    return Response.json({ ...listed, services: listed.services.filter((service) => !withdrawn.has(service)) });
  }
}

export default { fetch: () => new Response("not here", { status: 404 }) };
