import { ok, Router } from "../../src/core/index.js";

/**
 * A router for dispatcher tests: `first`, two services that authorize refuses (one with a reason
 * of its own), and one private service.
 */
export const testRouter = new Router({
  authorize: (message) => {
    switch (message.serviceName) {
      case "first":
      case "private_service":
        return "ok";
      case "custom_unauthorized_service":
        return { status: "forbidden", reason: "None shall pass!" };
      default:
        return "forbidden";
    }
  },
})
  .service("first", (message) => ok(message, "from_first"))
  .service("unauthorized_service", (message) => ok(message, "from_first"))
  .service("custom_unauthorized_service", (message) => ok(message, "from_first"))
  .privateService("private_service", (message) => ok(message, "from_private"));
