// Auxiliary Worker "node-faulty": claims services and then misbehaves — garbage, 5xx, hangs.
import { WorkerEntrypoint } from "cloudflare:workers";


let requests = 0;

/** A node entrypoint that lies. */
export class X3mNode extends WorkerEntrypoint {
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/test/count") return Response.json({ requests });
    requests += 1;
    if (url.pathname === "/x3m/node/services") return Response.json({ services: ["shared", "garbage", "broken", "hangs", "quorum"] });
    const { message } = (await request.json()) as { message: { serviceName: string } };
    switch (message.serviceName) {
      case "garbage":
        return new Response("this is not JSON", { status: 200 });
      case "hangs":
        // A pending timer keeps the request open (a bare unresolved promise would be cancelled as hung).
        await new Promise((resolve) => setTimeout(resolve, 20_000));
        return new Response("too late");
      default:
        return new Response("overloaded", { status: 503 });
    }
  }
}

export default { fetch: () => new Response("not here", { status: 404 }) };
