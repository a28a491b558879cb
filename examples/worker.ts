import { aggregateObject } from "../src/objects/index.js";
import { createGateway } from "../src/worker/index.js";
import { account } from "./bank/account.js";
import { accounts, bank } from "./bank/services.js";
import type { Env } from "./env.js";
import { greeter } from "./greeter.js";
import { identify } from "./identity.js";

/** The Durable Object class that holds each bank account (bound as ACCOUNTS in wrangler.toml). */
export const AccountObject = aggregateObject(account);

/** The demo Worker that `npm run dev` serves: the greeter and the bank behind the HTTP gateway. */
export default createGateway<Env>({
  services: [greeter, bank],
  identify,
  admin: { token: (env) => env.ADMIN_TOKEN, aggregates: [accounts] },
});
