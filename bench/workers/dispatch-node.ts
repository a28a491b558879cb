// The other node of the dispatch benchmark: one trivial public service behind its entrypoint.
import { ok, Router, silentLogger } from "../../src/core/index.js";
import { nodeEntrypoint } from "../../src/objects/node-entrypoint.js";

const remote = new Router({ authorize: () => "ok" }).service("noop_remote", (message) => ok(message));

/** The node entrypoint the gateway binds to. */
export const X3mNode = nodeEntrypoint({ services: [remote], node: "node", logger: silentLogger });

export default { fetch: () => new Response("not here", { status: 404 }) };
