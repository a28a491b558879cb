import { html } from "hono/html";
import type { StreamUsage } from "../../core/aggregates/stream-usage.js";
import { aggregateIdOf } from "../../core/readside/event-envelope.js";
import type { TypeUsage, UsageEntry } from "../../core/readside/read-store.js";
import { document_, type Page } from "./console-pages.js";
import { problemText, type ConsoleReadSide } from "./console-read-side.js";

/** Aggregates listed at most, costliest first. */
const COSTLIEST_SHOWN = 25;

/** What the costs page shows: each type's usage and the costliest aggregates — or why it cannot. */
export type CostsView = { types: TypeUsage[]; costliest: UsageEntry[] } | { unavailable: string };

/**
 * The usage the outboxes recorded in the read side's catalog (an aggregate without an outbox
 * records none: its stream page shows its own).
 */
export async function costsView<Env>(readSide: ConsoleReadSide<Env> | undefined, env: Env): Promise<CostsView> {
  if (readSide === undefined) return { unavailable: "This Worker has no read side: the costs are recorded in its catalog by the aggregates' outboxes." };
  const store = readSide.store(env);
  try {
    const [types, costliest] = await Promise.all([store.usageByType(), store.costliest({ limit: COSTLIEST_SHOWN })]);
    return { types, costliest };
  } catch (error) {
    return { unavailable: `Could not read the costs: ${problemText(error)}` };
  }
}

/** Dollars with enough digits to tell small costs apart. */
const dollars = (cost: number) => `$${cost < 0.01 ? cost.toPrecision(2) : cost.toFixed(2)}`;

/** The usage columns of a row. */
const usageCells = (usage: StreamUsage) =>
  html`<td>${usage.commands}</td><td>${usage.alarms}</td><td>${usage.rowsRead}</td><td>${usage.rowsWritten}</td><td>${usage.published}</td><td>${usage.storageBytes}</td>`;

const USAGE_HEADINGS = html`<th scope="col">Commands</th><th scope="col">Alarms</th><th scope="col">Rows read</th><th scope="col">Rows written</th><th scope="col">Events published</th><th scope="col">Bytes stored</th><th scope="col">Estimated cost</th>`;

/** The costs page. */
export function costsPage(base: string, view: CostsView): Page {
  const intro = html`<h1>Costs</h1>
<p>What each aggregate's Durable Object has cost: commands and alarms (requests), SQLite rows read and written, events published and bytes stored — as its outbox last recorded them. The estimate uses Workers Paid list prices (rows written $1.00, rows read $0.001 and requests $0.15 per million; storage $0.20 per GB-month, one month) without free allowances or duration: it ranks aggregates, it is not an invoice.</p>`;
  if ("unavailable" in view) return document_(base, "Costs", html`${intro}<p class="notice">${view.unavailable}</p>`, "costs");
  const streamLink = (entry: UsageEntry) => {
    const id = aggregateIdOf(entry.stream, entry.streamName);
    return html`<a href="${base}/console/streams?stream=${encodeURIComponent(entry.stream)}&id=${encodeURIComponent(id)}">${entry.streamName}</a>`;
  };
  const body = html`${intro}
<section aria-labelledby="types"><h2 id="types">By aggregate type</h2>
${view.types.length === 0
  ? html`<p>No usage is recorded yet.</p>`
  : html`<div class="panel table-wrap"><table>
  <caption>Each type's aggregates together, costliest first</caption>
  <thead><tr><th scope="col">Type</th><th scope="col">Aggregates</th>${USAGE_HEADINGS}</tr></thead>
  <tbody>${view.types.map((row) => html`<tr><th scope="row">${row.stream}</th><td>${row.streams}</td>${usageCells(row.usage)}<td>${dollars(row.cost)}</td></tr>`)}</tbody>
</table></div>`}
</section>
<section aria-labelledby="costliest"><h2 id="costliest">Costliest aggregates</h2>
${view.costliest.length === 0
  ? html`<p>No usage is recorded yet.</p>`
  : html`<div class="panel table-wrap"><table>
  <caption>The ${view.costliest.length} costliest aggregates, costliest first</caption>
  <thead><tr><th scope="col">Stream</th>${USAGE_HEADINGS}<th scope="col">Recorded</th></tr></thead>
  <tbody>${view.costliest.map((entry) => html`<tr><th scope="row">${streamLink(entry)}</th>${usageCells(entry.usage)}<td>${dollars(entry.cost)}</td><td>${entry.recordedAt}</td></tr>`)}</tbody>
</table></div>`}
</section>`;
  return document_(base, "Costs", body, "costs");
}
