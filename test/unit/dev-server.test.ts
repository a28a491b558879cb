import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(dirname(new URL(import.meta.url).pathname), "../..");

describe("x3m-dev", () => {
  it("--help prints wrangler dev's help after its own line, and applies no migration nor starts anything", () => {
    const state = mkdtempSync(join(tmpdir(), "x3m-dev-help-"));
    try {
      const shown = spawnSync(process.execPath, [join(root, "bin/x3m-dev.mjs"), "--help", "--persist-to", state], { cwd: root, encoding: "utf8", timeout: 60_000 });
      expect(shown.status).toBe(0);
      expect(shown.stdout).toMatch(/^x3m-dev: `wrangler dev` that applies/);
      expect(shown.stdout).toContain("wrangler dev [script]");
      // The demo has a D1 database with migrations: applying them would have made its state here.
      expect(existsSync(state) ? readdirSync(state) : []).toEqual([]);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});
