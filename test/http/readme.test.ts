// Every curl in README.md, run against the demo Worker, its documented answer checked: the
// README cannot drift from what the demo does.
//
// The README's convention (it says so to its readers too): under each `curl` command (or at the
// end of its last line) a comment gives the HTTP status and the part of the JSON answer that
// matters, e.g. `# 201 {"response":{"status":"created","version":0}}`. The answer must have at
// least those fields (arrays in full); `"…"` stands for any text; the JSON may wrap onto further
// comment lines indented after the `#`, and prose may follow it. `NAME='value'` lines set shell
// variables for later commands, and `<field>` in a command is the value of that field in the most
// recent answer that had it (`<messageId>`).
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import readme from "../../README.md?raw";
import { silentLogger, type ServiceResponse } from "../../src/core/index.js";
import { newId } from "../../src/core/shared/ids.js";
import { createGateway } from "../../src/worker/index.js";
import { fx } from "../../examples/fx-node/worker.js";
import { libraryLog } from "../support/library-log.js";

/** One `curl` of the README and the answer it documents. */
type Documented = { section: string; command: string; words: string[]; status: number; json: unknown; prose: string };

/** A ```sh block of the README, under the nearest heading. */
type Block = { section: string; lines: string[] };

function shellBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let section = "(top)";
  let current: string[] | null = null;
  for (const line of markdown.split("\n")) {
    if (current !== null) {
      if (line.startsWith("```")) {
        blocks.push({ section, lines: current });
        current = null;
      } else current.push(line);
    } else if (line.startsWith("```sh")) current = [];
    else if (/^#{1,6} /.test(line)) section = line.replace(/^#+ /, "");
  }
  return blocks;
}

/**
 * The words of a shell command as the shell would split them: '…' literally, "…" with `$NAME`
 * expanded, bare words with `$NAME` expanded; a word starting with `#` starts a comment.
 */
function shellWords(command: string, variables: Map<string, string>): { words: string[]; comment: string } {
  const expand = (text: string) =>
    text.replace(/\$(\w+)|\$\{(\w+)\}/g, (_all, a: string | undefined, b: string | undefined) => {
      const name = a ?? b ?? "";
      const value = variables.get(name);
      if (value === undefined) throw new Error(`README: $${name} is used before it is set`);
      return value;
    });
  const words: string[] = [];
  let index = 0;
  while (index < command.length) {
    while (index < command.length && /\s/.test(command[index] ?? "")) index += 1;
    if (index >= command.length) break;
    if (command[index] === "#") return { words, comment: command.slice(index + 1).trim() };
    let word = "";
    while (index < command.length && !/\s/.test(command[index] ?? "")) {
      const char = command[index] ?? "";
      if (char === "'" || char === '"') {
        const end = command.indexOf(char, index + 1);
        if (end === -1) throw new Error(`README: unclosed ${char} in ${command}`);
        const quoted = command.slice(index + 1, end);
        word += char === "'" ? quoted : expand(quoted);
        index = end + 1;
      } else {
        const bare = /^[^\s'"]+/.exec(command.slice(index))?.[0] ?? "";
        word += expand(bare);
        index += bare.length;
      }
    }
    words.push(word);
  }
  return { words, comment: "" };
}

/** The status, the JSON fragment and the prose of an expectation such as `201 {"a":1} — text`. */
function expectation(text: string, command: string): { status: number; json: unknown; prose: string } {
  const match = /^(\d{3})\b\s*(.*)$/s.exec(text.trim());
  if (match === null) throw new Error(`README: no documented answer ("# <status> <json>") for: ${command}`);
  const rest = match[2] ?? "";
  if (!rest.startsWith("{") && !rest.startsWith("[")) return { status: Number(match[1]), json: undefined, prose: rest };
  const end = jsonEnd(rest);
  return { status: Number(match[1]), json: JSON.parse(rest.slice(0, end)) as unknown, prose: rest.slice(end).trim() };
}

/** Where the JSON value at the start of `text` ends (brackets counted outside strings). */
function jsonEnd(text: string): number {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (inString) {
      if (char === "\\") index += 1;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "{" || char === "[") depth += 1;
    else if (char === "}" || char === "]") {
      depth -= 1;
      if (depth === 0) return index + 1;
    }
  }
  throw new Error(`README: unbalanced JSON in ${text}`);
}

/** The documented commands of the README, in order; shell variables set as they go. */
function documentedCommands(markdown: string): Documented[] {
  const variables = new Map<string, string>();
  const documented: Documented[] = [];
  for (const block of shellBlocks(markdown)) {
    const lines = block.lines;
    for (let index = 0; index < lines.length; index += 1) {
      const line = lines[index] ?? "";
      const assignment = /^(\w+)='([^']*)'\s*$/.exec(line);
      if (assignment !== null) {
        variables.set(assignment[1] ?? "", assignment[2] ?? "");
        continue;
      }
      if (!line.startsWith("curl ")) continue;
      let command = line;
      while (command.endsWith("\\")) {
        index += 1;
        command = `${command.slice(0, -1)} ${(lines[index] ?? "").trim()}`;
      }
      const { words, comment } = shellWords(command, variables);
      let expected = comment;
      if (expected === "") {
        // The answer on the comment lines under the command: `# 200 …`, then lines `#   …`.
        const first = /^# (\d{3}\b.*)$/.exec(lines[index + 1] ?? "");
        if (first !== null) {
          expected = first[1] ?? "";
          index += 1;
          while (/^#\s{2,}/.test(lines[index + 1] ?? "")) {
            index += 1;
            expected += ` ${(lines[index] ?? "").replace(/^#\s+/, "")}`;
          }
        }
      }
      documented.push({ section: block.section, command, words, ...expectation(expected, command) });
    }
  }
  return documented;
}

