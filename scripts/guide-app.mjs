#!/usr/bin/env node
// Writes the app a document builds — its ```… file=<path> blocks (scripts/guide-blocks.mjs) — into
// a folder, as a reader who copies the document would, and prints the packages the guides tell a
// reader to install (one per line, for `npm install`).
//
// Usage: node scripts/guide-app.mjs <document> <folder>      e.g. guides/read-side.md /tmp/app
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { blocksOf, installedBy } from "./guide-blocks.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const [document, folder] = process.argv.slice(2);
if (document === undefined || folder === undefined) {
  console.error("usage: node scripts/guide-app.mjs <document> <folder>");
  process.exit(2);
}
const { files } = blocksOf(root, document);
if (files.size === 0) {
  console.error(`${document} builds no app (no file= blocks)`);
  process.exit(1);
}
for (const [path, file] of files) {
  const target = resolve(folder, path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, file.text);
}
// What getting-started.md's install step installs (every app starts from it).
for (const name of installedBy(root, "guides/getting-started.md")) console.log(name);
