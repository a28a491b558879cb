// The API reference's script (`/docs/docs.js`), run by the browser. It reads `/v1/openapi.json`
// and renders every operation with a "try it" form. Browser code: type-checked on its own with the
// DOM's types (tsconfig.json beside it), compiled to one script by scripts/browser-scripts.mjs
// into src/pages/docs-script.ts, which the Worker serves as text — nothing is compiled at request
// time. It imports nothing.
//
// It only ever sets text (never HTML) from the document, so descriptions cannot inject markup;
// the token lives in this tab's sessionStorage and travels only in the Authorization header.

/** A JSON value, as the OpenAPI document holds them: nothing in it is trusted to have a shape. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Attributes of {@link el}: `text` sets the text, `className` the class; null, undefined and false are left out. */
type Attributes = Record<string, string | number | boolean | null | undefined>;
type Child = Node | string | null | undefined;

const isObject = (value: Json | undefined): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);
/** `value` as an object: an empty one when it is not one. */
const objectOf = (value: Json | undefined): JsonObject => (isObject(value) ? value : {});
const arrayOf = (value: Json | undefined): Json[] => (Array.isArray(value) ? value : []);
const stringOf = (value: Json | undefined): string | undefined => (typeof value === "string" ? value : undefined);
const numberOf = (value: Json | undefined): number | undefined => (typeof value === "number" ? value : undefined);
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The element of id `id`, which the page's shell (docs-page.ts) always has. */
function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found as T;
}

const base = document.body.getAttribute("data-base") ?? "";
const TOKEN_KEY = "x3m-docs-token";
let spec: JsonObject = {};
let opCount = 0;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attributes | null, children?: readonly Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "className") node.className = String(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children ?? []) {
    if (child === null || child === undefined) continue;
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function readToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}
let memoryToken = readToken();

function writeToken(value: string): void {
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage off: kept for this page only.
  }
  memoryToken = value;
  showAuth();
}

function showAuth(): void {
  byId("auth-state").textContent = memoryToken ? "Requests carry your bearer token (kept in this tab only)." : "Requests are sent without a token.";
}

