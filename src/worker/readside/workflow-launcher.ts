import type { LaunchResult, ProcessLauncher, ProcessStart, ReviveResult } from "../../core/readside/process.js";

/**
 * Starts process instances as instances of a Workflow (a binding of the Worker), with the id the
 * process manager derived from the triggering event: a second start of the same id finds the
 * instance there and starts nothing. `revive` restarts an instance that errored, was terminated,
 * is still queued, or is running but may have stalled (locally, `wrangler dev` does not resume the instances that
 * were running when it stopped); see {@link ProcessLauncher.revive} for what a restart means.
 */
export function workflowLauncher<Env>(workflow: (env: Env) => Workflow): (env: unknown) => ProcessLauncher {
  return (env) => {
    const binding = () => workflow(env as Env);
    const start = async (instanceId: string, started: ProcessStart): Promise<LaunchResult> => {
      try {
        disposeStub(await binding().create({ id: instanceId, params: started }));
        return "started";
      } catch (error) {
        // "instance.already_exists"; and after any other error, an instance that exists was started.
        if (error instanceof Error && /already.exists/i.test(error.message)) return "exists";
        const found = await existing(binding(), instanceId);
        if (found === null) throw error;
        disposeStub(found);
        return "exists";
      }
    };
    return {
      start,
      async revive(instanceId: string, started: ProcessStart): Promise<ReviveResult> {
        const instance = await existing(binding(), instanceId);
        if (instance === null) return (await start(instanceId, started)) === "started" ? "started" : "running";
        try {
          const { status } = await instance.status();
          if (status === "complete") return "finished";
          if (status === "paused" || status === "waitingForPause") return "paused";
          // Waiting (a sleep, a retry's back-off) or unknown: it is on its way. Queued is not: an
          // instance still queued when it is overdue was created and never taken up (locally, one
          // created just before `wrangler dev` stopped stays queued for ever); nothing of it ran.
          if (status !== "errored" && status !== "terminated" && status !== "running" && status !== "queued") return "running";
          await instance.restart();
          return "restarted";
        } finally {
          disposeStub(instance);
        }
      },
    };
  };
}

/** The instance with this id, or null when the Workflow has none (any other failure throws). */
async function existing(binding: Workflow, instanceId: string): Promise<WorkflowInstance | null> {
  try {
    return await binding.get(instanceId);
  } catch (error) {
    if (error instanceof Error && /not.found|not_found|doesn.t exist|does not exist/i.test(error.message)) return null;
    throw error;
  }
}

/**
 * Releases an instance handle now if it is disposable. Locally (Miniflare's Workflow binding) the
 * handles that `create` and `get` answer are plain objects, whose methods dispose the RPC results
 * they get themselves, so this does nothing there; it stays so that a binding answering RPC stubs
 * would not leave them to the garbage collector.
 */
function disposeStub(handle: object): void {
  // Read from Symbol, not named: the package is compiled for ES2022, whose types lack it.
  const key = (Symbol as { readonly dispose?: symbol }).dispose;
  if (key === undefined) return;
  const dispose = (handle as Record<symbol, unknown>)[key];
  if (typeof dispose === "function") dispose.call(handle);
}
