// Residency per aggregate: a type's streams, or those a rule picks by command, live in a Durable
// Object jurisdiction. Local workerd does not implement jurisdictions ("Jurisdiction restrictions
// are not implemented in workerd"), so here each jurisdiction's object is the library's local
// stand-in — the object named `<jurisdiction>:<stream>` in the plain namespace, with storage of its
// own. What these tests check: which object each command, read and deletion reaches, that a
// stream's jurisdiction is fixed once created, and what its home records. What they cannot check
// locally: that the platform keeps the object's data in the jurisdiction (`namespace.jurisdiction`
// is called in production, and only workerd's exact refusal selects the stand-in).
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ResidencyTarget } from "../../src/objects/index.js";
import { ledgerHarness } from "../support/aggregate-harness.js";
import { sleep } from "../support/recorders.js";
import { ledger } from "../support/test-aggregates.js";

/** The jurisdiction a command's `region` asks for: "eu" and "us" by name, none otherwise. */
const byRegion = ({ request }: ResidencyTarget) => {
  const region = typeof request === "object" && request !== null && "region" in request ? request.region : undefined;
  return region === "eu" || region === "us" ? region : undefined;
};

const inEu = ledgerHarness(ledger, (e) => e.LEDGER, { residency: "eu" });
const byRule = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });

/** The events and tables of the object named `name` in the plain LEDGER namespace. */
function objectNamed(name: string) {
  const stub = env.LEDGER.get(env.LEDGER.idFromName(name));
  return runInDurableObject(stub, (_instance, state) => {
    const tables = state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .toArray()
      .map((row) => row.name)
      .filter((table) => !table.startsWith("_cf"));
    const events = tables.includes("events") ? state.storage.sql.exec<{ type: string }>("SELECT type FROM events ORDER BY version").toArray().map((row) => row.type) : [];
    const residence = tables.includes("x3m_residence") ? (state.storage.sql.exec<{ jurisdiction: string }>("SELECT jurisdiction FROM x3m_residence").toArray()[0]?.jurisdiction ?? null) : null;
    return { events, residence };
  });
}

describe("a type whose streams all live in one jurisdiction", () => {
  it("creates each stream in the jurisdiction's object, reads it there, and leaves the plain namespace untouched", async () => {
    const id = inEu.freshId();
    expect((await inEu.send("open", { id, owner: "ada" })).response).toMatchObject({ status: "created", id });
    expect((await inEu.send("deposit", { id, amount: 5 })).response).toMatchObject({ status: "ok" });
    expect(await objectNamed(`eu:ledger-${id}`)).toEqual({ events: ["Opened", "Deposited"], residence: null });
    expect(await objectNamed(`ledger-${id}`)).toEqual({ events: [], residence: null });
    const page = await inEu.handlers.readStream(env, id, { from: 0, limit: 10 });
    expect(page).toMatchObject({ stream: `ledger-${id}`, jurisdiction: "eu", version: 1 });
  });
});

