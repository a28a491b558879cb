// The code blocks of a document (README.md, guides/*.md), as the guide check and the consumer
// check read them. A document's fences say what each block is:
//
//   ```ts                 one module (it must import what it uses)
//   ```ts module=<name>   blocks with the same name in one document are one module, in order
//   ```ts file=<path>     a file of the app the document builds (blocks with the same path are
//                         joined in order); also ```toml file=…, ```sql file=…, ```json file=…
//   ```ts fragment        shown, not checked (a piece of an object literal, pseudo-code)
//
// A document whose blocks name files builds an app a reader can write from it alone: the consumer
// check writes those files into a fresh project that installs the packed package and runs it.
import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The blocks of `document` (a path relative to `root`): `modules` (ts code to check, each
 * { name, line, code }) and `files` (path → { language, line, text }).
 */
export function blocksOf(root, document) {
  const text = readFileSync(join(root, document), "utf8");
  const modules = [];
  const named = new Map();
  const files = new Map();
  const fence = /^```(\w+)([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm;
  for (const match of text.matchAll(fence)) {
    const [, language, rest, body] = match;
    const info = (rest ?? "").trim();
    const line = text.slice(0, match.index).split("\n").length + 1;
    const file = /(?:^|\s)file=(\S+)/.exec(info)?.[1];
    if (file !== undefined) {
      const existing = files.get(file);
      if (existing !== undefined) existing.text += `\n${body}`;
      else files.set(file, { language, line, text: body });
      continue;
    }
    if (language !== "ts" || info === "fragment") continue;
    const code = `// --- ${document}:${line}\n${body}`;
    const name = /^module=(\S+)$/.exec(info)?.[1];
    const existing = name === undefined ? undefined : named.get(name);
    if (existing !== undefined) {
      existing.code += `\n${code}`;
      continue;
    }
    const module = { name: name ?? `block-${line}`, line, code };
    modules.push(module);
    if (name !== undefined) named.set(name, module);
  }
  return { modules, files };
}

/**
 * The packages a document tells its reader to install: the words after `npm install` (or `npm i`)
 * in its sh blocks that are package names (not options, not paths to a tarball).
 */
export function installedBy(root, document) {
  const text = readFileSync(join(root, document), "utf8");
  const packages = new Set();
  for (const block of text.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    for (const command of block[1].matchAll(/npm (?:install|i)\b([^\n#]*)/g)) {
      // An install elsewhere (`--prefix`: a Node for the tools) puts nothing in the app.
      if (/(^|\s)--prefix\b/.test(command[1])) continue;
      for (const word of command[1].trim().split(/\s+/)) {
        if (word === "" || word.startsWith("-") || word.includes("/") && !word.startsWith("@")) continue;
        packages.add(word.replace(/(.)@[^@/]*$/, "$1"));
      }
    }
  }
  return packages;
}

/** The package a bare import specifier names (`@scope/name/sub` → `@scope/name`). */
export function packageOf(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}
