// Auxiliary Worker "node-a" for the distribution tests: two routers behind its node entrypoint.
import { ok, Router, silentLogger } from "../../src/core/index.js";
import { tryAnotherNode } from "../../src/core/messaging/message.js";
import { nodeEntrypoint } from "../../src/objects/node-entrypoint.js";

const first = new Router({ authorize: (m) => (m.serviceName === "forbidden_remote" ? "forbidden" : "ok") })
  .service("echo", (m) =>
    ok(m, {
      node: "node-a",
      serviceName: m.serviceName,
      id: m.id,
      correlationId: m.correlationId,
      causationId: m.causationId,
      dryRun: m.dryRun,
      assigns: m.assigns,
      trace: m.trace,
    }),
  )
  .service("shared", (m) => ok(m, "node-a"))
  .service("quorum", (m) => tryAnotherNode(m, "quorum_not_met"))
  .service("slow", async (m) => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    return ok(m, "late");
  })
  .service("throws", () => {
    throw new Error("remote bug");
  })
  .service("forbidden_remote", (m) => ok(m))
  .privateService("secret", (m) => ok(m, "secret"));

const second = new Router({ authorize: () => "ok" }).service("from_second_router", (m) => ok(m, "node-a"));

/** The node entrypoint other Workers bind to. */
export const X3mNode = nodeEntrypoint({ services: [first, second], node: "node-a", logger: silentLogger });

export default {
  fetch: () => Response.json({ reached: "node-a default" }, { status: 404 }),
};
