import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

/**
 * The API reference page (`GET /docs`): a small shell whose script reads `/v1/openapi.json` and
 * renders every operation with a "try it" form. Hand-written rather than a packaged reference UI:
 * Swagger UI (swagger-ui-dist 5: 2.2 MB of script and CSS) or Scalar's standalone bundle (4.3 MB)
 * would have to be served as static assets that every Worker using this library configures; this
 * page is about 26 KB inside the Worker (7 KB gzipped: the shell, its script and its stylesheet),
 * works offline, and runs under a strict Content-Security-Policy (no inline script or style,
 * requests to this origin only). Its script is browser TypeScript (src/pages/browser/docs.ts),
 * served compiled from docs-script.ts. `base` is the path the gateway is mounted under ("" at the
 * root).
 */
export function docsPage(base: string): HtmlEscapedString | Promise<HtmlEscapedString> {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}/docs/docs.css">
<script src="${base}/docs/docs.js" defer></script>
</head>
<body data-base="${base}">
<a class="skip" href="#main">Skip to the operations</a>
<header class="top">
  <div>
    <h1 id="title">API reference</h1>
    <p id="subtitle" class="muted">Reading <a href="${base}/v1/openapi.json">/v1/openapi.json</a>…</p>
  </div>
  <form id="auth" class="inline" aria-labelledby="auth-title">
    <h2 id="auth-title" class="label">Authorization</h2>
    <div class="field">
      <label for="token">Bearer token</label>
      <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" aria-describedby="auth-state">
    </div>
    <button type="submit">Use token</button>
    <button type="button" id="forget" class="secondary">Forget</button>
    <p id="auth-state" class="hint" role="status">Requests are sent without a token.</p>
  </form>
</header>
<div class="layout">
  <nav id="nav" aria-label="Operations"></nav>
  <main id="main" tabindex="-1">
    <p id="loading" role="status">Loading the API description…</p>
    <noscript><p>This page needs JavaScript to render <a href="${base}/v1/openapi.json">/v1/openapi.json</a>.</p></noscript>
  </main>
</div>
</body>
</html>`;
}
