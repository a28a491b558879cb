import { html } from "hono/html";
import type { ErasureReceipt } from "../../core/readside/erasure-receipt.js";
import { document_, type Page } from "./console-pages.js";

/*
 * Erasing an aggregate from the console: the stream page's Erase section links to a confirmation
 * page, where the operator types the aggregate's id to confirm (a form posted from this origin,
 * as every change the console makes); the erasure's receipt is then shown from the read side's
 * audit log, which the Erasures page lists. Hono's `html` escapes every value shown.
 */

/** A subscriber that follows the aggregate's type, and whether it handles erasure. */
export type EraseFollower = { name: string; handles: boolean };

/** What the confirmation page shows: the aggregate, what erasing it does, and why it was refused. */
export type EraseView = {
  stream: string;
  id: string;
  /** Whether the type is one the console knows and the id a valid one: only then are they shown. */
  known: boolean;
  /** Whether the form is shown: the gateway erases (`admin.erasure`) and the aggregate is one it knows. */
  enabled: boolean;
  /** The stream as it is now: its version, or null when nothing is stored (or it could not be read). */
  version: number | null;
  /** The read side's subscribers that follow the type (empty when the console has no read side). */
  followers: readonly EraseFollower[];
  /** What the form held, to fill it again after a refusal. */
  operator: string;
  reason: string;
  problem: string | null;
};

