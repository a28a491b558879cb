import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Every workerd test file: the demo's D1 read models exist, as `npm run dev` makes them exist.
await applyD1Migrations(env.READ_MODELS, env.READ_MIGRATIONS);
