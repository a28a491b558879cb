// Types of the test runtime: the demo Worker's module and bindings (wrangler.toml).
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("../examples/worker.js");
  }
}
