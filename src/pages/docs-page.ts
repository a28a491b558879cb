import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

/**
 * The API reference page (`GET /docs`): a small shell whose script reads `/v1/openapi.json` and
 * renders every operation with a "try it" form. Hand-written rather than a packaged reference UI:
 * Swagger UI (swagger-ui-dist 5: 2.2 MB of script and CSS) or Scalar's standalone bundle (4.3 MB)
 * would have to be served as static assets that every Worker using this library configures; this
 * page is about 26 KB inside the Worker (7 KB gzipped: the shell, its script and its stylesheet),
 * works offline, and runs under a strict Content-Security-Policy (no inline script or style,
 * requests to this origin only). `base` is the path the gateway is mounted under ("" at the root).
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

/**
 * The reference's script, served as `/docs/docs.js`. Browser JavaScript kept as text: this
 * project's TypeScript compiles for workerd (no DOM types), and a text constant needs no build
 * step or asset configuration in the Workers that use the library; the browser tests exercise
 * it. It only ever sets text (never HTML) from the document, so descriptions cannot inject markup;
 * the token lives in this tab's sessionStorage and travels only in the Authorization header.
 */
export const DOCS_SCRIPT = String.raw`"use strict";
(function () {
  var base = document.body.getAttribute("data-base") || "";
  var TOKEN_KEY = "x3m-docs-token";
  var spec = null;
  var opCount = 0;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var key in attrs) {
      if (attrs[key] === null || attrs[key] === undefined || attrs[key] === false) continue;
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key] === true ? "" : String(attrs[key]));
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function readToken() { try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; } }
  function writeToken(value) {
    try { if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* storage off: kept for this page only */ }
    memoryToken = value;
    showAuth();
  }
  var memoryToken = readToken();
  function showAuth() {
    document.getElementById("auth-state").textContent = memoryToken
      ? "Requests carry your bearer token (kept in this tab only)."
      : "Requests are sent without a token.";
  }

  function resolve(schema, depth) {
    var seen = 0;
    while (schema && typeof schema.$ref === "string" && seen < 20) {
      var path = schema.$ref.replace(/^#\//, "").split("/");
      var target = spec;
      for (var i = 0; i < path.length && target; i++) target = target[path[i].replace(/~1/g, "/").replace(/~0/g, "~")];
      schema = target;
      seen++;
    }
    return schema || {};
  }

  // An example value from a JSON Schema: its own examples first, then a plausible value.
  function exampleOf(raw, depth) {
    var schema = resolve(raw);
    if (depth > 6) return null;
    if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
    if (schema.example !== undefined) return schema.example;
    if (schema["default"] !== undefined) return schema["default"];
    if (schema["const"] !== undefined) return schema["const"];
    if (Array.isArray(schema["enum"]) && schema["enum"].length) return schema["enum"][0];
    var variants = schema.anyOf || schema.oneOf;
    if (Array.isArray(variants) && variants.length && !schema.type && !schema.properties) return exampleOf(variants[0], depth + 1);
    if (Array.isArray(schema.allOf)) {
      var merged = {};
      schema.allOf.forEach(function (part) { var value = exampleOf(part, depth + 1); if (value && typeof value === "object") Object.assign(merged, value); });
      return merged;
    }
    var type = Array.isArray(schema.type) ? schema.type.filter(function (t) { return t !== "null"; })[0] : schema.type;
    if (type === "object" || schema.properties) {
      var result = {};
      var props = schema.properties || {};
      var required = Array.isArray(schema.required) ? schema.required : [];
      var names = required.length ? required : Object.keys(props);
      names.forEach(function (name) { if (props[name]) result[name] = exampleOf(props[name], depth + 1); });
      return result;
    }
    if (type === "array") return [];
    if (type === "integer" || type === "number") {
      if (typeof schema.minimum === "number") return schema.minimum;
      if (typeof schema.exclusiveMinimum === "number") return type === "integer" ? Math.floor(schema.exclusiveMinimum) + 1 : schema.exclusiveMinimum + 1;
      return 1;
    }
    if (type === "boolean") return false;
    if (type === "string") {
      if (schema.format === "date-time") return new Date(Date.now() + 3600000).toISOString();
      var text = "text";
      if (typeof schema.minLength === "number" && schema.minLength > text.length) text = Array(schema.minLength + 1).join("x");
      return text;
    }
    return null;
  }

  function typeText(schema) {
    var s = resolve(schema);
    if (s["const"] !== undefined) return JSON.stringify(s["const"]);
    if (Array.isArray(s["enum"])) return s["enum"].map(function (v) { return JSON.stringify(v); }).join(" | ");
    if (Array.isArray(s.type)) return s.type.join(" | ");
    if (s.type) return s.type + (s.type === "array" && s.items ? " of " + typeText(s.items) : "");
    if (s.anyOf || s.oneOf) return (s.anyOf || s.oneOf).map(typeText).join(" | ");
    return "any";
  }

  function constraints(schema) {
    var s = resolve(schema);
    var parts = [];
    ["minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "pattern", "format"].forEach(function (key) {
      if (s[key] !== undefined) parts.push(key + ": " + s[key]);
    });
    if (s.description) parts.push(s.description);
    return parts.join("; ");
  }

  function schemaView(raw, caption) {
    var schema = resolve(raw);
    var wrap = el("div");
    var props = schema.properties;
    if (props && Object.keys(props).length) {
      var required = Array.isArray(schema.required) ? schema.required : [];
      var rows = Object.keys(props).map(function (name) {
        return el("tr", null, [
          el("th", { scope: "row" }, [el("code", { text: name })]),
          el("td", { text: typeText(props[name]) }),
          el("td", { text: required.indexOf(name) >= 0 ? "yes" : "no" }),
          el("td", { text: constraints(props[name]) }),
        ]);
      });
      wrap.appendChild(el("div", { className: "table-wrap" }, [el("table", null, [
        el("caption", { text: caption }),
        el("thead", null, [el("tr", null, ["Field", "Type", "Required", "Constraints"].map(function (h) { return el("th", { scope: "col", text: h }); }))]),
        el("tbody", null, rows),
      ])]));
    } else {
      wrap.appendChild(el("p", { text: caption + ": " + (schema.description || typeText(schema)) }));
    }
    wrap.appendChild(el("details", null, [el("summary", { text: "JSON Schema" }), el("pre", { text: JSON.stringify(raw, null, 2) })]));
    return wrap;
  }

  function curlOf(method, url, headers, body) {
    var parts = ["curl -s -X " + method + " '" + url + "'"];
    Object.keys(headers).forEach(function (name) {
      var value = name === "Authorization" ? "Bearer $TOKEN" : headers[name];
      parts.push("-H '" + name + ": " + value + "'");
    });
    if (body !== undefined) parts.push("-d '" + body.replace(/'/g, "'\\''") + "'");
    return parts.join(" \\\n  ");
  }

  function tryForm(path, method, op) {
    var id = "op" + (++opCount);
    var params = (op.parameters || []).map(function (p) { return resolve(p); });
    var fields = [];
    // Path and query parameters are shown; optional headers wait behind a disclosure.
    var paramBox = el("div", { className: "params" });
    var headerBox = el("div", { className: "params" });
    params.forEach(function (p, index) {
      var inputId = id + "-p" + index;
      var schema = resolve(p.schema || {});
      var control;
      if (Array.isArray(schema["enum"])) {
        control = el("select", { id: inputId, name: p.name }, [el("option", { value: "", text: p.required ? "(choose)" : "(not sent)" })].concat(
          schema["enum"].map(function (v) { return el("option", { value: String(v), text: String(v) }); })));
      } else {
        control = el("input", { id: inputId, name: p.name, type: "text", spellcheck: "false", autocomplete: "off", required: p.required ? true : null,
          placeholder: p.required ? null : "(not sent)", "aria-describedby": p.description ? inputId + "-hint" : null });
      }
      fields.push({ param: p, control: control });
      (p["in"] === "header" ? headerBox : paramBox).appendChild(el("div", { className: "field" }, [
        el("label", { "for": inputId, text: p.name + (p.required ? " (required)" : "") + (p["in"] === "header" ? "" : " · " + p["in"]) }),
        control,
        p.description ? el("span", { id: inputId + "-hint", className: "hint", text: p.description }) : null,
      ]));
    });
    var media = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
    var bodyArea = null;
    var bodyError = null;
    var children = [];
    if (paramBox.childNodes.length) children.push(el("fieldset", { className: "panel" }, [el("legend", { text: "Parameters" }), paramBox]));
    if (headerBox.childNodes.length) children.push(el("details", null, [el("summary", { text: "Request headers (optional)" }), headerBox]));
    if (media) {
      var example = media.example !== undefined ? media.example : exampleOf(media.schema || {}, 0);
      bodyArea = el("textarea", { id: id + "-body", name: "body", spellcheck: "false", rows: 6, "aria-describedby": id + "-body-error" });
      bodyArea.value = JSON.stringify(example, null, 2);
      bodyError = el("p", { id: id + "-body-error", className: "bad", role: "alert" });
      children.push(el("div", { className: "field" }, [el("label", { "for": id + "-body", text: "Request body (JSON)" }), bodyArea, bodyError]));
    }
    var send = el("button", { type: "submit", text: "Send request" });
    children.push(el("div", null, [send]));
    var result = el("div", { className: "result", role: "status", "aria-live": "polite" });
    children.push(result);
    var form = el("form", { className: "try", "aria-label": "Try " + method.toUpperCase() + " " + path, novalidate: true }, children);

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var url = base + path;
      var query = [];
      var headers = {};
      var missing = null;
      fields.forEach(function (f) {
        var value = f.control.value.trim();
        if (f.param.required && !value) missing = missing || f.control;
        if (!value) return;
        if (f.param["in"] === "path") url = url.replace("{" + f.param.name + "}", encodeURIComponent(value));
        else if (f.param["in"] === "query") query.push(encodeURIComponent(f.param.name) + "=" + encodeURIComponent(value));
        else if (f.param["in"] === "header") headers[f.param.name] = value;
      });
      if (missing) { missing.setAttribute("aria-invalid", "true"); missing.focus(); result.textContent = "Fill in the required fields first."; return; }
      fields.forEach(function (f) { f.control.removeAttribute("aria-invalid"); });
      if (query.length) url += "?" + query.join("&");
      var body;
      if (bodyArea) {
        body = bodyArea.value.trim();
        if (body) {
          try { JSON.parse(body); } catch (e) {
            bodyArea.setAttribute("aria-invalid", "true");
            bodyError.textContent = "Not valid JSON: " + e.message;
            bodyArea.focus();
            return;
          }
          headers["Content-Type"] = "application/json";
        }
        bodyArea.removeAttribute("aria-invalid");
        bodyError.textContent = "";
      }
      if (memoryToken) headers["Authorization"] = "Bearer " + memoryToken;
      send.disabled = true;
      result.textContent = "Sending…";
      var started = performance.now();
      fetch(url, { method: method.toUpperCase(), headers: headers, body: body || undefined, credentials: "omit", cache: "no-store" })
        .then(function (answer) {
          return answer.text().then(function (text) {
            var pretty = text;
            try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON: shown as it is */ }
            var ids = ["X-Message-Id", "X-Correlation-Id", "X-Causation-Id"].filter(function (h) { return answer.headers.get(h); })
              .map(function (h) { return h + ": " + answer.headers.get(h); });
            result.replaceChildren(
              el("p", null, [el("span", { className: "badge " + (answer.ok ? "ok" : "bad"), "data-status": answer.status,
                text: "HTTP " + answer.status + " " + answer.statusText }), " " + Math.round(performance.now() - started) + " ms"]),
              ids.length ? el("pre", { className: "ids", text: ids.join("\n") }) : null,
              el("pre", { className: "answer", "aria-label": "Response body", text: pretty }),
              el("details", null, [el("summary", { text: "As curl" }), el("pre", { text: curlOf(method.toUpperCase(), location.origin + url, headers, body || undefined) })])
            );
          });
        })
        .catch(function (error) { result.replaceChildren(el("p", { className: "bad", text: "The request failed: " + error.message })); })
        .then(function () { send.disabled = false; });
    });
    return form;
  }

  function operationView(path, method, op) {
    var article = el("article", { className: "operation panel", id: "op-" + (op.operationId || path), "aria-labelledby": "h-" + (op.operationId || path) });
    article.appendChild(el("h3", { id: "h-" + (op.operationId || path) }, [
      el("span", { className: "method " + method, text: method.toUpperCase() }), el("code", { text: path })]));
    if (op.summary) article.appendChild(el("p", { text: op.summary }));
    if (op.description && op.description !== op.summary) article.appendChild(el("p", { className: "muted", text: op.description }));
    if (op.security && op.security.some(function (s) { return Object.keys(s).length > 0; })) {
      var optional = op.security.some(function (s) { return Object.keys(s).length === 0; });
      var names = op.security.map(function (s) { return Object.keys(s)[0]; }).filter(Boolean);
      article.appendChild(el("p", { className: "hint", text: (optional ? "Bearer token optional" : "Bearer token required") + " (" + names.join(" or ") + ")." }));
    }
    if (op["x-x3m-schema"]) article.appendChild(el("p", { className: "hint warn", text: "Schema not described: " + op["x-x3m-schema"] }));
    var media = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
    if (media) article.appendChild(schemaView(media.schema || {}, "Request body"));
    var codes = Object.keys(op.responses || {});
    article.appendChild(el("details", null, [el("summary", { text: "Responses (" + codes.join(", ") + ")" }),
      el("ul", null, codes.map(function (code) {
        var answer = resolve(op.responses[code]);
        return el("li", null, [el("code", { text: code }), " " + (answer.description || "")]);
      }))]));
    article.appendChild(el("h4", { className: "label", text: "Try it" }));
    article.appendChild(tryForm(path, method, op));
    return article;
  }

  function render() {
    var info = spec.info || {};
    document.title = (info.title || "API") + " · reference";
    document.getElementById("title").textContent = info.title || "API reference";
    var subtitle = document.getElementById("subtitle");
    subtitle.replaceChildren("Version " + (info.version || "?") + " · OpenAPI " + spec.openapi + " · ",
      el("a", { href: base + "/v1/openapi.json", text: "openapi.json" }));
    var main = document.getElementById("main");
    var nav = document.getElementById("nav");
    main.replaceChildren();
    if (info.description) main.appendChild(el("p", { className: "description", text: info.description }));
    var groups = {};
    var order = (spec.tags || []).map(function (t) { return t.name; });
    Object.keys(spec.paths || {}).forEach(function (path) {
      ["get", "post", "put", "patch", "delete"].forEach(function (method) {
        var op = spec.paths[path][method];
        if (!op) return;
        var tag = (op.tags && op.tags[0]) || "Other";
        if (order.indexOf(tag) < 0) order.push(tag);
        (groups[tag] = groups[tag] || []).push({ path: path, method: method, op: op });
      });
    });
    order.forEach(function (tag, index) {
      var ops = groups[tag];
      if (!ops) return;
      var headingId = "tag-" + index;
      var described = (spec.tags || []).filter(function (t) { return t.name === tag; })[0];
      var section = el("section", { "aria-labelledby": headingId }, [el("h2", { id: headingId, text: tag })]);
      if (described && described.description) section.appendChild(el("p", { className: "muted", text: described.description }));
      var links = el("ul");
      ops.forEach(function (entry) {
        var article = operationView(entry.path, entry.method, entry.op);
        section.appendChild(article);
        links.appendChild(el("li", null, [el("a", { href: "#" + article.id }, [
          el("span", { className: "method " + entry.method, text: entry.method.toUpperCase() }),
          el("span", { text: decodeURIComponent(entry.path.replace(/^\/v1\/(services|validate)\//, "").replace(/^\/v1/, "")) })])]));
      });
      nav.appendChild(el("h2", { text: tag }));
      nav.appendChild(links);
      main.appendChild(section);
    });
  }

  document.getElementById("token").value = memoryToken;
  showAuth();
  document.getElementById("auth").addEventListener("submit", function (event) {
    event.preventDefault();
    writeToken(document.getElementById("token").value.trim());
  });
  document.getElementById("forget").addEventListener("click", function () {
    document.getElementById("token").value = "";
    writeToken("");
  });

  fetch(base + "/v1/openapi.json", { credentials: "omit", cache: "no-store" })
    .then(function (answer) {
      if (!answer.ok) throw new Error("HTTP " + answer.status);
      return answer.json();
    })
    .then(function (document_) { spec = document_; render(); })
    .catch(function (error) {
      var loading = document.getElementById("loading");
      if (loading) { loading.className = "notice error"; loading.textContent = "Could not read the API description: " + error.message; }
    });
})();
`;
