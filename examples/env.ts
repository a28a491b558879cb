/** The demo Worker's bindings (wrangler.toml) and secrets. */
export type Env = {
  /** One AccountObject per bank account. */
  ACCOUNTS: DurableObjectNamespace;
  /** The fx node's entrypoint (examples/fx-node), when it runs. */
  FX_NODE?: Fetcher;
  /** One SchedulerObject per scheduling key. */
  SCHEDULER: DurableObjectNamespace;
  /** `token=user[:admin]`, comma-separated: who may call the bank (a secret in production). */
  API_TOKENS?: string;
  /** Enables the admin stream routes when set (a secret in production). */
  ADMIN_TOKEN?: string;
};
