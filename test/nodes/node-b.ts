// Auxiliary Worker "node-b": a second provider of `shared` and `quorum`; it can stop offering a service.
import { ok, Router, silentLogger } from "../../src/core/index.js";
import { nodeEntrypoint } from "../../src/objects/node-entrypoint.js";

const withdrawn = new Set<string>();

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
      return Response.json({ ok: true });
    }
    const answer = await super.fetch(request);
    if (url.pathname !== "/x3m/node/services") return answer;
    const listed = (await answer.json()) as { node: string; services: string[] };
    return Response.json({ ...listed, services: listed.services.filter((service) => !withdrawn.has(service)) });
  }
}

export default { fetch: () => new Response("not here", { status: 404 }) };
