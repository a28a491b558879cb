// The second demo Worker: foreign exchange. Its services are reached only through its node
// entrypoint (X3mNode), by the gateway Worker's service binding — never from the public internet.
import * as v from "valibot";
import { error, newCausedBy, ok, Router } from "../../src/core/index.js";
import { nodeEntrypoint } from "../../src/objects/index.js";

/** Units of each currency per 1 EUR (fixed: it is a demo). */
const perEuro: Record<string, number> = { EUR: 1, USD: 1.08, GBP: 0.85, CHF: 0.95, JPY: 161 };

const Currency = v.picklist(Object.keys(perEuro));
const Convert = v.object({ amount: v.pipe(v.number(), v.minValue(0), v.maxValue(1e12)), from: Currency, to: Currency });

/** Exchange rates and conversion, open to every caller. */
export const fx = new Router({ authorize: () => "ok" })
  .service("fx_rates", (message) => ok(message, { base: "EUR", rates: perEuro, servedBy: "fx" }))
  .service("convert", { schema: Convert }, async (message, { dispatch }) => {
    const { amount, from, to } = message.request;
    const rate = await dispatch(newCausedBy("rate_between", message, { rawRequest: { from, to } }));
    if (rate.response?.status !== "ok" || typeof rate.response.payload !== "number") return error(message, "no_rate");
    const converted = Math.round(amount * rate.response.payload * 100) / 100;
    return ok(message, { amount: converted, currency: to, rate: rate.response.payload, servedBy: "fx" });
  })
  .privateService("rate_between", (message) => {
    const from = perEuro[String(message.rawRequest?.["from"])];
    const to = perEuro[String(message.rawRequest?.["to"])];
    return from === undefined || to === undefined ? error(message, "unknown_currency") : ok(message, to / from);
  });

/** The entrypoint other Workers bind to (see the gateway's wrangler.toml). */
export class X3mNode extends nodeEntrypoint({ services: [fx], node: "fx" }) {}

/** The public face of this Worker serves nothing: its services are for other Workers. */
export default {
  fetch: () => Response.json({ response: { status: "error", reason: "not_found" } }, { status: 404 }),
};
