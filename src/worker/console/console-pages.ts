import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { StreamPage } from "../../core/aggregates/aggregate-protocol.js";
import type { RecordedEvent } from "../../core/aggregates/stream-store.js";
import type { Visibility } from "../../core/messaging/contracts.js";
import type { ScheduledSummary } from "../../core/scheduling/scheduler.js";
import { isJsonObject, type Json } from "../../core/shared/json.js";

/*
 * The console's pages: plain server-rendered HTML (Hono's `html` helper escapes every value), no
 * script at all, so they work with a keyboard, a screen reader and a phone as any document does,
 * and run under a Content-Security-Policy that allows no script.
 */

/** What Hono's `html` helper produces. */
export type Page = HtmlEscapedString | Promise<HtmlEscapedString>;

/** The console's sections, in navigation order. */
export const CONSOLE_SECTIONS = [
  ["services", "Services", ""],
  ["streams", "Streams", "/streams"],
  ["schedules", "Schedules", "/schedules"],
  ["read-side", "Read side", "/read-side"],
] as const;

/** One of the console's sections. */
export type ConsoleSection = (typeof CONSOLE_SECTIONS)[number][0];

function document_(base: string, title: string, body: Page, section: ConsoleSection | null): Page {
  const nav = CONSOLE_SECTIONS.map(
    ([id, label, path]) => html`<li><a href="${base}/console${path}"${id === section ? html` aria-current="page"` : ""}>${label}</a></li>`,
  );
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · x3m-system console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}/console/console.css">
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="top">
  <p class="brand">x3m-system console</p>
  ${section === null
    ? ""
    : html`<nav aria-label="Console"><ul>${nav}</ul></nav>
  <form method="post" action="${base}/console/logout"><button type="submit" class="secondary">Log out</button></form>`}
</header>
<main id="main" tabindex="-1">
${body}
</main>
</body>
</html>`;
}

/** The login form; `problem` is shown when a token was refused, `next` is where to go after. */
export function loginPage(base: string, next: string, problem: string | null): Page {
  return document_(
    base,
    "Log in",
    html`<h1>Log in</h1>
<p>The console shows services, aggregate streams and scheduled messages. It needs the admin token (<code>ADMIN_TOKEN</code>).</p>
${problem === null ? "" : html`<p class="notice error" role="alert" id="login-problem">${problem}</p>`}
<form method="post" action="${base}/console/login" class="panel inline">
  <input type="hidden" name="next" value="${next}">
  <input type="text" name="username" value="admin" autocomplete="username" hidden>
  <div class="field">
    <label for="token">Admin token</label>
    <input id="token" name="token" type="password" required autocomplete="current-password" spellcheck="false"${problem === null ? "" : html` aria-invalid="true" aria-describedby="login-problem"`}>
  </div>
  <button type="submit">Log in</button>
</form>
<p class="hint">You stay logged in for 8 hours in this browser (an HttpOnly cookie holding no token), or until you log out.</p>`,
    null,
  );
}

/** A service as the console lists it. */
export type ServiceRow = { name: string; visibility: Visibility; node: string; remote: boolean; schema: string | null };

/** What another node answered when asked for its services. */
export type NodeListing = { node: string; services: readonly string[] } | { node: string; problem: string };

/** The services page: who offers which service. */
export function servicesPage(base: string, rows: readonly ServiceRow[], nodes: readonly NodeListing[]): Page {
  const body = html`<h1>Services</h1>
<p>Every service this gateway reaches, and the node that offers it. Calls go to this Worker first, then to other nodes; private services are callable only inside their own Worker.</p>
<div class="panel table-wrap">
<table>
  <caption>${rows.length} service${rows.length === 1 ? "" : "s"}</caption>
  <thead><tr><th scope="col">Service</th><th scope="col">Visibility</th><th scope="col">Node</th><th scope="col">Request schema</th></tr></thead>
  <tbody>
  ${rows.map(
    (row) => html`<tr>
    <th scope="row"><code>${row.name}</code></th>
    <td>${row.visibility}</td>
    <td>${row.node} <span class="muted">(${row.remote ? "remote" : "this Worker"})</span></td>
    <td>${row.schema ?? html`<span class="muted">${row.remote ? "not shared" : "none"}</span>`}</td>
  </tr>`,
  )}
  </tbody>
