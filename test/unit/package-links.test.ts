import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

/*
 * The README, the CHANGELOG and the guides ship in the package (package.json "files"), and a
 * reader opens them in node_modules/x3m-system too: each relative link must reach a file the
 * package carries.
 */
const root = join(dirname(new URL(import.meta.url).pathname), "../..");
const shipped: string[] = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { files: string[] }).files;
const documents = ["README.md", "CHANGELOG.md", ...readdirSync(join(root, "guides")).filter((name) => name.endsWith(".md")).map((name) => `guides/${name}`)];

/** The relative links (and images) of a Markdown text, without their anchors; code blocks left out. */
function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, "");
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] ?? "")
    .filter((target) => !/^[a-z]+:/i.test(target) && !target.startsWith("#"))
    .map((target) => target.split("#")[0] ?? "");
}

describe("the documents the package ships link only to what it ships", () => {
  it.each(documents)("every relative link of %s reaches a file in the package", (document) => {
    const missing = relativeLinks(readFileSync(join(root, document), "utf8"))
      .map((target) => relative(root, normalize(join(root, dirname(document), target))))
      .filter((path) => !existsSync(join(root, path)) || !shipped.some((entry) => path === entry || path.startsWith(`${entry}/`)));
    expect(missing).toEqual([]);
  });
});
