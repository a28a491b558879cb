import { aggregateRouter, type AuthorizeResult, type Message } from "../../src/core/index.js";
import { durableObjectAggregates, durableObjectScheduler, type ResidencyTarget } from "../../src/objects/index.js";
import type { Env } from "../env.js";
import { account } from "./account.js";
import { transfer } from "./transfer.js";

/** Every bank service needs an identified caller. */
const identified = (message: Message): AuthorizeResult => (message.assigns["identity"] === undefined ? "unauthorized" : "ok");

/**
 * Where an account is opened: in the EU jurisdiction when `open_account` says `region: "eu"`,
 * else in the plain namespace. Later commands name no region: they find the account where it is.
 */
export function accountResidency({ command, request }: ResidencyTarget): "eu" | undefined {
  const region = command === "open_account" && typeof request === "object" && request !== null && "region" in request ? request.region : undefined;
  return region === "eu" ? "eu" : undefined;
}

/** Where the accounts live: one Durable Object each (ACCOUNTS), in the jurisdiction `accountResidency` picks. */
export const accounts = durableObjectAggregates((env: Env) => env.ACCOUNTS, { residency: accountResidency });

/** Where the transfers live: one Durable Object each (TRANSFERS). */
export const transfers = durableObjectAggregates((env: Env) => env.TRANSFERS);

/** The scheduler: one Durable Object per key (SCHEDULER). */
export const scheduler = durableObjectScheduler((env: Env) => env.SCHEDULER);

/**
 * The bank's services: the account's commands, one service each, every account in its own
 * Durable Object (ACCOUNTS). Every one of them needs an identified caller (`Authorization:
 * Bearer …`); the account itself decides who may do what (its owner or an admin).
 */
export const bank = aggregateRouter(account, accounts, { authorize: identified });

/**
 * Transfers between accounts: `transfer` and `get_transfer` for callers; `complete_transfer`,
 * `owe_refund` and `fail_transfer` only for the transfer process, inside this Worker (private:
 * invisible from HTTP).
 */
export const transferServices = aggregateRouter(transfer, transfers, {
  authorize: identified,
  private: ["complete_transfer", "owe_refund", "fail_transfer"],
});
