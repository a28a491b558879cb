// The gateway Worker of the dispatch benchmark: a trivial local service, and another node
// (dispatch-node) offering a trivial service through its entrypoint.
import { ok, Router, silentLogger } from "../../src/core/index.js";
import { createGateway } from "../../src/worker/index.js";

type Env = { NODE: Fetcher };

const local = new Router({ authorize: () => "ok" }).service("noop_local", (message) => ok(message));

export default createGateway<Env>({ services: [local], node: "gateway", nodes: { node: (env) => env.NODE }, logger: silentLogger });
