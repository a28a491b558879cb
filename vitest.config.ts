import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Every suite runs inside workerd: real Durable Objects with SQLite storage, real alarms.
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./test/wrangler.toml" },
      // The test runner itself (not the library) imports node:* modules.
      miniflare: {
        compatibilityFlags: ["nodejs_compat"],
        // The demo's secrets, as `npm run dev` sets them.
        bindings: { API_TOKENS: "dev-ada=ada,dev-bob=bob,dev-root=root:admin", ADMIN_TOKEN: "dev-admin" },
      },
    }),
  ],
  test: { include: ["test/**/*.test.ts"] },
});