</table>
</div>
${nodes.length === 0
  ? html`<p class="muted">No other nodes are configured.</p>`
  : html`<h2>Other nodes</h2>
<ul>
${nodes.map((node) =>
  "problem" in node
    ? html`<li><strong>${node.node}</strong>: <span class="bad">unreachable</span> <span class="muted">(${node.problem})</span></li>`
    : html`<li><strong>${node.node}</strong>: <span class="ok">answering</span>, ${node.services.length} public service${node.services.length === 1 ? "" : "s"}</li>`,
)}
</ul>`}`;
  return document_(base, "Services", body, "services");
}

/** What the streams page was asked for, and what it found. */
export type StreamsView = {
  /** The aggregate types (stream name prefixes) that can be read. */
  streams: readonly string[];
  stream: string;
  id: string;
  from: number;
  limit: number;
  page: StreamPage | null;
  problem: string | null;
};

/** An ISO time for people: "2026-11-27 11:49:58 UTC" (the `<time>` element keeps the exact value). */
function when(iso: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return match === null ? iso : `${match[1]} ${match[2]} UTC`;
}

function json(value: Json | undefined): string {
  return JSON.stringify(value ?? null, null, 2);
}

/** The stored shape of an upcast event (`stored: { data, schemaVersion }`), when the event carries it. */
function storedShape(event: RecordedEvent): { data: Json; schemaVersion: Json } | null {
  const stored: unknown = (event as RecordedEvent & { stored?: unknown }).stored;
  if (!isJsonObject(stored) || !("data" in stored)) return null;
  return { data: stored["data"] ?? null, schemaVersion: stored["schemaVersion"] ?? null };
}

function schemaVersionOf(event: RecordedEvent): Json | null {
  const version: unknown = (event as RecordedEvent & { schemaVersion?: unknown }).schemaVersion;
  return typeof version === "number" ? version : null;
}

function eventItem(event: RecordedEvent): Page {
  const stored = storedShape(event);
  const schemaVersion = schemaVersionOf(event);
  const meta = event.metadata;
  return html`<li><article class="panel" aria-labelledby="event-${event.version}">
  <h3 id="event-${event.version}">v${event.version} · ${event.type}</h3>
  <dl class="facts">
    <dt>Recorded</dt><dd><time datetime="${event.recordedAt}">${when(event.recordedAt)}</time></dd>
    <dt>Service</dt><dd>${meta.service}</dd>
    <dt>Message id</dt><dd class="mono">${meta.messageId}</dd>
    <dt>Correlation id</dt><dd class="mono">${meta.correlationId}</dd>
    ${schemaVersion === null ? "" : html`<dt>Schema version</dt><dd>${schemaVersion}</dd>`}
  </dl>
  ${stored === null
    ? html`<p class="label">Data</p><pre>${json(event.data)}</pre>`
    : html`<div class="shapes">
    <div><p class="label">Current shape (upcast${schemaVersion === null ? "" : `, schema v${schemaVersion}`})</p><pre>${json(event.data)}</pre></div>
    <div><p class="label">Stored shape (schema v${String(stored.schemaVersion)})</p><pre>${json(stored.data)}</pre></div>
  </div>`}
</article></li>`;
}

/** The streams page: find an aggregate by type and id, and page through its events. */
export function streamsPage(base: string, view: StreamsView): Page {
  const { page } = view;
  const link = (from: number) =>
    `${base}/console/streams?stream=${encodeURIComponent(view.stream)}&id=${encodeURIComponent(view.id)}&from=${from}&limit=${view.limit}`;
  const body = html`<h1>Streams</h1>
<p>The stored events of one aggregate. Give its type and its id.</p>
<form method="get" action="${base}/console/streams" class="panel inline" role="search" aria-label="Find a stream">
  <div class="field">
    <label for="stream">Aggregate type</label>
    <select id="stream" name="stream">
      ${view.streams.map((name) => html`<option value="${name}"${name === view.stream ? html` selected` : ""}>${name}</option>`)}
    </select>
  </div>
  <div class="field">
    <label for="id">Aggregate id</label>
    <input id="id" name="id" type="text" required spellcheck="false" autocomplete="off" value="${view.id}">
  </div>
  <div class="field">
    <label for="limit">Events per page</label>
    <input id="limit" name="limit" type="number" min="1" max="100" value="${view.limit}">
  </div>
  <button type="submit">Show events</button>
