import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { StreamPage } from "../../core/aggregates/aggregate-protocol.js";
import type { RecordedEvent } from "../../core/aggregates/stream-store.js";
import type { Visibility } from "../../core/messaging/contracts.js";
import type { CatalogEntry, DeadLetter } from "../../core/readside/read-store.js";
import type { PendingFollowUp } from "../../core/scheduling/follow-up.js";
import type { Recurrence } from "../../core/scheduling/schedule.js";
import type { ScheduleOutcome } from "../../core/scheduling/schedule-store.js";
import type { ScheduledSummary } from "../../core/scheduling/scheduler.js";
import { traceIdOf } from "../../core/messaging/trace.js";
import { isJsonObject, type Json } from "../../core/shared/json.js";
import type { RecentFollowUps, StreamListing } from "./console-streams.js";
import { pastSection, type PastView } from "./console-past.js";

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
  ["costs", "Costs", "/costs"],
  ["erasures", "Erasures", "/erasures"],
] as const;

/** One of the console's sections. */
export type ConsoleSection = (typeof CONSOLE_SECTIONS)[number][0];

/** A console page: its title, the navigation (`section` current; none on the login page) and `body`. */
export function document_(base: string, title: string, body: Page, section: ConsoleSection | null): Page {
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
<p class="hint">You stay logged in for 8 hours in this browser (an HttpOnly cookie holding no token), unless the admin token changes or someone logs out. Logging out ends every console session, in this browser and any other: a copy of the cookie no longer opens anything.</p>`,
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
  /** Whether the events' bodies are shown open (they are folded otherwise). */
  open: boolean;
  page: StreamPage | null;
  problem: string | null;
  /** Streams found without an exact id: the most recent, or by the start of an id. */
  listing: StreamListing | null;
  /** The stream's "Looking back" section (console-past.ts): its state at a version or time, dry runs. */
  past?: PastView;
  /** The stream's Erase section (console-erase.ts), rendered. */
  erase?: Page;
};

/**
 * An RFC 3339 time for people: "2026-11-27 11:49:58 UTC", or in the offset it was given with
 * ("2026-12-07 09:00:00 +01:00", a schedule in its own time zone). The `<time>` element keeps the
 * exact value.
 */
function when(iso: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(iso);
  if (match === null) return iso;
  return `${match[1]} ${match[2]} ${match[3] === "Z" ? "UTC" : match[3]}`;
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

/** One event: a line saying what it is, when and by which service; its body folded underneath. */
function eventItem(event: RecordedEvent, open: boolean): Page {
  const stored = storedShape(event);
  const schemaVersion = schemaVersionOf(event);
  const meta = event.metadata;
  const traceId = traceIdOf(meta.traceparent);
  return html`<li><details id="event-${event.version}"${open ? html` open` : ""}>
  <summary><span class="event-title">v${event.version} · ${event.type}</span> <span class="muted">· <time datetime="${event.recordedAt}">${when(event.recordedAt)}</time> · ${meta.service}</span></summary>
  <div class="event-body">
  <dl class="facts">
    <dt>Message id</dt><dd class="mono">${meta.messageId}</dd>
    <dt>Correlation id</dt><dd class="mono">${meta.correlationId}</dd>
    ${traceId === null ? "" : html`<dt>Trace id</dt><dd class="mono">${traceId}</dd>`}
    ${schemaVersion === null ? "" : html`<dt>Schema version</dt><dd>${schemaVersion}</dd>`}
  </dl>
  ${stored === null
    ? html`<p class="label">Data</p><pre>${json(event.data)}</pre>`
    : html`<div class="shapes">
    <div><p class="label">Current shape (upcast${schemaVersion === null ? "" : `, schema v${schemaVersion}`})</p><pre>${json(event.data)}</pre></div>
    <div><p class="label">Stored shape (schema v${String(stored.schemaVersion)})</p><pre>${json(stored.data)}</pre></div>
  </div>`}
  </div>
</details></li>`;
}

/** How a follow-up or a schedule repeats, for people. */
function recurrenceText(recurrence: Recurrence | null): string {
  if (recurrence === null) return "once";
  const when = "cron" in recurrence ? `cron ${recurrence.cron}${recurrence.timeZone === undefined ? " (UTC)" : ` (${recurrence.timeZone})`}` : `every ${humanDuration(recurrence.everyMs)}`;
  const missed = recurrence.missed;
  return missed === undefined ? when : `${when}, missed runs: ${missed === "skip" ? "skipped" : missed === "once" ? "run once" : `each of the last ${missed.each}`}`;
}

/** The link to a stream's events. */
const streamLink = (base: string, stream: string, id: string) => `${base}/console/streams?stream=${encodeURIComponent(stream)}&id=${encodeURIComponent(id)}`;

function followUpsSection(followUps: readonly PendingFollowUp[], now: number): Page {
  return html`<section aria-labelledby="follow-ups-title">
  <h3 id="follow-ups-title">Pending follow-ups</h3>
  ${followUps.length === 0
    ? html`<p class="muted">None: no decision of this aggregate left anything to deliver later.</p>`
    : html`<div class="panel table-wrap"><table>
  <caption>${followUps.length} pending, soonest first</caption>
  <thead><tr><th scope="col">Name</th><th scope="col">Service</th><th scope="col">Next attempt</th><th scope="col">Attempts</th><th scope="col">Repeats</th><th scope="col">Delivered as</th></tr></thead>
  <tbody>${followUps.map(
    (followUp) => html`<tr><th scope="row"><code>${followUp.name}</code></th><td><code>${followUp.service}</code></td><td>${dueCell(followUp.nextAttemptAt, now)}</td><td>${followUp.attempts}</td><td>${recurrenceText(followUp.recurrence)}</td><td>${followUp.owner ?? html`<span class="muted">anonymous</span>`}</td></tr>`,
  )}</tbody>
</table></div>`}
</section>`;
}

/** How the aggregate's recent follow-ups ended other than as they should; nothing when none did. */
function followUpOutcomesSection(outcomes: readonly ScheduleOutcome[]): Page {
  if (outcomes.length === 0) return html``;
  return html`<section aria-labelledby="follow-up-outcomes-title">
  <h3 id="follow-up-outcomes-title">Follow-ups that ended otherwise</h3>
  <div class="panel table-wrap"><table>
  <caption>${outcomes.length} most recent, newest first: denied (their owner's rights at delivery) or given up (failed, not retried again)</caption>
  <thead><tr><th scope="col">Name</th><th scope="col">Service</th><th scope="col">Ended</th><th scope="col">Outcome</th><th scope="col">Why</th><th scope="col">Attempts</th><th scope="col">Delivered as</th></tr></thead>
  <tbody>${outcomes.map(
    (outcome) => html`<tr><th scope="row"><code>${outcome.key}</code></th><td><code>${outcome.service}</code></td><td><time datetime="${outcome.at}">${when(outcome.at)}</time></td><td>${outcome.outcome === "denied" ? "denied" : "given up"}</td><td><code>${outcome.reason}</code></td><td>${outcome.attempts}</td><td>${outcome.owner ?? html`<span class="muted">anonymous</span>`}</td></tr>`,
  )}</tbody>
</table></div>
</section>`;
}

/** A due time and how far it is from now. */
function dueCell(iso: string, now: number): Page {
  const lateness = now - Date.parse(iso);
  return html`<time datetime="${iso}">${when(iso)}</time><br><span class="muted">${lateness > 0 ? `${humanDuration(lateness)} ago` : `in ${humanDuration(lateness)}`}</span>`;
}

function listingSection(base: string, listing: StreamListing): Page {
  if (listing.kind === "unavailable") return html`<p class="notice">${listing.reason}</p>`;
  const rows = listing.entries.map(
    (entry) => html`<tr>
    <th scope="row" class="mono">${entry.readable ? html`<a href="${streamLink(base, entry.stream, entry.id)}">${entry.stream}-${entry.id}</a>` : html`${entry.stream}-${entry.id} <span class="muted">(not an admin aggregate)</span>`}</th>
    <td>v${entry.version}</td>
    ${listing.kind === "recent" ? html`<td>${entry.seenAt === null ? "" : html`<time datetime="${entry.seenAt}">${when(entry.seenAt)}</time>`}</td>` : ""}
  </tr>`,
  );
  if (listing.kind === "recent") {
    const older = listing.older === null ? "" : html`<a href="${base}/console/streams?before=${encodeURIComponent(listing.older)}#found">Older streams</a>`;
    return html`<section aria-labelledby="found"><h2 id="found">Recently written streams</h2>
${listing.entries.length === 0
  ? html`<p>The catalog holds no streams yet.</p>`
  : html`<div class="panel table-wrap"><table>
  <caption>${listing.newest ? `The ${plural(listing.entries.length, "most recently written stream")}` : `${plural(listing.entries.length, "older stream")}`}, newest first</caption>
  <thead><tr><th scope="col">Stream</th><th scope="col">Version</th><th scope="col">Last written</th></tr></thead>
  <tbody>${rows}</tbody>
</table></div>`}
<nav class="pager" aria-label="Pages of streams">${listing.newest ? "" : html`<a href="${base}/console/streams#found">Most recent streams</a>`}${older}</nav>
</section>`;
  }
  const page = (start: string | null) =>
    `${base}/console/streams?stream=${encodeURIComponent(listing.stream)}&prefix=${encodeURIComponent(listing.prefix)}${start === null ? "" : `&start=${encodeURIComponent(start)}`}#found`;
  // The id given is in the form above: a heading of the page's own does not repeat text from its URL.
  return html`<section aria-labelledby="found"><h2 id="found">Streams whose id starts with the id given</h2>
${listing.entries.length === 0
  ? html`<p>No <code>${listing.stream}</code> stream in the catalog has an id that starts with it.</p>`
  : html`<div class="panel table-wrap"><table>
  <caption>${plural(listing.entries.length, `${listing.stream} stream`)}${listing.first ? "" : " (continued)"}, in name order</caption>
  <thead><tr><th scope="col">Stream</th><th scope="col">Version</th></tr></thead>
  <tbody>${rows}</tbody>
</table></div>`}
<nav class="pager" aria-label="Pages of streams">${listing.first ? "" : html`<a href="${page(null)}">First streams</a>`}${listing.next === null ? "" : html`<a href="${page(listing.next)}">Next streams</a>`}</nav>
</section>`;
}

function eventsSection(base: string, view: StreamsView, page: StreamPage): Page {
  const link = (from: number, open = view.open) =>
    `${base}/console/streams?stream=${encodeURIComponent(view.stream)}&id=${encodeURIComponent(view.id)}&from=${from}&limit=${view.limit}${open ? "&open=1" : ""}`;
  const first = page.events[0]?.version;
  const last = page.events[page.events.length - 1]?.version;
  const latest = Math.max(0, page.version - view.limit + 1);
  return html`<section aria-labelledby="stream-title">
  <h2 id="stream-title">${page.stream}</h2>
  <dl class="facts">
    <dt>Status</dt><dd><span class="badge ${page.status === "live" ? "ok" : "warn"}">${page.status}</span></dd>
    <dt>Version</dt><dd>${page.version}</dd>
    <dt>Jurisdiction</dt><dd>${page.jurisdiction ?? html`<span class="muted">none (the plain namespace)</span>`}</dd>
    ${page.unpublished === undefined ? "" : html`<dt>Read side</dt><dd>${page.unpublished === 0 ? "every event sent" : html`<span class="badge warn">${page.unpublished} ${page.unpublished === 1 ? "event" : "events"} not yet sent</span>`}</dd>`}
    ${page.usage === undefined ? "" : html`<dt>Cost so far</dt><dd>${page.usage.commands} commands, ${page.usage.alarms} alarms, ${page.usage.rowsRead} rows read, ${page.usage.rowsWritten} rows written, ${page.usage.published} events published, ${page.usage.storageBytes} bytes stored</dd>`}
    <dt>Showing</dt><dd>${first === undefined || last === undefined ? "no events" : `versions ${first} to ${last} of 0 to ${page.version}`}</dd>
    <dt>Snapshot</dt><dd>${page.snapshot === null ? html`<span class="muted">none: a load replays every event</span>` : `at version ${page.snapshot.version} (schema ${page.snapshot.schema}): a load replays only the events after it`}</dd>
  </dl>
  <p><a href="${`${base}/console/streams?stream=${encodeURIComponent(view.stream)}&prefix=${encodeURIComponent(view.id)}#found`}">Other streams whose id starts with <code>${view.id}</code></a></p>
  ${followUpsSection(page.followUps, Date.now())}
  ${/* An object still on an earlier version answers without the field. */ followUpOutcomesSection(page.followUpOutcomes ?? [])}
  <h3 id="events-title">Events</h3>
  <nav class="pager" aria-label="Pages of events">
    ${view.from > 0 ? html`<a href="${link(0)}">First events</a><a href="${link(Math.max(0, view.from - view.limit))}">Earlier events</a>` : ""}
    ${page.nextFrom === null ? "" : html`<a href="${link(page.nextFrom)}">Later events</a>`}
    ${page.nextFrom === null || latest <= view.from ? "" : html`<a href="${link(latest)}">Latest events</a>`}
    ${page.events.length === 0 ? "" : view.open ? html`<a href="${link(view.from, false)}">Fold every event</a>` : html`<a href="${link(view.from, true)}">Open every event</a>`}
  </nav>
  <ol class="events" aria-labelledby="events-title">${page.events.map((event) => eventItem(event, view.open))}</ol>
  ${view.past === undefined ? "" : pastSection(base, view.stream, view.id, view.limit, view.past)}
  ${view.erase ?? ""}
</section>`;
}

/**
 * The streams page: an aggregate's events by type and id (folded, page by page, with its pending
 * follow-ups); without an id, the most recently written streams; with an id that no stream has,
 * the streams whose id starts with it (both from the read side's catalog).
 */
export function streamsPage(base: string, view: StreamsView): Page {
  const { page } = view;
  const body = html`<h1>Streams</h1>
<p>The stored events of an aggregate, by its type and id; streams are also found by the start of their id, or among the most recently written.</p>
<form method="get" action="${base}/console/streams" class="panel inline" role="search" aria-label="Find a stream">
  <div class="field">
    <label for="stream">Aggregate type</label>
    <select id="stream" name="stream">
      ${view.streams.map((name) => html`<option value="${name}"${name === view.stream ? html` selected` : ""}>${name}</option>`)}
    </select>
  </div>
  <div class="field">
    <label for="id">Aggregate id</label>
    <input id="id" name="id" type="text" spellcheck="false" autocomplete="off" value="${view.id}" aria-describedby="id-hint">
  </div>
  <div class="field">
    <label for="limit">Events per page</label>
    <input id="limit" name="limit" type="number" min="1" max="100" value="${view.limit}">
  </div>
  <button type="submit">Show events</button>
  <p class="hint" id="id-hint">An id shows its stream's events; when no stream has it, the streams whose id starts with it are listed. Empty: the most recently written streams.</p>
</form>
${view.problem === null ? "" : html`<p class="notice error" role="alert">${view.problem}</p>`}
${page === null ? "" : eventsSection(base, view, page)}
${view.listing === null ? "" : listingSection(base, view.listing)}`;
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
  /** Without a key: the follow-ups pending on the most recently written streams (null with a key). */
  followUps: RecentFollowUps | null;
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
  const recurrence = recurrenceText(entry.recurrence);
  return html`<tr>
  <th scope="row"><code>${entry.service}</code><br><span class="muted mono">${entry.messageId}</span></th>
  <td><time datetime="${entry.dispatchAt}">${when(entry.dispatchAt)}</time><br><span class="muted">${lateness > 0 ? `${humanDuration(lateness)} ago` : `in ${humanDuration(lateness)}`}</span></td>
  <td>${entry.attempts}${Date.parse(entry.nextAttemptAt) === due ? "" : html`<br><span class="muted">next try <time datetime="${entry.nextAttemptAt}">${when(entry.nextAttemptAt)}</time></span>`}</td>
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

function recentFollowUpsSection(base: string, found: RecentFollowUps, now: number, scheduler: boolean): Page {
  // Where the other scheduled messages are: only with a scheduler is there a key form above.
  const others = scheduler
    ? html` Messages scheduled through <code>POST /v1/schedules</code> are kept in the scheduler's shard of their key, and shards cannot be listed: give the key above.`
    : "";
  const intro = html`<h2 id="follow-ups">Follow-ups of the most recently written streams</h2>
<p>What aggregates' decisions scheduled (their follow-ups, kept and delivered by each aggregate's own object), read from the streams the read side's catalog recorded last.${others}</p>`;
  if ("unavailable" in found) return html`<section aria-labelledby="follow-ups">${intro}<p class="notice">${found.unavailable}</p></section>`;
  const unread = found.unread === 0 ? "" : html`<p class="notice error" role="alert">${plural(found.unread, "stream")} could not be read: ${found.unread === 1 ? "its" : "their"} follow-ups are missing here.</p>`;
  return html`<section aria-labelledby="follow-ups">${intro}${unread}
${found.followUps.length === 0
  ? html`<p>None pending on the ${plural(found.streams, "most recently written stream")}.</p>`
  : html`<div class="panel table-wrap"><table>
  <caption>${plural(found.followUps.length, "follow-up")} pending on the ${plural(found.streams, "most recently written stream")}, soonest first</caption>
  <thead><tr><th scope="col">Stream</th><th scope="col">Name</th><th scope="col">Service</th><th scope="col">Next attempt</th><th scope="col">Attempts</th><th scope="col">Repeats</th></tr></thead>
  <tbody>${found.followUps.map(
    ({ stream, id, followUp }) => html`<tr><th scope="row" class="mono"><a href="${streamLink(base, stream, id)}">${stream}-${id}</a></th><td><code>${followUp.name}</code></td><td><code>${followUp.service}</code></td><td>${dueCell(followUp.nextAttemptAt, now)}</td><td>${followUp.attempts}</td><td>${recurrenceText(followUp.recurrence)}</td></tr>`,
  )}</tbody>
</table></div>`}
</section>`;
}

/**
 * The schedules page: the pending messages of one key, with their lateness, and a cancel button
 * each; without a key, the follow-ups pending on the most recently written streams.
 */
export function schedulesPage(base: string, view: SchedulesView): Page {
  const body = !view.enabled
    ? html`<h1>Schedules</h1><p class="notice">No scheduler is configured on this gateway.</p>
${view.followUps === null ? "" : recentFollowUpsSection(base, view.followUps, view.now, false)}`
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
</table></div>`}
${view.followUps === null ? "" : recentFollowUpsSection(base, view.followUps, view.now, true)}`;
  return document_(base, "Schedules", body, "schedules");
}

/** What a subscriber is: the console rebuilds and catches up projections only. */
export type SubscriberKind = "projection" | "process" | "other";

/** A subscriber of the read side as the page lists it. */
export type SubscriberRow = { name: string; kind: SubscriberKind; streams: readonly string[] };

/** One page of the catalog: streams of one aggregate type, from a name on, with checkpoints. */
export type CatalogPage = {
  /** The aggregate type. */
  stream: string;
  /** The first stream name asked for ("" from the start). */
  from: string;
  /** How many streams of this type the catalog holds. */
  total: number;
  entries: readonly CatalogEntry[];
  /** Subscriber → stream name → checkpoint; a stream absent has no checkpoint yet. */
  checkpoints: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** The first stream of the next page, or null on the last page. */
  next: string | null;
};

/** What a rebuild or catch-up came to, as the redirect back after it carries it. */
export type ReplayReport = {
  action: "rebuild" | "catch_up";
  subscriber: string;
  streamsDone: number;
  streamsTotal: number;
  events: number;
  elapsedMs: number;
  /** It ran out of the request's time (see `RebuildProgress.stopped`). */
  stopped: boolean;
  failedCount: number;
  /** The first stream that failed, with its error. */
  firstFailure: { streamName: string; error: string } | null;
};

/** What a sweep started from the console came to, as the redirect back after it carries it. */
export type SweepNotice =
  | { failed: true }
  | {
      failed: false;
      /** Streams looked at. */
      streams: number;
      /** Subscribers' streams caught up, and the events applied to them. */
      caughtUp: number;
      events: number;
      failedCount: number;
      /** Dead letters forgotten because their events are applied now. */
      resolved: number;
      /** Streams are left for the next sweep. */
      more: boolean;
      firstFailure: { streamName: string; subscriber: string; error: string } | null;
    };

/** What the read side page shows. */
export type ReadSideView = {
  subscribers: readonly SubscriberRow[];
  /** The aggregate types any subscriber follows, in order. */
  streams: readonly string[];
  catalog: CatalogPage | null;
  deadLetters: readonly DeadLetter[] | null;
  /** How many dead letters are shown at most. */
  deadLetterLimit: number;
  /** How long a rebuild may run in one request, in ms. */
  replayBudgetMs: number;
  report: ReplayReport | null;
  /** What a sweep started from here came to, or null. */
  sweep: SweepNotice | null;
  /** A subscriber a rebuild was refused for (not a projection), or a replay for (unknown). */
  refused: string | null;
  /** A subscriber whose rebuild or catch-up failed outright. */
  failed: string | null;
  problem: string | null;
};

const KIND_LABELS: Record<SubscriberKind, string> = { projection: "projection", process: "process manager", other: "other subscriber" };

const ACTION_LABELS = { rebuild: ["Rebuilt", "rebuild", "replayed"], catch_up: ["Caught up", "catch-up", "applied"] } as const;

/** An elapsed time for people: "850 ms", "12 s". */
function elapsed(ms: number): string {
  return ms < 1000 ? `${ms} ms` : humanDuration(ms);
}

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

function reportNotice(view: ReadSideView, report: ReplayReport): Page {
  const [done, noun, verb] = ACTION_LABELS[report.action];
  const counts = `${report.streamsDone} of ${plural(report.streamsTotal, "stream")}, ${plural(report.events, "event")} ${verb} in ${elapsed(report.elapsedMs)}`;
  if (report.stopped) {
    return html`<div class="notice error" role="alert"><p>The ${noun} of <code>${report.subscriber}</code> stopped at this request's limit (${humanDuration(view.replayBudgetMs)}): ${counts}.</p>
<p>Its read model is incomplete until the other streams are applied: press <strong>Catch up</strong> on it, again until it finishes, or run it from a script or a Workflow.</p></div>`;
  }
  if (report.failedCount > 0) {
    const first = report.firstFailure;
    return html`<div class="notice error" role="alert"><p>${done} <code>${report.subscriber}</code>: ${counts}; ${plural(report.failedCount, "stream")} failed${first === null ? "" : html`, first <code>${first.streamName}</code>: ${first.error}`}.</p>
<p>Those streams stay behind: once the cause is fixed, press <strong>Catch up</strong>.</p></div>`;
  }
  return html`<p class="notice" role="status">${done} <code>${report.subscriber}</code>: ${counts}.</p>`;
}

function refusedText(view: ReadSideView, name: string): string {
  const subscriber = view.subscribers.find((row) => row.name === name);
  if (subscriber === undefined) return `There is no subscriber ${name}.`;
  if (subscriber.kind === "process") return `${name} is a process manager: it is never rebuilt, since replaying its events would start its processes again. Catch up starts only the ones it missed.`;
  return `${name} is not a projection: its handler may do more than write a read model, so it is never rebuilt from here. Catch up applies only what it missed.`;
}

function sweepNotice(sweep: SweepNotice): Page {
  if (sweep.failed) return html`<p class="notice error" role="alert">The sweep failed: the read side could not be read (the error is in the Worker's logs). Try again.</p>`;
  const counts = `${plural(sweep.streams, "stream")} looked at, ${plural(sweep.caughtUp, "subscriber's stream", "subscribers' streams")} caught up with ${plural(sweep.events, "event")}, ${plural(sweep.resolved, "dead letter")} resolved`;
  const more = sweep.more ? " More streams are left for the next sweep." : "";
  if (sweep.failedCount === 0) return html`<p class="notice" role="status">Swept: ${counts}.${more}</p>`;
  const first = sweep.firstFailure;
  return html`<div class="notice error" role="alert"><p>Swept: ${counts}; ${plural(sweep.failedCount, "stream")} failed${first === null ? "" : html`, first <code>${first.subscriber}</code> on <code>${first.streamName}</code>: ${first.error}`}.${more}</p>
<p>Those are kept as dead letters and tried again by every sweep, until the cause is fixed.</p></div>`;
}

function replayForm(base: string, action: "rebuild" | "catch-up", subscriber: string, label: string, style: string): Page {
  return html`<form method="post" action="${base}/console/read-side/${action}">
    <input type="hidden" name="subscriber" value="${subscriber}">
    <button type="submit" class="${style}" aria-label="${label} ${subscriber}">${label}</button>
  </form>`;
}

function subscriberRow(base: string, row: SubscriberRow): Page {
  return html`<tr>
  <th scope="row"><code>${row.name}</code></th>
  <td>${KIND_LABELS[row.kind]}</td>
  <td>${row.streams.map((stream, index) => html`${index === 0 ? "" : ", "}<code>${stream}</code>`)}</td>
  <td><div class="actions">${row.kind === "projection"
    ? replayForm(base, "rebuild", row.name, "Rebuild", "danger")
    : html`<span class="muted">${row.kind === "process" ? "not rebuilt: it would start its processes again" : "not rebuilt from here"}</span>`}${replayForm(base, "catch-up", row.name, "Catch up", "secondary")}</div></td>
</tr>`;
}

function lagCell(version: number, checkpoint: number | undefined): Page {
  // No checkpoint: nothing applied yet, so every version up to the one seen is behind.
  const lag = version - (checkpoint ?? -1);
  return lag > 0 ? html`<span class="badge warn">${lag} behind</span>` : html`<span class="ok">up to date</span>`;
}

function checkpointTable(catalog: CatalogPage, subscriber: SubscriberRow): Page {
  const checkpoints = catalog.checkpoints.get(subscriber.name);
  return html`<div class="panel table-wrap"><table>
  <caption><code>${subscriber.name}</code> (${KIND_LABELS[subscriber.kind]}) on <code>${catalog.stream}</code> streams</caption>
  <thead><tr><th scope="col">Stream</th><th scope="col">Seen</th><th scope="col">Checkpoint</th><th scope="col">Lag</th></tr></thead>
  <tbody>${catalog.entries.map((entry) => {
    const checkpoint = checkpoints?.get(entry.streamName);
    return html`<tr><th scope="row" class="mono">${entry.streamName}</th><td>v${entry.version}</td><td>${checkpoint === undefined ? html`<span class="muted">none</span>` : `v${checkpoint}`}</td><td>${lagCell(entry.version, checkpoint)}</td></tr>`;
  })}</tbody>
</table></div>`;
}

function catalogSection(base: string, view: ReadSideView): Page {
  const { catalog } = view;
  const link = (from: string) => `${base}/console/read-side?stream=${encodeURIComponent(catalog?.stream ?? "")}&from=${encodeURIComponent(from)}#checkpoints`;
  const following = catalog === null ? [] : view.subscribers.filter((row) => row.streams.includes(catalog.stream));
  return html`<section aria-labelledby="checkpoints"><h2 id="checkpoints">Checkpoints</h2>
<p>Per subscriber and stream of the catalog: <strong>seen</strong> is the highest version the read side was delivered, <strong>checkpoint</strong> the last one the subscriber applied.</p>
<form method="get" action="${base}/console/read-side#checkpoints" class="panel inline" role="search" aria-label="Find streams">
  <div class="field">
    <label for="stream">Aggregate type</label>
    <select id="stream" name="stream">
      ${view.streams.map((name) => html`<option value="${name}"${name === catalog?.stream ? html` selected` : ""}>${name}</option>`)}
    </select>
  </div>
  <div class="field">
    <label for="from">From stream</label>
    <input id="from" name="from" type="text" spellcheck="false" autocomplete="off" value="${catalog?.from ?? ""}" aria-describedby="from-hint">
  </div>
  <button type="submit">Show checkpoints</button>
  <p class="hint" id="from-hint">A stream name, e.g. <code>${catalog?.stream ?? "account"}-42</code>: the list starts there, in name order.</p>
</form>
${catalog === null
  ? ""
  : html`<p>${plural(catalog.total, `${catalog.stream} stream`)} in the catalog; ${catalog.entries.length === 0 ? "none" : `${catalog.entries.length} shown`} ${catalog.from === "" ? "from the first" : html`from <code>${catalog.from}</code>`}.</p>
${catalog.entries.length === 0 ? "" : following.map((subscriber) => checkpointTable(catalog, subscriber))}
<nav class="pager" aria-label="Pages of streams">
  ${catalog.from === "" ? "" : html`<a href="${link("")}">First streams</a>`}
  ${catalog.next === null ? "" : html`<a href="${link(catalog.next)}">Next streams</a>`}
</nav>`}
</section>`;
}

function deadLetterRow(letter: DeadLetter): Page {
  return html`<tr>
  <th scope="row"><code>${letter.subscriber}</code></th>
  <td class="mono">${letter.streamName === "" ? html`<span class="muted">not an event</span>` : letter.streamName}</td>
  <td>${letter.version < 0 ? "" : `v${letter.version}`}</td>
  <td>${letter.attempts}</td>
  <td><pre>${letter.error}</pre></td>
  <td><time datetime="${letter.recordedAt}">${when(letter.recordedAt)}</time></td>
</tr>`;
}

function deadLettersSection(view: ReadSideView): Page {
  const letters = view.deadLetters;
  return html`<section aria-labelledby="dead-letters"><h2 id="dead-letters">Dead letters</h2>
<p>Events a subscriber gave up on after every attempt, newest first. Its checkpoint stays before the event, so later events of that stream wait; once the cause is fixed, <strong>Catch up</strong> applies them in order.</p>
${letters === null
  ? ""
  : letters.length === 0
    ? html`<p class="ok">No dead letters.</p>`
    : html`<div class="panel table-wrap"><table>
  <caption>${letters.length < view.deadLetterLimit ? plural(letters.length, "dead letter") : `The newest ${view.deadLetterLimit} dead letters`}</caption>
  <thead><tr><th scope="col">Subscriber</th><th scope="col">Stream</th><th scope="col">Version</th><th scope="col">Attempts</th><th scope="col">Error</th><th scope="col">Given up</th></tr></thead>
  <tbody>${letters.map(deadLetterRow)}</tbody>
</table></div>`}
</section>`;
}

/**
 * The read side page: each subscriber with what it is and follows (and, for a projection, rebuild
 * and catch-up buttons), checkpoints against the catalog page by page, and the newest dead
 * letters. `view` is null when the Worker has no read side.
 */
export function readSidePage(base: string, view: ReadSideView | null): Page {
  if (view === null) {
    return document_(
      base,
      "Read side",
      html`<h1>Read side</h1>
<p class="notice">This Worker has no read side: no projections or process managers are given to its gateway (its <code>readSide</code> option).</p>`,
      "read-side",
    );
  }
  const body = html`<h1>Read side</h1>
<p>The projections and process managers that committed events are delivered to, how far each has got, and what they gave up on.</p>
${view.report === null ? "" : reportNotice(view, view.report)}
${view.sweep === null ? "" : sweepNotice(view.sweep)}
${view.refused === null ? "" : html`<p class="notice error" role="alert">${refusedText(view, view.refused)}</p>`}
${view.failed === null ? "" : html`<p class="notice error" role="alert">Could not finish with <code>${view.failed}</code>: the read side failed (the error is in the Worker's logs). Try again.</p>`}
${view.problem === null ? "" : html`<p class="notice error" role="alert">${view.problem}</p>`}
<section aria-labelledby="subscribers"><h2 id="subscribers">Subscribers</h2>
<p>A rebuild empties a projection's read model and replays every stream of the catalog into it; a catch-up applies to any subscriber what it has not applied yet. Both run in this request, for at most ${humanDuration(view.replayBudgetMs)}, while the queue goes on delivering.</p>
<div class="panel table-wrap"><table>
  <caption>${plural(view.subscribers.length, "subscriber")}</caption>
  <thead><tr><th scope="col">Subscriber</th><th scope="col">Kind</th><th scope="col">Follows</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
  <tbody>${view.subscribers.map((row) => subscriberRow(base, row))}</tbody>
</table></div>
</section>
<section aria-labelledby="sweep"><h2 id="sweep">Sweep</h2>
<p>Every minute the Worker's Cron Trigger sweeps the read side: it delivers to every subscriber what it missed — a queue message that was lost, a dead letter whose cause was fixed — from the streams written since the last sweep and those with dead letters. Sweep now to do it at once, without waiting for the streams to be quiet.</p>
<form method="post" action="${base}/console/read-side/sweep"><button type="submit" class="secondary">Sweep now</button></form>
</section>
${catalogSection(base, view)}
${deadLettersSection(view)}`;
  return document_(base, "Read side", body, "read-side");
}
