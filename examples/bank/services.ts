import { aggregateHandlers, Router } from "../../src/core/index.js";
import { durableObjectAggregates } from "../../src/objects/index.js";
import type { Env } from "../env.js";
import { account } from "./account.js";

/** Bank accounts live in the ACCOUNTS Durable Object namespace, one object per account. */
export const accounts = aggregateHandlers(account, durableObjectAggregates((env: Env) => env.ACCOUNTS));

const byAccountId = { id: "account_id" };

/**
 * The bank's services. Every one of them needs an identified caller (`Authorization: Bearer …`);
 * the account itself decides who may do what (the owner or an admin).
 */
export const bank = new Router<Env>({
  authorize: (message) => (message.assigns["identity"] === undefined ? "unauthorized" : "ok"),
})
  .service("open_account", accounts.onNewAggregate("open_account", byAccountId))
  .service("ensure_account", accounts.onMaybeNewAggregate("ensure_account", byAccountId))
  .service("deposit", accounts.onAggregate("deposit", byAccountId))
  .service("withdraw", accounts.onAggregate("withdraw", byAccountId))
  .service("get_account", accounts.onAggregate("get_account", byAccountId))
  .service("close_account", accounts.onAggregate("close_account", byAccountId));
