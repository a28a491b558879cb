import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bank } from "../../examples/bank/services.js";
import { alertOf, demo, form, login, page as consolePage } from "../support/console-helpers.js";
import { eventually, openAccount } from "../support/read-side-helpers.js";

const page = async (path: string, cookie: string) => (await consolePage(path, cookie)).text;






/** The account's version as its stream says, or null when nothing is stored. */
async function versionOf(id: string): Promise<number | null> {
  const stream = await bank.readStream(env, id, { from: 0, limit: 1 });
  return stream.status === "missing" ? null : stream.version;
}

describe("erasing an aggregate from the console", () => {
  it("asks for the id again on a page of its own, erases nothing for a wrong one, then shows the receipt the Erasures page lists", async () => {
    const cookie = await login();
    const id = await openAccount("ada", 25);
    expect(await page(`/console/streams?stream=account&id=${id}`, cookie)).toContain("Erase this aggregate");
    // Both projections have its events (their checkpoints are what the receipt counts).
    await eventually(
      async () => (await env.READ_MODELS.prepare("SELECT count(*) AS n FROM x3m_checkpoints WHERE stream = ? AND version = 1").bind(`account-${id}`).first<{ n: number }>())?.n,
      (n) => n === 2,
    );

    const confirm = await page(`/console/streams/erase?stream=account&id=${id}`, cookie);
    expect(confirm).toContain(`Type the aggregate's id, <code>${id}</code>, to confirm`);
    expect(confirm).toContain("The aggregate is at version 1.");
    expect(confirm).toContain("bank_accounts, bank_totals");

    const wrong = await demo("/console/streams/erase", form({ stream: "account", id, confirm: `${id}x` }, cookie));
    expect(wrong.status).toBe(200);
    expect(alertOf(await wrong.text())).toBe("The id typed is not this aggregate&#39;s: nothing was erased.");
    expect(await versionOf(id)).toBe(1);

    // The API's rule for the note: a reason past 200 characters is refused, not cut short.
    const wordy = await demo("/console/streams/erase", form({ stream: "account", id, confirm: id, reason: "r".repeat(201) }, cookie));
    expect(alertOf(await wordy.text())).toBe("operator and reason must be strings of at most 200 characters: nothing was erased.");
    expect(await versionOf(id)).toBe(1);

    const erased = await demo("/console/streams/erase", form({ stream: "account", id, confirm: id, operator: "<b>Grace</b>", reason: "request 42" }, cookie));
    expect(erased.status).toBe(303);
    const receiptPath = erased.headers.get("Location") ?? "";
    expect(receiptPath).toMatch(/^\/console\/erasures\/[0-9a-f-]{36}$/);
    expect(await versionOf(id)).toBeNull();

    const receipt = await page(receiptPath, cookie);
    expect(receipt).toContain(`Erasure of <code>account-${id}</code>`);
    expect(receipt).toContain("2 events, 0 snapshots, 2 idempotency records, 0 events not sent, 0 follow-ups");
    expect(receipt).toContain("Projection <code>bank_accounts</code></th><td><span class=\"ok\">erased</span> (1 statement)");
    expect(receipt).toContain("2 checkpoints, 1 catalog row");
    // What the operator typed is shown as text, never as markup.
    expect(receipt).toContain("through the console (&lt;b&gt;Grace&lt;/b&gt;)");
    expect(receipt).not.toContain("<b>Grace</b>");

    const log = await page("/console/erasures", cookie);
    expect(log).toContain(`href="${receiptPath}">account-${id}</a>`);
  });

  it("refuses an erase posted from another site, or without a session: nothing is erased", async () => {
    const cookie = await login();
    const id = await openAccount("ada", 5);
    expect((await demo("/console/streams/erase", form({ stream: "account", id, confirm: id }, cookie, "http://evil.example"))).status).toBe(403);
    const anonymous = await demo("/console/streams/erase", form({ stream: "account", id, confirm: id }));
    expect(await anonymous.text()).toContain("Log in");
    expect(await versionOf(id)).toBe(1);
  });

  it("says plainly when there is nothing to erase, no such aggregate type, or no such receipt", async () => {
    const cookie = await login();
    const answer = await demo("/console/streams/erase", form({ stream: "account", id: "nobody-here", confirm: "nobody-here" }, cookie));
    expect(alertOf(await answer.text())).toBe("Nothing is stored for this aggregate, and no erasure of it is recorded.");
    expect(alertOf(await page("/console/erasures/00000000-0000-0000-0000-000000000000", cookie))).toBe("There is no such erasure.");
    expect(alertOf(await page("/console/erasures/<script>", cookie))).toBe("There is no such erasure.");
    const unknown = await page("/console/streams/erase?stream=nothing&id=x", cookie);
    expect(alertOf(unknown)).toBe("There is no such aggregate to erase.");
    expect(unknown).not.toContain('action="/console/streams/erase"');
  });

  it("does not repeat the type or id of an aggregate it does not know: they are only text from a URL", async () => {
    const cookie = await login();
    const spoof = "Your session expired. Log in again at https://evil.example/console";
    for (const path of [`/console/streams/erase?stream=${encodeURIComponent(spoof)}&id=x`, `/console/streams/erase?stream=account&id=${encodeURIComponent(` ${spoof}`)}`]) {
      const unknown = await page(path, cookie);
      expect(alertOf(unknown)).toBe("There is no such aggregate to erase.");
      expect(unknown).toContain("<h1>Erase an aggregate</h1>");
      expect(unknown).not.toContain("Your session expired");
    }
  });
});