describe("a residency rule over the command", () => {
  it("creates the stream where the first command says; later commands that name none find it there", async () => {
    const id = byRule.freshId();
    expect((await byRule.send("open", { id, owner: "ada", region: "eu" })).response).toMatchObject({ status: "created" });
    expect((await byRule.send("deposit", { id, amount: 7 })).response).toMatchObject({ status: "ok" });
    // The stream is in the EU object; its home keeps only where it lives.
    expect(await objectNamed(`eu:ledger-${id}`)).toEqual({ events: ["Opened", "Deposited"], residence: null });
    expect(await objectNamed(`ledger-${id}`)).toEqual({ events: [], residence: "eu" });
    expect(await byRule.handlers.readStream(env, id, { from: 0, limit: 10 })).toMatchObject({ jurisdiction: "eu", version: 1 });
  });

  it("another Worker, which has not seen the stream, finds it in its jurisdiction through its home", async () => {
    const id = byRule.freshId();
    await byRule.send("open", { id, owner: "ada", region: "us" });
    const elsewhere = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    expect((await elsewhere.send("deposit", { id, amount: 3 })).response).toMatchObject({ status: "ok" });
    expect((await elsewhere.handlers.readStream(env, id, { from: 0, limit: 10 })).events.map((e) => e.type)).toEqual(["Opened", "Deposited"]);
    expect(await objectNamed(`us:ledger-${id}`)).toMatchObject({ events: ["Opened", "Deposited"] });
  });

  it("refuses a command that names another jurisdiction for an existing stream, and changes nothing", async () => {
    const id = byRule.freshId();
    await byRule.send("open", { id, owner: "ada", region: "eu" });
    const refused = await byRule.send("deposit", { id, amount: 9, region: "us" });
    // Where it lives is not said: the caller has not been judged by the aggregate's access rule.
    expect(refused.response).toEqual({ status: "error", reason: "wrong_jurisdiction" });
    // Asked by a Worker that remembers nothing: its home says the same.
    const fresh = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    expect((await fresh.send("deposit", { id, amount: 9, region: "us" })).response).toMatchObject({ reason: "wrong_jurisdiction" });
    expect(await objectNamed(`eu:ledger-${id}`)).toMatchObject({ events: ["Opened"] });
    expect(await objectNamed(`us:ledger-${id}`)).toEqual({ events: [], residence: null });
  });

  it("refuses a jurisdiction for a stream created in the plain namespace", async () => {
    const id = byRule.freshId();
    await byRule.send("open", { id, owner: "ada" });
    expect(await objectNamed(`ledger-${id}`)).toEqual({ events: ["Opened"], residence: null });
    const fresh = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    expect((await fresh.send("deposit", { id, amount: 1, region: "eu" })).response).toEqual({ status: "error", reason: "wrong_jurisdiction" });
    expect(await objectNamed(`eu:ledger-${id}`)).toEqual({ events: [], residence: null });
  });

  it("two first commands naming different jurisdictions at once: one stream, in one place", async () => {
    const id = byRule.freshId();
    const one = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    const other = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    const [eu, us] = await Promise.all([one.send("open", { id, owner: "ada", region: "eu" }), other.send("open", { id, owner: "bob", region: "us" })]);
    const statuses = [eu.response?.status, us.response?.status].sort();
    expect(statuses).toEqual(["created", "error"]);
    const held = [(await objectNamed(`eu:ledger-${id}`)).events, (await objectNamed(`us:ledger-${id}`)).events, (await objectNamed(`ledger-${id}`)).events];
    expect(held.filter((events) => events.length > 0)).toEqual([["Opened"]]);
  });

  it("a command naming none, racing one that names a jurisdiction: the stream still lives in one place", async () => {
    const id = byRule.freshId();
    const one = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    const other = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    await Promise.all([one.send("open", { id, owner: "ada", region: "eu" }), other.send("open", { id, owner: "bob" })]);
    const held = [(await objectNamed(`eu:ledger-${id}`)).events, (await objectNamed(`ledger-${id}`)).events];
    expect(held.filter((events) => events.length > 0)).toHaveLength(1);
  });

  it("a dry run fixes nothing: the stream can then be created in another jurisdiction", async () => {
    const id = byRule.freshId();
    expect((await byRule.send("open", { id, owner: "ada", region: "eu" }, { dryRun: true })).response).toMatchObject({ status: "ok" });
    expect(await objectNamed(`ledger-${id}`)).toEqual({ events: [], residence: null });
    expect((await byRule.send("open", { id, owner: "ada", region: "us" })).response).toMatchObject({ status: "created" });
    expect(await objectNamed(`us:ledger-${id}`)).toMatchObject({ events: ["Opened"] });
  });

  it("a hard delete removes the stream from its jurisdiction and its home forgets it: the id is new again", async () => {
    const id = byRule.freshId();
    await byRule.send("open", { id, owner: "ada", region: "eu" });
    expect(await byRule.handlers.deleteStream(env, id, { mode: "hard" })).toMatchObject({ status: "ok", payload: { events: 1, jurisdiction: "eu", homeRecord: true } });
    expect(await objectNamed(`eu:ledger-${id}`)).toEqual({ events: [], residence: null });
    expect(await objectNamed(`ledger-${id}`)).toEqual({ events: [], residence: null });
    const fresh = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    expect((await fresh.send("open", { id, owner: "ada", region: "us" })).response).toMatchObject({ status: "created" });
    expect(await objectNamed(`us:ledger-${id}`)).toMatchObject({ events: ["Opened"] });
  });

  it("a Worker that remembers where a deleted stream lived asks its home again: one stream, in one place", async () => {
    const id = byRule.freshId();
    const remembering = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    await remembering.send("open", { id, owner: "ada", region: "eu" });
    await remembering.send("deposit", { id, amount: 1 });
    // Another Worker deletes it, and the id is opened again in the plain namespace.
    const other = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    expect(await other.handlers.deleteStream(env, id, { mode: "hard" })).toMatchObject({ status: "ok" });
    expect((await other.send("open", { id, owner: "bob" })).response).toMatchObject({ status: "created" });
    // The first Worker still remembers "eu": the EU object, empty now, sends it back to the home.
    expect((await remembering.send("deposit", { id, amount: 5 })).response).toMatchObject({ status: "ok" });
    expect(await objectNamed(`eu:ledger-${id}`)).toEqual({ events: [], residence: null });
    expect(await objectNamed(`ledger-${id}`)).toMatchObject({ events: ["Opened", "Deposited"] });
  });

  it("a Worker that remembers a deleted stream in the plain namespace is sent on once another claimed it for a jurisdiction", async () => {
    const id = byRule.freshId();
    const remembering = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    await remembering.send("open", { id, owner: "ada" });
    await remembering.send("deposit", { id, amount: 1 });
    const other = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    expect(await other.handlers.deleteStream(env, id, { mode: "hard" })).toMatchObject({ status: "ok" });
    expect((await other.send("open", { id, owner: "bob", region: "eu" })).response).toMatchObject({ status: "created" });
    // The first Worker's command goes to the home, which says where the stream lives now.
    expect((await remembering.send("deposit", { id, amount: 5 })).response).toMatchObject({ status: "ok" });
    expect(await objectNamed(`ledger-${id}`)).toEqual({ events: [], residence: "eu" });
    expect(await objectNamed(`eu:ledger-${id}`)).toMatchObject({ events: ["Opened", "Deposited"] });
  });

  it("a claim left by a refused command is cleared by a hard delete, though nothing was created", async () => {
    const id = byRule.freshId();
    // A deposit naming "eu" for an id nothing holds: refused (not_found), but its claim is recorded.
    expect((await byRule.send("deposit", { id, amount: 1, region: "eu" })).response).toMatchObject({ status: "error", reason: "not_found" });
    expect(await objectNamed(`ledger-${id}`)).toEqual({ events: [], residence: "eu" });
    expect(await byRule.handlers.deleteStream(env, id, { mode: "hard" })).toMatchObject({ reason: "not_found" });
    expect(await objectNamed(`ledger-${id}`)).toEqual({ events: [], residence: null });
    const fresh = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    expect((await fresh.send("open", { id, owner: "ada", region: "us" })).response).toMatchObject({ status: "created" });
  });

  it("a claim waits while the home runs a command that may create the stream there: the stream still lives in one place", async () => {
    const id = byRule.freshId();
    const one = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    const other = ledgerHarness(ledger, (e) => e.LEDGER, { residency: byRegion });
    // The home's command awaits I/O (its decision waits 200 ms) while the claim arrives.
    const atHome = one.send("open_slowly", { id, owner: "ada" });
    await sleep(50);
    const claimed = await other.send("open", { id, owner: "bob", region: "eu" });
    expect((await atHome).response).toMatchObject({ status: "created" });
    // The claim waited for the home's command, then found the stream there.
    expect(claimed.response).toEqual({ status: "error", reason: "wrong_jurisdiction" });
    expect(await objectNamed(`eu:ledger-${id}`)).toEqual({ events: [], residence: null });
    expect(await objectNamed(`ledger-${id}`)).toEqual({ events: ["Opened"], residence: null });
  });
});
