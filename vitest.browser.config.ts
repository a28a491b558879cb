import { defineConfig } from "vitest/config";

// The browser suite (`npm run test:browser`): real Chromium against the demo under `wrangler dev`,
// started once by test/browser/demo-server.ts. Not part of `npm test`: it needs Chromium from the
// operating system (.ci/run installs it) and takes a few tens of seconds.
export default defineConfig({
  test: {
    name: "browser",
    include: ["test/browser/**/*.browser.ts"],
    environment: "node",
    globalSetup: ["test/browser/demo-server.ts"],
    // One browser at a time on a 2-core machine; pages and wrangler dev share it.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
