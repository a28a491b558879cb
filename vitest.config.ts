import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

// Auxiliary Workers for the distribution tests, bundled as `wrangler deploy` would bundle them.
const auxiliary = () =>
  ["node-a", "node-b", "node-faulty"].map((name) => {
    // Absolute: wrangler resolves a relative --outdir against the config file's folder.
    const outdir = resolve(`test/.build/${name}`);
    execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir, "-c", `test/nodes/${name}.toml`], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    return { name, modules: true, scriptPath: `${outdir}/${name}.js`, compatibilityDate: "2026-06-01" };
  });

// Two projects, both run by `npm test`:
// - unit: pure logic (messages, routing, decisions, contracts, the read side's rules) on plain Node, fast;
// - workerd: Durable Objects, alarms, Queues, D1, Workflows and HTTP inside workerd — real SQLite
//   storage, real alarms, auxiliary Workers as other nodes.
export default defineConfig(async () => {
  // The demo's D1 migrations, applied by test/support/read-side-setup.ts as `npm run dev` applies them.
  const readMigrations = await readD1Migrations(resolve("migrations"));
  return {
    test: {
      projects: [
        {
          test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node" },
        },
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./test/wrangler.toml" },
              miniflare: {
                // The test runner itself (not the library) imports node:* modules.
                compatibilityFlags: ["nodejs_compat"],
                // The demo's secrets, as `npm run dev` sets them; the read models' migrations.
                bindings: {
                  API_TOKENS: "dev-ada=ada,dev-bob=bob,dev-root=root:admin",
                  ADMIN_TOKEN: "dev-admin",
                  READ_MIGRATIONS: readMigrations,
                },
                workers: auxiliary(),
                serviceBindings: {
                  NODE_A: { name: "node-a", entrypoint: "X3mNode" },
                  NODE_B: { name: "node-b", entrypoint: "X3mNode" },
                  NODE_FAULTY: { name: "node-faulty", entrypoint: "X3mNode" },
                },
              },
            }),
          ],
          test: {
            name: "workerd",
            include: ["test/**/*.test.ts"],
            exclude: ["test/unit/**"],
            setupFiles: ["test/support/read-side-setup.ts", "test/support/library-log-setup.ts"],
            // workerd's own reports of the errors that tests provoke on purpose (see the file).
            globalSetup: ["test/support/runtime-output.ts"],
          },
        },
      ],
    },
  };
});