/** A schema or a part of the document with its `$ref`s followed (at most 20). */
function resolve(node: Json | undefined): JsonObject {
  let current: Json | undefined = node;
  for (let seen = 0; seen < 20; seen += 1) {
    const ref = isObject(current) ? stringOf(current["$ref"]) : undefined;
    if (ref === undefined) break;
    let target: Json | undefined = spec;
    for (const part of ref.replace(/^#\//, "").split("/")) {
      target = isObject(target) ? target[part.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
    }
    current = target;
  }
  return objectOf(current);
}

/** An example value from a JSON Schema: its own examples first, then a plausible value. */
function exampleOf(raw: Json | undefined, depth: number): Json {
  const schema = resolve(raw);
  if (depth > 6) return null;
  const examples = arrayOf(schema["examples"]);
  if (examples.length > 0) return examples[0] ?? null;
  for (const key of ["example", "default", "const"]) {
    const value = schema[key];
    if (value !== undefined) return value;
  }
  const choices = arrayOf(schema["enum"]);
  if (choices.length > 0) return choices[0] ?? null;
  const variants = arrayOf(schema["anyOf"] ?? schema["oneOf"]);
  if (variants.length > 0 && schema["type"] === undefined && schema["properties"] === undefined) return exampleOf(variants[0], depth + 1);
  if (Array.isArray(schema["allOf"])) {
    const merged: JsonObject = {};
    for (const part of schema["allOf"]) {
      const value = exampleOf(part, depth + 1);
      if (isObject(value)) Object.assign(merged, value);
    }
    return merged;
  }
  const declared = schema["type"];
  const type = Array.isArray(declared) ? declared.find((t) => t !== "null") : declared;
  if (type === "object" || schema["properties"] !== undefined) {
    const result: JsonObject = {};
    const props = objectOf(schema["properties"]);
    const required = arrayOf(schema["required"]).filter((name): name is string => typeof name === "string");
    for (const name of required.length > 0 ? required : Object.keys(props)) {
      if (props[name] !== undefined) result[name] = exampleOf(props[name], depth + 1);
    }
    return result;
  }
  if (type === "array") return [];
  if (type === "integer" || type === "number") {
    const minimum = numberOf(schema["minimum"]);
    if (minimum !== undefined) return minimum;
    const above = numberOf(schema["exclusiveMinimum"]);
    if (above !== undefined) return type === "integer" ? Math.floor(above) + 1 : above + 1;
    return 1;
  }
  if (type === "boolean") return false;
  if (type === "string") {
    // A value of the declared format, so that "try it" starts from a request the service accepts
    // (a time without seconds: valibot's isoTime, described as "time", takes only HH:mm).
    const inAnHour = new Date(Date.now() + 3600000).toISOString();
    const formatted: Record<string, string> = {
      "date-time": inAnHour,
      date: inAnHour.slice(0, 10),
      time: inAnHour.slice(11, 16),
      email: "ada@example.com",
      uri: "https://example.com/",
      url: "https://example.com/",
      uuid: "00000000-0000-4000-8000-000000000000",
      ipv4: "192.0.2.1",
      ipv6: "2001:db8::1",
    };
    const format = schema["format"];
    if (typeof format === "string" && Object.hasOwn(formatted, format)) return formatted[format] ?? "text";
    const minLength = numberOf(schema["minLength"]);
    const maxLength = numberOf(schema["maxLength"]);
    if (maxLength !== undefined && maxLength < 4) return "x".repeat(Math.max(1, maxLength));
    return minLength !== undefined && minLength > 4 ? "x".repeat(minLength) : "text";
  }
  return null;
}

function typeText(raw: Json | undefined): string {
  const s = resolve(raw);
  if (s["const"] !== undefined) return JSON.stringify(s["const"]);
  if (Array.isArray(s["enum"])) return s["enum"].map((v) => JSON.stringify(v)).join(" | ");
  const type = s["type"];
  if (Array.isArray(type)) return type.join(" | ");
  if (typeof type === "string") return type + (type === "array" && s["items"] !== undefined ? ` of ${typeText(s["items"])}` : "");
  const variants = s["anyOf"] ?? s["oneOf"];
  if (Array.isArray(variants)) return variants.map(typeText).join(" | ");
  return "any";
}

const CONSTRAINTS = ["minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "pattern", "format"];

function constraints(raw: Json | undefined): string {
  const s = resolve(raw);
  const parts = CONSTRAINTS.filter((key) => s[key] !== undefined).map((key) => `${key}: ${String(s[key])}`);
  const description = stringOf(s["description"]);
  if (description) parts.push(description);
  return parts.join("; ");
}

function schemaView(raw: Json | undefined, caption: string): HTMLElement {
  const schema = resolve(raw);
  const wrap = el("div");
  const props = objectOf(schema["properties"]);
  if (Object.keys(props).length > 0) {
    const required = arrayOf(schema["required"]);
    const rows = Object.keys(props).map((name) =>
      el("tr", null, [
        el("th", { scope: "row" }, [el("code", { text: name })]),
        el("td", { text: typeText(props[name]) }),
        el("td", { text: required.includes(name) ? "yes" : "no" }),
        el("td", { text: constraints(props[name]) }),
      ]),
    );
    wrap.appendChild(
      el("div", { className: "table-wrap" }, [
        el("table", null, [
          el("caption", { text: caption }),
          el("thead", null, [el("tr", null, ["Field", "Type", "Required", "Constraints"].map((h) => el("th", { scope: "col", text: h })))]),
          el("tbody", null, rows),
        ]),
      ]),
    );
  } else {
    wrap.appendChild(el("p", { text: `${caption}: ${stringOf(schema["description"]) || typeText(schema)}` }));
  }
  wrap.appendChild(el("details", null, [el("summary", { text: "JSON Schema" }), el("pre", { text: JSON.stringify(raw ?? {}, null, 2) })]));
  return wrap;
}

function curlOf(method: string, url: string, headers: Record<string, string>, body: string | undefined): string {
  const parts = [`curl -s -X ${method} '${url}'`];
  for (const [name, value] of Object.entries(headers)) parts.push(`-H '${name}: ${name === "Authorization" ? "Bearer $TOKEN" : value}'`);
  if (body !== undefined) parts.push(`-d '${body.replace(/'/g, "'\\''")}'`);
  return parts.join(" \\\n  ");
}

/** A parameter of an operation and the control that sets it. */
type Field = { param: JsonObject; control: HTMLInputElement | HTMLSelectElement };

/**
 * "Try it" for one operation; `dryRunPath` is the path of the service's dry run, offered as a
 * checkbox (the dry run is the same call, validated and decided, with nothing stored).
 */
function tryForm(path: string, method: string, op: JsonObject, dryRunPath: string | null): HTMLFormElement {
  opCount += 1;
  const id = `op${opCount}`;
  const params = arrayOf(op["parameters"]).map(resolve);
  const fields: Field[] = [];
  // Path and query parameters are shown; optional headers wait behind a disclosure.
  const paramBox = el("div", { className: "params" });
  const headerBox = el("div", { className: "params" });
  params.forEach((p, index) => {
    const inputId = `${id}-p${index}`;
    const name = stringOf(p["name"]) ?? "";
    const where = stringOf(p["in"]) ?? "";
    const required = p["required"] === true;
    const description = stringOf(p["description"]);
    const choices = resolve(p["schema"])["enum"];
    const control = Array.isArray(choices)
      ? el("select", { id: inputId, name }, [
          el("option", { value: "", text: required ? "(choose)" : "(not sent)" }),
          ...choices.map((v) => el("option", { value: String(v), text: String(v) })),
        ])
      : el("input", {
          id: inputId,
          name,
          type: "text",
          spellcheck: "false",
          autocomplete: "off",
          required,
          placeholder: required ? null : "(not sent)",
          "aria-describedby": description ? `${inputId}-hint` : null,
        });
    fields.push({ param: p, control });
    (where === "header" ? headerBox : paramBox).appendChild(
      el("div", { className: "field" }, [
        el("label", { for: inputId, text: name + (required ? " (required)" : "") + (where === "header" ? "" : ` · ${where}`) }),
        control,
        description ? el("span", { id: `${inputId}-hint`, className: "hint", text: description }) : null,
      ]),
    );
  });
  const media = objectOf(objectOf(op["requestBody"])["content"])["application/json"];
  let bodyArea: HTMLTextAreaElement | null = null;
  let bodyError: HTMLElement | null = null;
  const children: HTMLElement[] = [];
  if (paramBox.childNodes.length > 0) children.push(el("fieldset", { className: "panel" }, [el("legend", { text: "Parameters" }), paramBox]));
  if (headerBox.childNodes.length > 0) children.push(el("details", null, [el("summary", { text: "Request headers (optional)" }), headerBox]));
  if (isObject(media)) {
    const example = media["example"] !== undefined ? media["example"] : exampleOf(media["schema"] ?? {}, 0);
    bodyArea = el("textarea", { id: `${id}-body`, name: "body", spellcheck: "false", rows: 6, "aria-describedby": `${id}-body-error` });
    bodyArea.value = JSON.stringify(example, null, 2);
    bodyError = el("p", { id: `${id}-body-error`, className: "bad", role: "alert" });
    children.push(el("div", { className: "field" }, [el("label", { for: `${id}-body`, text: "Request body (JSON)" }), bodyArea, bodyError]));
  }
  let dryRun: HTMLInputElement | null = null;
  if (dryRunPath !== null) {
    dryRun = el("input", { id: `${id}-dry-run`, type: "checkbox", "aria-describedby": `${id}-dry-run-hint` });
    children.push(
      el("div", { className: "check" }, [
        dryRun,
        el("label", { for: `${id}-dry-run`, text: "Dry run: validate and decide, store nothing" }),
        el("span", { id: `${id}-dry-run-hint`, className: "hint" }, [`sent to `, el("code", { text: dryRunPath })]),
      ]),
    );
  }
  const send = el("button", { type: "submit", text: "Send request" });
  children.push(el("div", null, [send]));
  const result = el("div", { className: "result", role: "status", "aria-live": "polite" });
  children.push(result);
  const form = el("form", { className: "try", "aria-label": `Try ${method.toUpperCase()} ${path}`, novalidate: true }, children);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    let url = base + (dryRun?.checked === true && dryRunPath !== null ? dryRunPath : path);
    const query: string[] = [];
    const headers: Record<string, string> = {};
    let missing: HTMLElement | null = null;
    for (const { param, control } of fields) {
      const value = control.value.trim();
      if (param["required"] === true && !value) missing ??= control;
      if (!value) continue;
      const name = stringOf(param["name"]) ?? "";
      if (param["in"] === "path") url = url.replace(`{${name}}`, encodeURIComponent(value));
      else if (param["in"] === "query") query.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
      else if (param["in"] === "header") headers[name] = value;
    }
    if (missing !== null) {
      missing.setAttribute("aria-invalid", "true");
      missing.focus();
      result.textContent = "Fill in the required fields first.";
      return;
    }
    for (const { control } of fields) control.removeAttribute("aria-invalid");
    if (query.length > 0) url += `?${query.join("&")}`;
    let body: string | undefined;
    if (bodyArea !== null && bodyError !== null) {
      body = bodyArea.value.trim();
      if (body) {
        try {
          JSON.parse(body);
        } catch (error) {
          bodyArea.setAttribute("aria-invalid", "true");
          bodyError.textContent = `Not valid JSON: ${messageOf(error)}`;
          bodyArea.focus();
          return;
        }
        headers["Content-Type"] = "application/json";
      }
      bodyArea.removeAttribute("aria-invalid");
      bodyError.textContent = "";
    }
    if (memoryToken) headers["Authorization"] = `Bearer ${memoryToken}`;
    send.disabled = true;
    result.textContent = "Sending…";
    const started = performance.now();
    const verb = method.toUpperCase();
    fetch(url, { method: verb, headers, body: body || undefined, credentials: "omit", cache: "no-store" })
      .then(async (answer) => {
        const text = await answer.text();
        let pretty = text;
        try {
          pretty = JSON.stringify(JSON.parse(text), null, 2);
        } catch {
          // Not JSON: shown as it is.
        }
        const ids = ["X-Message-Id", "X-Correlation-Id", "X-Causation-Id"].filter((h) => answer.headers.get(h)).map((h) => `${h}: ${answer.headers.get(h) ?? ""}`);
        result.replaceChildren(
          el("p", null, [
            el("span", { className: `badge ${answer.ok ? "ok" : "bad"}`, "data-status": answer.status, text: `HTTP ${answer.status} ${answer.statusText}` }),
            ` ${Math.round(performance.now() - started)} ms`,
          ]),
          ...(ids.length > 0 ? [el("pre", { className: "ids", text: ids.join("\n") })] : []),
          el("pre", { className: "answer", "aria-label": "Response body", text: pretty }),
          el("details", null, [el("summary", { text: "As curl" }), el("pre", { text: curlOf(verb, location.origin + url, headers, body || undefined) })]),
        );
      })
      .catch((error: unknown) => {
        result.replaceChildren(el("p", { className: "bad", text: `The request failed: ${messageOf(error)}` }));
      })
      .finally(() => {
        send.disabled = false;
      });
  });
  return form;
}

/**
 * What a caller needs to call an operation, as the document states it. A service operation says
 * what its `authorize` answered an anonymous caller (`x-x3m-anonymous`); other routes, their
 * security requirements.
 */
function accessText(op: JsonObject): string | null {
  const security = arrayOf(op["security"]).map(objectOf);
  const bearer = security.some((s) => "bearer" in s);
  switch (stringOf(op["x-x3m-anonymous"])) {
    case "allowed":
      return bearer ? "No bearer token needed: anonymous calls pass authorize (a token identifies you, which may change the answer)." : "No bearer token needed: anonymous calls pass authorize.";
    case "unauthorized":
      return bearer ? "Bearer token required: without one, authorize refuses the call (401)." : "Refused to anonymous callers (401), and this gateway identifies no one.";
    case "forbidden":
      return bearer
        ? "Bearer token required: anonymous calls are refused (403), and the token must carry the rights authorize asks for."
        : "Refused to anonymous callers (403), and this gateway identifies no one.";
    case "refused":
      return bearer ? "Bearer token required: authorize refuses anonymous calls." : "Refused to anonymous callers, and this gateway identifies no one.";
    case "unknown":
      return op["x-x3m-offered-by"] !== undefined
        ? "May require a bearer token, depending on the authorize of the node that offers it."
        : "May require a bearer token, depending on authorize (it could not be asked).";
    default:
      break;
  }
  if (!security.some((s) => Object.keys(s).length > 0)) return null;
  const optional = security.some((s) => Object.keys(s).length === 0);
  const names = security.map((s) => Object.keys(s)[0]).filter((name): name is string => name !== undefined);
  return `${optional ? "Bearer token optional" : "Bearer token required"} (${names.join(" or ")}).`;
}

function operationView(path: string, method: string, op: JsonObject, dryRunPath: string | null): HTMLElement {
  const key = stringOf(op["operationId"]) ?? path;
  const article = el("article", { className: "operation panel", id: `op-${key}`, "aria-labelledby": `h-${key}` });
  article.appendChild(el("h3", { id: `h-${key}` }, [el("span", { className: `method ${method}`, text: method.toUpperCase() }), el("code", { text: path })]));
  const summary = stringOf(op["summary"]);
  const description = stringOf(op["description"]);
  if (summary) article.appendChild(el("p", { text: summary }));
  if (description && description !== summary) article.appendChild(el("p", { className: "muted", text: description }));
  const access = accessText(op);
  if (access !== null) article.appendChild(el("p", { className: "hint access", text: access }));
  const note = stringOf(op["x-x3m-schema"]);
  if (note) article.appendChild(el("p", { className: "hint warn", text: `Schema not described: ${note}` }));
  const partial = stringOf(op["x-x3m-schema-partial"]);
  if (partial) article.appendChild(el("p", { className: "hint", text: `Schema described in part: ${partial}.` }));
  const content = objectOf(objectOf(op["requestBody"])["content"]);
  const media = content["application/json"];
  if (isObject(media)) article.appendChild(schemaView(media["schema"] ?? {}, "Request body"));
  const responses = objectOf(op["responses"]);
  const codes = Object.keys(responses);
  article.appendChild(
    el("details", null, [
      el("summary", { text: `Responses (${codes.join(", ")})` }),
      el("ul", null, codes.map((code) => el("li", null, [el("code", { text: code }), ` ${stringOf(resolve(responses[code])["description"]) ?? ""}`]))),
    ]),
  );
  article.appendChild(el("h4", { className: "label", text: "Try it" }));
  article.appendChild(tryForm(path, method, op, dryRunPath));
  return article;
}

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

/** One operation of the document, by path and method. */
type Entry = { path: string; method: string; op: JsonObject };

function render(): void {
  const info = objectOf(spec["info"]);
  const title = stringOf(info["title"]);
  document.title = `${title || "API"} · reference`;
  byId("title").textContent = title || "API reference";
  byId("subtitle").replaceChildren(
    `Version ${stringOf(info["version"]) || "?"} · OpenAPI ${String(spec["openapi"])} · `,
    el("a", { href: `${base}/v1/openapi.json`, text: "openapi.json" }),
  );
  const main = byId("main");
  const nav = byId("nav");
  main.replaceChildren();
  const description = stringOf(info["description"]);
  if (description) main.appendChild(el("p", { className: "description", text: description }));
  const tags = arrayOf(spec["tags"]).map(objectOf);
  const groups = new Map<string, Entry[]>();
  const order = tags.map((t) => stringOf(t["name"])).filter((name): name is string => name !== undefined);
  const paths = objectOf(spec["paths"]);
  // A service's dry run is an option of the service's own entry (its "try it"), not an entry of its own.
  const dryRuns = new Map<string, string>();
  for (const path of Object.keys(paths)) {
    const of = stringOf(objectOf(objectOf(paths[path])["post"])["x-x3m-dry-run-of"]);
    if (of !== undefined && isObject(objectOf(paths[of])["post"])) dryRuns.set(of, path);
  }
  const folded = new Set(dryRuns.values());
  for (const path of Object.keys(paths)) {
    for (const method of METHODS) {
      const op = objectOf(paths[path])[method];
      if (!isObject(op) || (method === "post" && folded.has(path))) continue;
      const tag = stringOf(arrayOf(op["tags"])[0]) ?? "Other";
      if (!order.includes(tag)) order.push(tag);
      const group = groups.get(tag) ?? [];
      group.push({ path, method, op });
      groups.set(tag, group);
    }
  }
  order.forEach((tag, index) => {
    const ops = groups.get(tag);
    if (ops === undefined) return;
    const headingId = `tag-${index}`;
    const described = stringOf(tags.find((t) => t["name"] === tag)?.["description"]);
    const section = el("section", { "aria-labelledby": headingId }, [el("h2", { id: headingId, text: tag })]);
    if (described) section.appendChild(el("p", { className: "muted", text: described }));
    const links = el("ul");
    for (const entry of ops) {
      const article = operationView(entry.path, entry.method, entry.op, entry.method === "post" ? (dryRuns.get(entry.path) ?? null) : null);
      section.appendChild(article);
      links.appendChild(
        el("li", null, [
          el("a", { href: `#${article.id}` }, [
            el("span", { className: `method ${entry.method}`, text: entry.method.toUpperCase() }),
            el("span", { text: decodeURIComponent(entry.path.replace(/^\/v1\/(services|validate)\//, "").replace(/^\/v1/, "")) }),
          ]),
        ]),
      );
    }
    nav.appendChild(el("h2", { text: tag }));
    nav.appendChild(links);
    main.appendChild(section);
  });
}

byId<HTMLInputElement>("token").value = memoryToken;
showAuth();
byId("auth").addEventListener("submit", (event) => {
  event.preventDefault();
  writeToken(byId<HTMLInputElement>("token").value.trim());
});
byId("forget").addEventListener("click", () => {
  byId<HTMLInputElement>("token").value = "";
  writeToken("");
});

fetch(`${base}/v1/openapi.json`, { credentials: "omit", cache: "no-store" })
  .then(async (answer) => {
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    return (await answer.json()) as Json;
  })
  .then((document_) => {
    spec = objectOf(document_);
    render();
  })
  .catch((error: unknown) => {
    const loading = document.getElementById("loading");
    if (loading !== null) {
      loading.className = "notice error";
      loading.textContent = `Could not read the API description: ${messageOf(error)}`;
    }
  });

export {};