/** The stream page's Erase section: what erasing does, and the way to its confirmation page. */
export function eraseSection(base: string, stream: string, id: string, enabled: boolean): Page {
  return html`<section aria-labelledby="erase">
  <h3 id="erase">Erase</h3>
  ${enabled
    ? html`<p>Erasing removes this aggregate for good, on request (a person's right to erasure): its events and everything its object stores, its pending schedules, its rows in the read models, its checkpoints and dead letters. A receipt says what went.</p>
  <form method="get" action="${base}/console/streams/erase" aria-label="Erase this aggregate">
    <input type="hidden" name="stream" value="${stream}">
    <input type="hidden" name="id" value="${id}">
    <button type="submit" class="danger">Erase this aggregate…</button>
  </form>`
    : html`<p class="muted">Erasure is not configured on this gateway (its admin options have no erasure).</p>`}
</section>`;
}

/** The confirmation page: what will go, and a form that asks for the aggregate's id again. */
export function erasePage(base: string, view: EraseView): Page {
  const back = `${base}/console/streams?stream=${encodeURIComponent(view.stream)}&id=${encodeURIComponent(view.id)}`;
  const unhandled = view.followers.filter((follower) => !follower.handles);
  // An aggregate the console does not know is not named: its type and id are only text from a URL
  // someone else may have written (the page must not repeat it as if it were the console's).
  const named = view.known ? html`<code>${view.stream}-${view.id}</code>` : "an aggregate";
  const body = html`<h1>Erase ${named}</h1>
${view.problem === null ? "" : html`<p class="notice error" role="alert">${view.problem}</p>`}
${!view.enabled
  ? view.problem === null
    ? html`<p class="notice">Erasure is not configured on this gateway (its admin options have no erasure).</p>`
    : ""
  : html`<p>${view.version === null ? "Nothing is stored for this aggregate now; what the read side still holds of it goes." : `The aggregate is at version ${view.version}.`} Erasing it cannot be undone. It removes:</p>
<ul>
  <li>its object's storage: events (and of them, those not known to be sent to the read side), snapshots, idempotency records, follow-ups and their alarm;</li>
  <li>its pending schedules (as an admin: everyone's);</li>
  <li>its rows in the read models of the subscribers that handle erasure${view.followers.length === 0 ? "" : html` (${view.followers.filter((f) => f.handles).map((f) => f.name).join(", ") || "none"})`}, its checkpoints, catalog and usage rows, and its dead letters;</li>
  <li>its events still on their way to the read side, when they arrive.</li>
</ul>
${unhandled.length === 0
  ? ""
  : html`<p class="notice" role="note">Not handling erasure, so keeping their rows: ${unhandled.map((follower, index) => html`${index === 0 ? "" : ", "}<code>${follower.name}</code>`)}.</p>`}
<form method="post" action="${base}/console/streams/erase" class="panel" aria-labelledby="confirm-title">
  <h2 id="confirm-title">Confirm</h2>
  <input type="hidden" name="stream" value="${view.stream}">
  <input type="hidden" name="id" value="${view.id}">
  <div class="field">
    <label for="erase-confirm">Type the aggregate's id, <code>${view.id}</code>, to confirm</label>
    <input id="erase-confirm" name="confirm" type="text" required spellcheck="false" autocomplete="off">
  </div>
  <div class="field">
    <label for="erase-operator">Your name (optional, kept in the receipt)</label>
    <input id="erase-operator" name="operator" type="text" maxlength="200" autocomplete="off" value="${view.operator}">
  </div>
  <div class="field">
    <label for="erase-reason">Reason (optional, kept in the receipt: a request's reference, not personal data)</label>
    <input id="erase-reason" name="reason" type="text" maxlength="200" autocomplete="off" value="${view.reason}">
  </div>
  <button type="submit" class="danger">Erase for good</button>
</form>`}
${view.known ? html`<p><a href="${back}">Back to the stream</a></p>` : html`<p><a href="${base}/console/streams">Streams</a></p>`}`;
  return document_(base, view.known ? `Erase ${view.stream}-${view.id}` : "Erase an aggregate", body, "erasures");
}

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

/** Where an erasure was asked for, for people: the API, the console, or the name code gave. */
const doorOf = (via: string) => (via === "api" ? "the HTTP API" : via === "console" ? "the console" : via);

/** The places an erasure cleared, one row each. */
function receiptRows(receipt: ErasureReceipt): Page[] {
  const removed = receipt.object.removed;
  const object = !receipt.object.found
    ? "held nothing (an earlier erasure removed it)"
    : removed === null
      ? "removed (its client does not say how much)"
      : `${plural(removed.events, "event")}, ${plural(removed.snapshots, "snapshot")}, ${plural(removed.idempotencyRecords, "idempotency record")}, ${plural(removed.outbox, "event not sent", "events not sent")}, ${plural(removed.followUps, "follow-up")}, ${removed.alarm ? "its alarm" : "no alarm"}${removed.jurisdiction === undefined ? "" : `, in ${removed.jurisdiction}`}${removed.homeRecord === true ? ", with its home's record of it" : ""}`;
  const { readSide } = receipt;
  return [
    html`<tr><th scope="row">Object storage</th><td>${object}</td></tr>`,
    ...(receipt.schedules.length === 0
      ? [html`<tr><th scope="row">Schedules</th><td class="muted">no scheduler keys looked at</td></tr>`]
      : receipt.schedules.map(
          (entry) =>
            html`<tr><th scope="row">Schedules on <code>${entry.key}</code></th><td>${entry.cancelled} cancelled${entry.error === undefined ? "" : html` <span class="bad">— failed: ${entry.error}</span>`}</td></tr>`,
        )),
    ...receipt.subscribers.map(
      (entry) =>
        html`<tr><th scope="row">${entry.kind === "projection" ? "Projection" : entry.kind === "process" ? "Process manager" : "Subscriber"} <code>${entry.name}</code></th><td>${entry.outcome === "erased"
          ? entry.statements === 0
            ? html`<span class="ok">erased</span>: it keeps nothing of one aggregate`
            : html`<span class="ok">erased</span> (${plural(entry.statements, "statement")})`
          : entry.outcome === "not_handled"
            ? html`<span class="warn">does not handle erasure: its rows stay</span>`
            : html`<span class="bad">failed</span>: ${entry.error ?? ""}`}</td></tr>`,
    ),
    html`<tr><th scope="row">Read side</th><td>${plural(readSide.checkpoints, "checkpoint")}, ${plural(readSide.catalog, "catalog row")}, ${plural(readSide.usage, "usage row")}, ${plural(readSide.deadLetters, "dead letter")}</td></tr>`,
  ];
}

/** One erasure's receipt, as the audit log keeps it; `problem` when there is none to show. */
export function receiptPage(base: string, receipt: ErasureReceipt | null, problem: string | null): Page {
  const body =
    receipt === null
      ? html`<h1>Erasure</h1><p class="notice error" role="alert">${problem ?? "There is no such erasure."}</p><p><a href="${base}/console/erasures">Every erasure</a></p>`
      : html`<h1>Erasure of <code>${receipt.streamName}</code></h1>
${receipt.complete
  ? html`<p class="notice" role="status">Erased. The receipt below is kept in the audit log; it holds none of the erased data.</p>`
  : html`<p class="notice error" role="alert">Erased, but not everywhere: erase it again once the cause below is fixed.</p>`}
<dl class="facts">
  <dt>Erasure id</dt><dd class="mono">${receipt.erasureId}</dd>
  <dt>When</dt><dd><time datetime="${receipt.erasedAt}">${receipt.erasedAt}</time></dd>
  <dt>By</dt><dd>an admin, through ${doorOf(receipt.by.via)}${receipt.by.operator === null ? "" : html` (${receipt.by.operator})`}</dd>
  <dt>Reason</dt><dd>${receipt.reason ?? html`<span class="muted">none given</span>`}</dd>
</dl>
<div class="panel table-wrap"><table>
  <caption>Where it was removed from</caption>
  <thead><tr><th scope="col">Place</th><th scope="col">Removed</th></tr></thead>
  <tbody>${receiptRows(receipt)}</tbody>
</table></div>
<details><summary>The receipt as JSON</summary><pre>${JSON.stringify(receipt, null, 2)}</pre></details>
<p><a href="${base}/console/erasures">Every erasure</a></p>`;
  return document_(base, "Erasure", body, "erasures");
}

/** The audit log: the newest erasures, newest first. */
export function erasuresPage(base: string, receipts: readonly ErasureReceipt[] | null, problem: string | null): Page {
  const body = html`<h1>Erasures</h1>
<p>The audit log of aggregates erased on request: what went from where, when and by whom — never the erased data. An aggregate is erased from its stream page.</p>
${problem === null ? "" : html`<p class="notice error" role="alert">${problem}</p>`}
${receipts === null
  ? ""
  : receipts.length === 0
    ? html`<p>No aggregate has been erased.</p>`
    : html`<div class="panel table-wrap"><table>
  <caption>The ${plural(receipts.length, "newest erasure")}, newest first</caption>
  <thead><tr><th scope="col">Stream</th><th scope="col">When</th><th scope="col">By</th><th scope="col">Outcome</th></tr></thead>
  <tbody>${receipts.map(
    (receipt) => html`<tr>
    <th scope="row" class="mono"><a href="${base}/console/erasures/${encodeURIComponent(receipt.erasureId)}">${receipt.streamName}</a></th>
    <td><time datetime="${receipt.erasedAt}">${receipt.erasedAt}</time></td>
    <td>${doorOf(receipt.by.via)}${receipt.by.operator === null ? "" : html` (${receipt.by.operator})`}</td>
    <td>${receipt.complete ? html`<span class="ok">complete</span>` : html`<span class="bad">incomplete: erase again</span>`}</td>
  </tr>`,
  )}</tbody>
</table></div>`}`;
  return document_(base, "Erasures", body, "erasures");
}
