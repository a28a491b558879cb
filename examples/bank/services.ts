import { aggregateRouter } from "../../src/core/index.js";
import { durableObjectAggregates } from "../../src/objects/index.js";
import type { Env } from "../env.js";
import { account } from "./account.js";

/**
 * The bank's services: the account's commands, one service each, every account in its own
 * Durable Object (ACCOUNTS). Every one of them needs an identified caller (`Authorization:
 * Bearer …`); the account itself decides who may do what (its owner or an admin).
 */
export const bank = aggregateRouter(account, durableObjectAggregates((env: Env) => env.ACCOUNTS), {
  authorize: (message) => (message.assigns["identity"] === undefined ? "unauthorized" : "ok"),
});
