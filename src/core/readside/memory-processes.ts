import { backoffDelay, type BackoffOptions } from "../shared/backoff.js";
import { jsonCopy, type Json, type JsonObject } from "../shared/json.js";
import { jsonLogger, type Logger } from "../shared/logger.js";
import type { Message } from "../messaging/message.js";
import type { ServiceResponse } from "../messaging/response.js";
import {
  processCommand,
  sendStepCommand,
  type LaunchResult,
  type ProcessContext,
  type ProcessDefinition,
  type ProcessLauncher,
  type ProcessStart,
  type ReviveResult,
} from "./process.js";

/** Options of {@link MemoryProcesses}. */
export type MemoryProcessesOptions = {
  /** Sends a step's command: a Dispatcher's `dispatch`, for instance. */
  dispatch: (message: Message) => Promise<Message>;
  /** Tries per step before the instance errors (default 5). */
  attempts?: number;
  /** Delays between tries (default from 10 ms, doubling, at most 1 s: in memory, waiting helps little). */
  retry?: BackoffOptions;
  /** Waits; default `setTimeout`. A test may pass one that returns at once. */
  wait?: (ms: number) => Promise<void>;
  logger?: Logger;
};

/** Where one in-memory instance is. */
export type MemoryInstanceStatus = { status: "running" | "complete" | "errored"; output?: Json; error?: string };

type Instance = { start: ProcessStart; steps: Map<string, Json>; status: MemoryInstanceStatus; run: Promise<void> };

/**
 * Runs one process's instances in this process (Node, Deno, Bun, tests): the in-memory
 * equivalent of its Workflow. Each instance starts once per id; each step runs until it succeeds
 * (or its tries run out) and its result is kept, so {@link rerun} — what a platform does after a
 * crash — replays completed steps instead of running them again. Nothing survives the process.
 */
export class MemoryProcesses<Input extends JsonObject> implements ProcessLauncher {
  readonly #definition: ProcessDefinition<Input>;
  readonly #options: MemoryProcessesOptions;
  readonly #logger: Logger;
  readonly #instances = new Map<string, Instance>();

  /** The instances of `definition`, none yet. */
  constructor(definition: ProcessDefinition<Input>, options: MemoryProcessesOptions) {
    this.#definition = definition;
    this.#options = options;
    this.#logger = options.logger ?? jsonLogger();
  }

  /** Starts instance `instanceId` unless it exists. */
  async start(instanceId: string, start: ProcessStart): Promise<LaunchResult> {
    if (this.#instances.has(instanceId)) return "exists";
    const instance: Instance = { start: jsonCopy(start), steps: new Map(), status: { status: "running" }, run: Promise.resolve() };
    this.#instances.set(instanceId, instance);
    void this.#run(instanceId, instance);
    return "started";
  }

  /**
   * Gets an overdue instance moving (see {@link ProcessLauncher.revive}): starts it when it was
   * never started; runs an errored one again from its start, its step results forgotten, as a
   * Workflow's restart does. A running instance is left to run: in memory it cannot stall
   * without this process dying.
   */
  async revive(instanceId: string, start: ProcessStart): Promise<ReviveResult> {
    const instance = this.#instances.get(instanceId);
    if (instance === undefined) {
      await this.start(instanceId, start);
      return "started";
    }
    if (instance.status.status === "complete") return "finished";
    if (instance.status.status === "running") return "running";
    instance.steps.clear();
    void this.#run(instanceId, instance);
    return "restarted";
  }

  /** Where instance `instanceId` is, or null when it was never started. */
  status(instanceId: string): MemoryInstanceStatus | null {
    const instance = this.#instances.get(instanceId);
    return instance === undefined ? null : { ...instance.status };
  }

  /** The ids of every instance started, in order. */
  get instanceIds(): string[] {
    return [...this.#instances.keys()];
  }

  /** Resolves when every instance started so far has finished. */
  async settled(): Promise<void> {
    await Promise.all([...this.#instances.values()].map((instance) => instance.run));
  }

  /**
   * Runs an instance's code again from the top, as a platform does after a crash: steps that
   * completed are replayed from their kept results, the others run.
   */
  async rerun(instanceId: string): Promise<MemoryInstanceStatus> {
    const instance = this.#instances.get(instanceId);
    if (instance === undefined) throw new Error(`no instance ${instanceId}`);
    await instance.run;
    await this.#run(instanceId, instance);
    return { ...instance.status };
  }

  /** Runs the instance's code (again) from the top; resolves when it ends. */
  #run(instanceId: string, instance: Instance): Promise<void> {
    instance.status = { status: "running" };
    instance.run = this.#execute(instanceId, instance);
    return instance.run;
  }

  async #execute(instanceId: string, instance: Instance): Promise<void> {
    const definition = this.#definition;
    const context: ProcessContext = {
      instanceId,
      step: (name, work) => this.#step(instance, name, work),
      command: async (step, service, request, options) => {
        const answer = await this.#step<Json>(instance, step, () =>
          sendStepCommand(this.#options.dispatch, step, processCommand(definition, instanceId, instance.start.trigger, step, service, request, options), this.#logger),
        );
        return answer as unknown as ServiceResponse;
      },
      sleep: (name, ms) => this.#step(instance, name, async () => (await this.#wait(ms), null)).then(() => undefined),
    };
    try {
      const output = await definition.run(instance.start as ProcessStart<Input>, context);
      instance.status = { status: "complete", output };
    } catch (error) {
      this.#logger.error("process instance failed", { process: definition.name, instanceId, error });
      instance.status = { status: "errored", error: error instanceof Error ? error.message : String(error) };
    }
  }

  async #step<T extends Json>(instance: Instance, name: string, work: () => Promise<T>): Promise<T> {
    if (instance.steps.has(name)) return jsonCopy(instance.steps.get(name)) as T;
    const attempts = this.#options.attempts ?? 5;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const result = await work();
        instance.steps.set(name, jsonCopy(result));
        return result;
      } catch (error) {
        if (attempt >= attempts) throw error;
        await this.#wait(backoffDelay(attempt, this.#options.retry ?? { baseMs: 10, maxMs: 1000 }));
      }
    }
  }

  #wait(ms: number): Promise<void> {
    return this.#options.wait?.(ms) ?? new Promise((resolve) => setTimeout(resolve, ms));
  }
}
