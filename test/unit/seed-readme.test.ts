import { describe, expect, it } from "vitest";
import { Dispatcher, newMessage, ok, Router, type Message } from "../../src/core/index.js";

// The seed README's minimal example, written with this library's API exactly as README.md shows it.
describe("the seed README example", () => {
  it("a router with one service, a dispatch by name, and Hello, Ada!", async () => {
    const greet = (message: Message) => ok(message, `Hello, ${String(message.rawRequest?.["name"])}!`);

    const router = new Router({ authorize: () => "ok" }).service("greet", greet);
    const dispatcher = new Dispatcher({ services: [router], env: {} });

    const reply = await dispatcher.dispatch(newMessage("greet", { rawRequest: { name: "Ada" } }));

    expect(reply.response).toEqual({ status: "ok", payload: "Hello, Ada!" });
  });

  it("without authorize, the same router refuses with forbidden (deny by default)", async () => {
    const router = new Router().service("greet", (message) => ok(message, "never"));
    const dispatcher = new Dispatcher({ services: [router], env: {} });
    const reply = await dispatcher.dispatch(newMessage("greet", { rawRequest: { name: "Ada" } }));
    expect(reply.response).toEqual({ status: "forbidden" });
  });
});
