// Types of the test runtime: the test Worker's module and bindings (test/wrangler.toml, vitest.config.ts).
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("./support/test-worker.js");
  }
  interface Env {
    ACCOUNTS: DurableObjectNamespace;
    TRANSFERS: DurableObjectNamespace;
    EVENTS: Queue;
    DEAD_LETTERS: Queue;
    READ_MODELS: D1Database;
    TRANSFER_WORKFLOW: Workflow;
    FLAKY_TRANSFER_WORKFLOW: Workflow;
    TALLY: DurableObjectNamespace;
    FLAKY_TALLY: DurableObjectNamespace;
    TALLY_EVENTS: Queue;
    /** The D1 migrations of migrations/, read by vitest.config.ts. */
    READ_MIGRATIONS: import("cloudflare:test").D1Migration[];
    LEDGER: DurableObjectNamespace;
    BUDGETED: DurableObjectNamespace;
    FILTERED: DurableObjectNamespace;
    STATEFUL: DurableObjectNamespace;
    UNLOADING: DurableObjectNamespace;
    SCHEDULER: DurableObjectNamespace;
    CONSOLE_SESSIONS: DurableObjectNamespace;
    ADMIN_RATE_LIMIT: RateLimit;
    TEST_SCHEDULER: DurableObjectNamespace;
    LOANS: DurableObjectNamespace;
    NODE_A: Fetcher;
    NODE_B: Fetcher;
    NODE_FAULTY: Fetcher;
    API_TOKENS: string;
    ADMIN_TOKEN: string;
  }
}