</form>
${view.problem === null ? "" : html`<p class="notice error" role="alert">${view.problem}</p>`}
${page === null
  ? ""
  : html`<section aria-labelledby="stream-title">
  <h2 id="stream-title">${page.stream}</h2>
  <dl class="facts">
    <dt>Status</dt><dd><span class="badge ${page.status === "live" ? "ok" : "warn"}">${page.status}</span></dd>
    <dt>Version</dt><dd>${page.version}</dd>
    <dt>Showing</dt><dd>${page.events.length === 0 ? "no events" : `versions ${page.events[0]?.version ?? 0} to ${page.events[page.events.length - 1]?.version ?? 0}`}</dd>
    <dt>Snapshots</dt><dd class="muted">not exposed by the stream routes yet</dd>
  </dl>
  <nav class="pager" aria-label="Pages of events">
    ${view.from > 0 ? html`<a href="${link(Math.max(0, view.from - view.limit))}">Earlier events</a>` : ""}
    ${page.nextFrom === null ? "" : html`<a href="${link(page.nextFrom)}">Later events</a>`}
  </nav>
  <ol class="events">${page.events.map(eventItem)}</ol>
</section>`}`;
  return document_(base, view.page === null ? "Streams" : `${view.page.stream}`, body, "streams");
}

/** What the schedules page was asked for, and what it found. */
export type SchedulesView = {
  /** Whether the gateway has a scheduler. */
  enabled: boolean;
  key: string;
  schedules: readonly ScheduledSummary[] | null;
  /** The message id just cancelled, to confirm it. */
  cancelled: string | null;
  problem: string | null;
  now: number;
};

/** A duration for people: "45 s", "12 min", "3 h 5 min", "2 d 4 h". */
export function humanDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

function scheduleRow(base: string, key: string, entry: ScheduledSummary, now: number): Page {
  const due = Date.parse(entry.dispatchAt);
  const lateness = now - due;
  const recurrence = entry.recurrence === null ? "once" : "cron" in entry.recurrence ? `cron ${entry.recurrence.cron}` : `every ${humanDuration(entry.recurrence.everyMs)}`;
  return html`<tr>
  <th scope="row"><code>${entry.service}</code><br><span class="muted mono">${entry.messageId}</span></th>
  <td><time datetime="${entry.dispatchAt}">${when(entry.dispatchAt)}</time><br><span class="muted">${lateness > 0 ? `${humanDuration(lateness)} ago` : `in ${humanDuration(lateness)}`}</span></td>
  <td>${entry.attempts}${entry.nextAttemptAt === entry.dispatchAt ? "" : html`<br><span class="muted">next try <time datetime="${entry.nextAttemptAt}">${when(entry.nextAttemptAt)}</time></span>`}</td>
  <td>${entry.late || lateness > 0 ? html`<span class="badge warn">late by ${humanDuration(Math.max(lateness, 0))}</span>` : html`<span class="ok">on time</span>`}</td>
  <td>${recurrence}</td>
  <td><pre>${json(entry.rawRequest ?? null)}</pre></td>
  <td><form method="post" action="${base}/console/schedules/cancel">
    <input type="hidden" name="key" value="${key}">
    <input type="hidden" name="messageId" value="${entry.messageId}">
    <button type="submit" class="danger" aria-label="Cancel ${entry.service} ${entry.messageId}">Cancel</button>
  </form></td>
</tr>`;
}

/** The schedules page: the pending messages of one key, with their lateness, and a cancel button each. */
export function schedulesPage(base: string, view: SchedulesView): Page {
  const body = !view.enabled
    ? html`<h1>Schedules</h1><p class="notice">No scheduler is configured on this gateway.</p>`
    : html`<h1>Schedules</h1>
<p>The pending scheduled messages of one key (the scheduler's shard: an aggregate id, a tenant…), everyone's.</p>
<form method="get" action="${base}/console/schedules" class="panel inline" role="search" aria-label="Find schedules">
  <div class="field">
    <label for="key">Key</label>
    <input id="key" name="key" type="text" required spellcheck="false" autocomplete="off" value="${view.key}">
  </div>
  <button type="submit">Show schedules</button>
</form>
${view.cancelled === null ? "" : html`<p class="notice" role="status">Cancelled <code>${view.cancelled}</code>.</p>`}
${view.problem === null ? "" : html`<p class="notice error" role="alert">${view.problem}</p>`}
${view.schedules === null
  ? ""
  : view.schedules.length === 0
    ? html`<p>Nothing is pending for <code>${view.key}</code>.</p>`
    : html`<div class="panel table-wrap"><table>
  <caption>${view.schedules.length} pending for <code>${view.key}</code></caption>
  <thead><tr><th scope="col">Service and message</th><th scope="col">Due</th><th scope="col">Attempts</th><th scope="col">Lateness</th><th scope="col">Repeats</th><th scope="col">Request</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
  <tbody>${view.schedules.map((entry) => scheduleRow(base, view.key, entry, view.now))}</tbody>
</table></div>`}`;
  return document_(base, "Schedules", body, "schedules");
}

/** The read side's place: projections and dead letters, once the read side exists. */
export function readSidePage(base: string): Page {
  return document_(
    base,
    "Read side",
    html`<h1>Read side</h1>
<section class="panel" aria-labelledby="projections"><h2 id="projections">Projections</h2>
<p class="muted">Not built yet. Once events flow to projections through the outbox and a queue, this section will list each projection with its checkpoint per stream, its lag, and a way to rebuild it.</p></section>
<section class="panel" aria-labelledby="dead-letters"><h2 id="dead-letters">Dead letters</h2>
<p class="muted">Not built yet. Deliveries that a projection or a process manager gave up on will be listed here, with a way to retry them.</p></section>`,
    "read-side",
  );
}