/** A fetch Request from curl's words (the options the README uses: -s -i -X -H -d). */
function curlRequest(words: string[], answers: unknown[]): Request {
  let method: string | undefined;
  let body: string | undefined;
  let url: string | undefined;
  const headers = new Headers();
  for (let index = 1; index < words.length; index += 1) {
    const word = words[index] ?? "";
    const next = () => {
      index += 1;
      return words[index] ?? "";
    };
    if (word === "-s" || word === "-i") continue;
    else if (word === "-X") method = next();
    else if (word === "-H") {
      const header = next();
      headers.set(header.slice(0, header.indexOf(":")).trim(), header.slice(header.indexOf(":") + 1).trim());
    } else if (word === "-d") body = next();
    else if (word.startsWith("-")) throw new Error(`README: the test does not know curl's ${word}`);
    else url = word;
  }
  if (url === undefined) throw new Error(`README: a curl without a URL: ${words.join(" ")}`);
  const resolved = url.replace(/<(\w+)>/g, (_all, field: string) => placeholder(field, answers));
  // As curl does: -d is a POST of a form; the gateway reads the body as JSON whatever its type.
  if (body !== undefined && !headers.has("Content-Type")) headers.set("Content-Type", "application/x-www-form-urlencoded");
  return new Request(`http://${resolved}`, { method: method ?? (body === undefined ? "GET" : "POST"), headers, body });
}

/**
 * Takes the warnings the demo logs for an answer, and asserts them: a service no one offers, and
 * a message id sent again (`repeated`) — answered from the account's record, or refused as reused.
 */
function takeWhatTheDemoLogged(body: unknown, repeated: string | null): void {
  const answer = (body as { response?: ServiceResponse }).response;
  if (answer?.status === "service_unavailable") {
    expect(libraryLog.take({ level: "warn", msg: `[Discovery] Service ${answer.service} NOT found!` })).toHaveLength(1);
  }
  if (repeated !== null) {
    const reused = answer?.status === "error" && answer.reason === "idempotency_key_reused";
    const msg = reused ? "message id reused for a different command or request" : "message already processed: answering as before, without running it again";
    expect(libraryLog.take({ level: reused ? "warn" : "info", msg, fields: { messageId: repeated } })).toHaveLength(1);
  }
}

/** `<field>`: the value of `field` in the most recent answer that has it. */
function placeholder(field: string, answers: unknown[]): string {
  for (const answer of [...answers].reverse()) {
    const value = (answer as Record<string, unknown>)[field];
    if (typeof value === "string") return value;
  }
  throw new Error(`README: <${field}> names no field of an earlier answer`);
}

/** The documented JSON as a matcher: `"…"` is any string. */
function matcher(value: unknown): unknown {
  if (value === "…") return expect.any(String);
  if (Array.isArray(value)) return value.map(matcher);
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, matcher(item)]));
  return value;
}

// Fresh names, so that the bank and scheduling tours start from nothing on every run: `ada-1`
// becomes `ada-1-<unique>` everywhere, in commands and answers alike.
const run = newId();
const commands = documentedCommands(readme.replace(/\b(ada-1|bob-1|t-1)\b/g, `$1-${run}`));

// The test Worker has the demo but not the fx node (its auxiliary Workers are the distribution
// tests' node-a and node-b). The "Several Workers" block, which needs `npm run dev:nodes`, runs
// against a gateway serving the fx node's router itself: its answers are checked, the hop
// between the two Workers is not (test/distribution covers that).
const fxGateway = createGateway({ services: [fx], logger: silentLogger });
const needsFxNode = (section: string) => section === "Several Workers";

describe("README.md: every curl answers as documented", () => {
  it("documents an answer for every curl of the README", () => {
    expect(commands.length).toBeGreaterThanOrEqual(20);
    const curls = readme.split("\n").filter((line) => line.startsWith("curl ")).length;
    expect(commands).toHaveLength(curls);
  });

  const answers: unknown[] = [];
  const messageIds = new Set<string>();
  for (const documented of commands) {
    const shown = documented.command.replaceAll(`-${run}`, "").replace(/\s+/g, " ");
    it(`${documented.section}: ${shown} → ${documented.status}`, async () => {
      const request = curlRequest(documented.words, answers);
      const messageId = request.headers.get("X-Message-Id");
      const answer = needsFxNode(documented.section) ? await fxGateway.fetch(request, {}) : await exports.default.fetch(request);
      const text = await answer.text();
      const body: unknown = JSON.parse(text);
      answers.push(body);
      expect({ status: answer.status, body }, documented.command).toMatchObject({ status: documented.status, body: matcher(documented.json ?? {}) });
      takeWhatTheDemoLogged(body, messageId !== null && messageIds.has(messageId) ? messageId : null);
      if (messageId !== null) messageIds.add(messageId);
    });
  }
});

describe("README.md: what it says around the commands", () => {
  it("with plain npm run dev (no fx node) the fx services answer 404 service_unavailable", async () => {
    const answer = await exports.default.fetch("http://localhost:8787/v1/services/convert", { method: "POST", body: '{"amount":100,"from":"EUR","to":"USD"}' });
    expect(answer.status).toBe(404);
    const body: unknown = await answer.json();
    expect(body).toMatchObject({ response: { status: "service_unavailable", service: "convert" } });
    takeWhatTheDemoLogged(body, null);
  });
});
