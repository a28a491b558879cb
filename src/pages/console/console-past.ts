import { html } from "hono/html";
import type { PastState } from "../../core/aggregates/aggregate-protocol.js";
import type { StreamAccess } from "../../core/aggregates/aggregate-router.js";
import { Router } from "../../core/messaging/router.js";
import type { ErrorResponse } from "../../core/messaging/response.js";
import { isJsonObject, type Json } from "../../core/shared/json.js";
import { parseBody } from "../../worker/gateway/request-body.js";
import { lookBack, type LookBackCallers } from "../../worker/gateway/state-routes.js";
import type { Page } from "./console-pages.js";
import { problemText } from "./console-read-side.js";

/*
 * The stream page's "Looking back" section: an aggregate's state at a version or a time, and a dry
 * run of one of its commands against that state (through the same look back as the admin API,
 * state-routes.ts). Picking a point is a GET (a link to it can be shared); a dry run is a form
 * post, since it carries the credentials of the caller it runs as, which never go in a URL and are
 * never shown again.
 */

/** What the page was asked to look back at, and what it found. */
export type PastView = {
  /** The version and the time as they were asked for ("" when not), to fill the form again. */
  version: string;
  at: string;
  /** The public commands a dry run may name (empty: a field to type one in). */
  commands: readonly string[];
  /** The state found, with the dry run's answer when one was asked for. */
  past: PastState | null;
  /** The dry run asked for, as typed (the credentials left out), to fill its form again. */
  dryRun: { command: string; request: string } | null;
  /** Why the look back was refused: a sentence of the console's own, or the library's reason. */
  problem: string | null;
};

/** A dry run as the console's form posts it. */
export type PastDryRun = { command: string; request: string; credentials: string };

/** The public commands of an aggregate router (its dry runs may name them); none for other stream access. */
function publicCommands<Env>(access: StreamAccess<Env>): readonly string[] {
  return access instanceof Router ? access.registeredServices("public") : [];
}

/** What a refusal says, for people. */
function refusalText(refusal: ErrorResponse): string {
  if (refusal.reason === "not_found") return "Nothing is stored for this aggregate.";
  const details: Json | undefined = refusal.details;
  if (typeof details === "string") return `Refused: ${details}.`;
  if (isJsonObject(details) && typeof details["problem"] === "string") return `Refused: ${details["problem"]}.`;
  return `Refused: ${refusal.reason}.`;
}

/**
 * Looks back at aggregate `id` as the stream page's query asks (`version` or `at`, as typed) and,
 * with `dryRun`, runs that dry run there. Nothing asked, nothing looked at: the section shows its
 * form only.
 */
export async function pastView<Env>(
  access: StreamAccess<Env>,
  env: Env,
  id: string,
  asked: { version: string; at: string },
  dryRun: PastDryRun | null,
  callers: LookBackCallers<Env>,
): Promise<PastView> {
  const view: PastView = { ...asked, commands: publicCommands(access), past: null, dryRun: dryRun === null ? null : { command: dryRun.command, request: dryRun.request }, problem: null };
  if (asked.version === "" && asked.at === "") return view;
  const point = { version: asked.version === "" ? undefined : asked.version, at: asked.at === "" ? undefined : asked.at };
  let request: Json = {};
  if (dryRun !== null) {
    const parsed = parseBody(dryRun.request);
    if (!parsed.ok) return { ...view, problem: "The request must be a JSON object, such as {\"amount\": 10}." };
    request = parsed.value;
  }
  const input = dryRun === null ? point : { ...point, dryRun: { command: dryRun.command, request, credentials: dryRun.credentials } };
  try {
    const answer = await lookBack(access, env, id, input, callers);
    return "status" in answer ? { ...view, problem: refusalText(answer) } : { ...view, past: answer };
  } catch (error) {
    return { ...view, problem: `Could not look back: ${problemText(error)}` };
  }
}

const json = (value: Json | undefined) => JSON.stringify(value ?? null, null, 2);

