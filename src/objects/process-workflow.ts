import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep, type WorkflowStepConfig } from "cloudflare:workers";
import type { ServiceRouter } from "../core/messaging/contracts.js";
import { Dispatcher } from "../core/messaging/dispatcher.js";
import { NodeDirectory, type RemoteNode } from "../core/messaging/node-directory.js";
import type { ServiceResponse } from "../core/messaging/response.js";
import type { ServiceRegistry } from "../core/messaging/service-registry.js";
import type { TelemetryHandler } from "../core/messaging/telemetry.js";
import { wiring } from "../core/messaging/wiring.js";
import {
  processCommand,
  sendStepCommand,
  type ProcessContext,
  type ProcessDefinition,
  type ProcessStart,
} from "../core/readside/process.js";
import type { Json, JsonObject } from "../core/shared/json.js";
import type { Logger } from "../core/shared/logger.js";

/** Options of {@link processWorkflow}. */
export type ProcessWorkflowOptions<Env> = {
  /** The services the process's commands go to (this Worker's routers). */
  services: ServiceRegistry<Env> | readonly ServiceRouter<Env>[];
  /** Other nodes whose public services the commands may go to. */
  nodes?: (env: Env) => readonly RemoteNode[];
  logger?: Logger;
  telemetry?: readonly TelemetryHandler[];
  /**
   * Retries and timeout of every step (Workflows' step config). Default: 10 retries, from 1 s,
   * exponential; 5 minutes per try.
   */
  step?: WorkflowStepConfig;
  /** How long one command may take before its step is tried again (default 10 s). */
  commandTimeoutMs?: number;
};

/** The class type made by {@link processWorkflow}: export it from the Worker and bind it as a Workflow. */
export type ProcessWorkflowClass<Env, Input extends JsonObject> = new (
  ctx: ExecutionContext,
  env: Env,
) => WorkflowEntrypoint<Env, ProcessStart<Input>>;

const DEFAULT_STEP: WorkflowStepConfig = { retries: { limit: 10, delay: "1 second", backoff: "exponential" }, timeout: "5 minutes" };

/**
 * A process as a Cloudflare Workflow: the platform's durable execution runs its steps (each
 * completed step is kept and replayed, failures are retried, sleeps survive restarts). Each
 * command step dispatches through a Dispatcher over `services` with a message id derived from the
 * instance and the step, so a retried step is applied once.
 *
 * ```ts
 * export class TransferWorkflow extends processWorkflow(transferProcess, { services }) {}
 * // wrangler.toml: [[workflows]] name = "transfers", binding = "TRANSFERS", class_name = "TransferWorkflow"
 * ```
 */
export function processWorkflow<Env, Input extends JsonObject>(
  definition: ProcessDefinition<Input>,
  options: ProcessWorkflowOptions<Env>,
): ProcessWorkflowClass<Env, Input> {
  const { registry, logger, telemetry, useEnv } = wiring(options);
  // Built once per isolate; each instance's calls bring their own env.
  const dispatcher = new Dispatcher<Env>({
    services: registry,
    node: `process:${definition.name}`,
    nodes: options.nodes ?? [],
    directory: new NodeDirectory(),
    telemetry,
    logger,
  });
  const config = options.step ?? DEFAULT_STEP;
  const timeoutMs = options.commandTimeoutMs ?? 10_000;

  return class extends WorkflowEntrypoint<Env, ProcessStart<Input>> {
    override async run(event: Readonly<WorkflowEvent<ProcessStart<Input>>>, step: WorkflowStep): Promise<Json> {
      const start = event.payload as ProcessStart<Input>;
      const env = this.env;
      useEnv(env);
      const instanceId = event.instanceId;
      // A step keeps its result as JSON text: what the process code sees is plain JSON either way.
      const durable = async <T extends Json>(name: string, work: () => Promise<T>): Promise<T> =>
        JSON.parse(await step.do(name, config, async () => JSON.stringify(await work()))) as T;
      const context: ProcessContext = {
        instanceId,
        step: durable,
        command: async (name, service, request, commandOptions) => {
          // A transient answer throws: the platform tries the step again, with the same message id.
          const answer = await durable(name, () =>
            sendStepCommand(
              (message) => dispatcher.dispatch(message, { env, timeoutMs }),
              name,
              processCommand(definition, instanceId, start.trigger, name, service, request, commandOptions),
              logger,
            ),
          );
          return answer as unknown as ServiceResponse;
        },
        sleep: (name, ms) => step.sleep(name, ms),
      };
      return definition.run(start, context);
    }
  };
}
