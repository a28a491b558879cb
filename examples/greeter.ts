import * as v from "valibot";
import { halt, newCausedBy, ok, response, Router } from "../src/core/index.js";

/** The greeter's request: a name to greet. */
const GreetRequest = v.object({ name: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(100)) });

/**
 * The seed README's greeter, open to everyone: `greet` answers `"Hello, <name>!"`. The wording
 * comes from the private service `format_greeting`, which HTTP callers and other Workers cannot
 * see: it shows a service calling another inside one Worker.
 */
export const greeter = new Router({ authorize: () => "ok" })
  .service("greet", { schema: GreetRequest }, async (message, { dispatch }) => {
    const formatted = await dispatch(
      newCausedBy("format_greeting", message, { rawRequest: { name: message.request.name }, dryRun: message.dryRun }),
    );
    if (formatted.response?.status === "ok") return ok(message, formatted.response.payload);
    return halt(message, formatted.response ?? response.error("internal_error"));
  })
  .privateService("format_greeting", (message) => ok(message, `Hello, ${String(message.rawRequest?.name)}!`));
