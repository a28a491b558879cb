// The library's side of the memory harness's Workflow scenario (bench/memory/run.mjs): a process
// with one trivial step, run as a Workflow by `processWorkflow` and started by `workflowLauncher`,
// as the demo's transfer process is — against the hand-written `Flow` of hand-worker.ts.
//
//   POST /workflow   one process instance started (its id derived as a process manager would)
import type { ProcessDefinition } from "../../src/core/index.js";
import { processWorkflow } from "../../src/objects/index.js";
import { workflowLauncher } from "../../src/worker/index.js";

type Env = { FLOW: Workflow };

const trivial: ProcessDefinition<Record<string, never>> = {
  name: "trivial",
  identity: { user: "system:bench", admin: true },
  async run(_start, process) {
    return process.step("noop", async () => 1);
  },
};

/** The trivial process as a Workflow (bound as FLOW). */
export class TrivialProcess extends processWorkflow<Env, Record<string, never>>(trivial, { services: [] }) {}

const launcher = workflowLauncher((env: Env) => env.FLOW);

export default {
  async fetch(request, env): Promise<Response> {
    if (request.method !== "POST" || new URL(request.url).pathname !== "/workflow") return new Response("ok");
    const id = crypto.randomUUID();
    const trigger = { stream: "bench", streamName: `bench-${id}`, version: 1, type: "Started", messageId: id, correlationId: id };
    const result = await launcher(env).start(`trivial-${id}`, { input: {}, trigger });
    return Response.json({ result });
  },
} satisfies ExportedHandler<Env>;