/** The state found, and the dry run's answer when there is one. */
function pastResult(view: PastView, past: PastState): Page {
  const dry = past.dryRun;
  return html`<h4 id="past-state">State at version ${past.version}</h4>
  <dl class="facts">
    <dt>Last event</dt><dd>v${past.version}, recorded <time datetime="${past.recordedAt}">${past.recordedAt}</time></dd>
    <dt>Replayed</dt><dd>${past.version + 1} events from the first, through today's upcasters${past.upcastEvents === 0 ? "" : html` (<strong>${past.upcastEvents}</strong> stored in an older shape, upcast)`}</dd>
    <dt>Now</dt><dd>version ${past.now.version}, ${past.now.status}</dd>
  </dl>
  <pre>${json(past.state)}</pre>
  ${dry === undefined
    ? ""
    : html`<div class="panel" role="status" aria-labelledby="dry-run-result">
  <h4 id="dry-run-result">What <code>${view.dryRun?.command ?? ""}</code> would have answered at version ${past.version}</h4>
  <pre>${json(dry.response)}</pre>
  <p class="label">Events it would have appended</p>
  ${dry.events.length === 0 ? html`<p class="muted">None.</p>` : html`<pre>${json(dry.events)}</pre>`}
  <p class="hint">A dry run: nothing was stored, not even a record of the message.</p>
</div>`}`;
}

/** The dry run's form, against the version shown. */
function dryRunForm(base: string, stream: string, id: string, view: PastView, version: number): Page {
  const chosen = view.dryRun?.command ?? "";
  return html`<form method="post" action="${base}/console/streams/dry-run#past" class="panel" aria-labelledby="dry-run-title">
  <h4 id="dry-run-title">Dry-run a command against version ${version}</h4>
  <input type="hidden" name="stream" value="${stream}">
  <input type="hidden" name="id" value="${id}">
  <input type="hidden" name="version" value="${String(version)}">
  <div class="field">
    <label for="dry-command">Command</label>
    ${view.commands.length === 0
      ? html`<input id="dry-command" name="command" type="text" required spellcheck="false" autocomplete="off" value="${chosen}">`
      : html`<select id="dry-command" name="command">${view.commands.map((name) => html`<option value="${name}"${name === chosen ? html` selected` : ""}>${name}</option>`)}</select>`}
  </div>
  <div class="field">
    <label for="dry-request">Request (JSON; the aggregate id is filled in)</label>
    <textarea id="dry-request" name="request" spellcheck="false">${view.dryRun?.request ?? "{}"}</textarea>
  </div>
  <div class="field">
    <label for="dry-credentials">Run as (credentials, optional)</label>
    <input id="dry-credentials" name="credentials" type="password" autocomplete="off" spellcheck="false" aria-describedby="dry-credentials-hint">
  </div>
  <p class="hint" id="dry-credentials-hint">The value of a caller's credentials header (such as <code>Bearer …</code>), identified as a call with it would be; the app's authorize and access rules judge that caller. Empty: an anonymous caller. They are not kept or shown again.</p>
  <button type="submit">Dry-run</button>
</form>`;
}

/** The stream page's section that looks back at the aggregate's state, at a version or a time. */
export function pastSection(base: string, stream: string, id: string, limit: number, view: PastView): Page {
  const { past } = view;
  return html`<section aria-labelledby="past">
  <h3 id="past">Looking back</h3>
  <form method="get" action="${base}/console/streams#past" class="panel inline" aria-label="Look back">
    <input type="hidden" name="stream" value="${stream}">
    <input type="hidden" name="id" value="${id}">
    <input type="hidden" name="limit" value="${String(limit)}">
    <div class="field">
      <label for="past-version">Version</label>
      <input id="past-version" name="version" type="number" min="0" value="${view.version}">
    </div>
    <div class="field">
      <label for="past-at">or time (RFC 3339)</label>
      <input id="past-at" name="at" type="text" spellcheck="false" autocomplete="off" placeholder="2026-12-01T10:00:00Z" value="${view.at}">
    </div>
    <button type="submit">Show the state then</button>
    <p class="hint">The state replayed from the first event to that version — or to the last event recorded at or before that time — through today's upcasters.</p>
  </form>
  ${view.problem === null ? "" : html`<p class="notice error" role="alert">${view.problem}</p>`}
  ${past === null ? "" : html`${pastResult(view, past)}${dryRunForm(base, stream, id, view, past.version)}`}
</section>`;
}
