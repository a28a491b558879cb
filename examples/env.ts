/** The demo Worker's bindings (wrangler.toml) and secrets. */
export type Env = {
  /** One AccountObject per bank account. */
  ACCOUNTS: DurableObjectNamespace;
  /** One TransferObject per transfer between accounts. */
  TRANSFERS: DurableObjectNamespace;
  /** The queue the aggregates publish their committed events to (producer), consumed by this Worker. */
  EVENTS: Queue;
  /** Dead letters of the read side: events a projection or process manager kept failing on. */
  DEAD_LETTERS: Queue;
  /** The read models (D1): migrations/ holds their tables. */
  READ_MODELS: D1Database;
  /** The transfer process's Workflow. */
  TRANSFER_WORKFLOW: Workflow;
  /** The fx node's entrypoint (examples/fx-node), when it runs. */
  FX_NODE?: Fetcher;
  /** One SchedulerObject per scheduling key. */
  SCHEDULER: DurableObjectNamespace;
  /** The console's session generation (one ConsoleSessionObject). */
  CONSOLE_SESSIONS: DurableObjectNamespace;
  /** Counts failed admin-token checks per client address (Cloudflare's Rate Limiting binding). */
  ADMIN_RATE_LIMIT?: RateLimit;
  /** `token=user[:admin]`, comma-separated: who may call the bank (a secret in production). */
  API_TOKENS?: string;
  /** Enables the admin stream routes and the console (/console) when set (a secret in production). */
  ADMIN_TOKEN?: string;
  /** JSON Web Tokens are accepted when these name an issuer, an audience and keys (`npm run dev:jwt` sets them). */
  JWT_ISSUER?: string;
  /** The audience the tokens must be for: this API's identifier at the issuer. */
  JWT_AUDIENCE?: string;
  /** The issuer's JSON Web Key Set URL (its `jwks_uri`). */
  JWT_JWKS_URL?: string;
  /** Or the key set itself, as JSON (`{"keys":[…]}`): local development, keys that never rotate. */
  JWT_JWKS?: string;
};
