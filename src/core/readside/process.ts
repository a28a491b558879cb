import type { Json, JsonObject } from "../shared/json.js";
import { newMessage, type Message } from "../messaging/message.js";
import { childTrace, isTraceparent, traceFields } from "../messaging/trace.js";
import { isTransient, response, type ServiceResponse } from "../messaging/response.js";
import type { Logger } from "../shared/logger.js";
import type { ProjectedEvent } from "./event-envelope.js";
import { processPrincipal } from "../messaging/library-principals.js";

/*
 * Process managers: workflows that span aggregates (a transfer between two accounts), started by
 * an event and made of steps that dispatch commands. Exactly once in effect comes from ids:
 *
 * - the instance id is derived from the triggering event (process, stream, version), so however
 *   often the event is delivered, the platform starts the instance once;
 * - each step dispatches its command with a message id derived from the instance and the step,
 *   so however often a step is retried (a crash, a lost reply), the aggregate applies it once —
 *   a retry is answered from the aggregate's idempotency record.
 *
 * A process is written once against {@link ProcessContext}; it runs as a Cloudflare Workflow
 * (`processWorkflow` from x3m-system/worker) or in memory ({@link MemoryProcesses}).
 */

/** The event that started a process instance. */
export type ProcessTrigger = {
  stream: string;
  streamName: string;
  version: number;
  type: string;
  /** The message that produced the event: the process's commands are caused by it. */
  messageId: string;
  correlationId: string;
  /** The W3C traceparent of the span that stored the event: the process's steps join its trace. */
  traceparent?: string;
};

/** What a process instance starts with: the app's input, and the event that triggered it. */
export type ProcessStart<Input extends JsonObject = JsonObject> = { input: Input; trigger: ProcessTrigger };

/** How a process's command is sent: as whom (default: the process's own identity). */
export type ProcessCommandOptions = { identity?: JsonObject };

/**
 * What a process's code may do. Every step has a name unique within the instance; a step that
 * completed is not run again when the platform resumes the instance (its result is replayed), so
 * code between steps must be deterministic and all effects belong in steps. A revived instance
 * ({@link ProcessLauncher.revive}) starts over: its steps run again.
 */
export interface ProcessContext {
  /** The instance's id (derived from the triggering event). */
  readonly instanceId: string;
  /** Runs `work` once (retried when it throws) and remembers its result. */
  step<T extends Json>(name: string, work: () => Promise<T>): Promise<T>;
  /**
   * A step that dispatches `service` with `request`, message id `<instance>:<step>`: applied at
   * most once however often it is retried. Resolves with the service's response — a refusal too
   * (`not_found`, `insufficient_funds`…), which is the process's to handle. Failures that say
   * nothing about the command (`service_unavailable`, `service_timeout`, `internal_error`…) are
   * retried, with the same message id.
   */
  command(step: string, service: string, request: JsonObject, options?: ProcessCommandOptions): Promise<ServiceResponse>;
  /** Waits `ms` (durably: a timeout is a sleep, then a check). */
  sleep(name: string, ms: number): Promise<void>;
}

/** A process: its name, whom it acts as, and its code. */
export type ProcessDefinition<Input extends JsonObject = JsonObject> = {
  /** Its name: the prefix of its instance ids and of its principal. */
  name: string;
  /**
   * The identity its commands carry unless a command names another (`assigns.identity`): an
   * identity the aggregates accept, set only by this code — never reachable from HTTP.
   */
  identity: JsonObject;
  /** The process's code; what it returns is the instance's output. */
  run(start: ProcessStart<Input>, context: ProcessContext): Promise<Json>;
};

/** What a launcher did: started the instance, or found it already started. */
export type LaunchResult = "started" | "exists";

/**
 * What {@link ProcessLauncher.revive} did: started an instance that was never started, ran one
 * again from its start, or left it alone — running or waiting (it is making progress), finished,
 * or paused by an operator.
 */
export type ReviveResult = "started" | "restarted" | "running" | "finished" | "paused";

/** Starts process instances by id, once per id. */
export interface ProcessLauncher {
  start(instanceId: string, start: ProcessStart): Promise<LaunchResult>;
  /**
   * Gets an overdue instance moving: starts it when it was never started, runs it again **from
   * its start** when it errored, was terminated, is still queued (never taken up) or may have
   * stalled while running, and leaves one that completed, is paused or waiting (a sleep, a
   * retry's back-off) alone.
   *
   * A run from the start sends every step's command again with the same message id. A command
   * that stored events is answered from its idempotency record; a refusal stores nothing, so it
   * is decided again — and may now go the other way. A process that may be revived therefore
   * reads its own settled state first and records a branch it takes (a compensation owed) before
   * it acts on it, as the demo's transfer does. Never revive a process meant to be sleeping: its
   * sleep begins again too.
   */
  revive(instanceId: string, start: ProcessStart): Promise<ReviveResult>;
}

/** The trigger of the process that `event` starts: its stream, version and causing message. */
export function processTriggerOf(event: ProjectedEvent): ProcessTrigger {
  return {
    stream: event.stream,
    streamName: event.streamName,
    version: event.version,
    type: event.type,
    messageId: event.metadata.messageId,
    correlationId: event.metadata.correlationId,
    ...(isTraceparent(event.metadata.traceparent) ? { traceparent: event.metadata.traceparent } : {}),
  };
}

const INSTANCE_ID = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$/;

/**
 * The instance id of `process` started by `event`: `<process>_<stream name>_<version>_<life>`
 * when that is a valid Workflows id (letters, digits, `_`, `-`; at most 100 characters), else
 * `<process>_` and a SHA-256 of it. The same event always gives the same id. `<life>` is 10 hex
 * digits of a SHA-256 of when the event was recorded and the id of the message that caused it:
 * a stream erased (or hard-deleted) and opened again under its name counts its versions from 0
 * again, and its processes must not be taken for the old stream's — Workflows would refuse them
 * as existing, and their steps' message ids would be answered from the old steps' records.
 */
export async function processInstanceId(process: string, event: Pick<ProjectedEvent, "streamName" | "version" | "recordedAt" | "metadata">): Promise<string> {
  const life = (await sha256Hex(`${event.recordedAt}\n${event.metadata.messageId}`)).slice(0, 10);
  const readable = `${process}_${event.streamName}_${event.version}_${life}`;
  if (INSTANCE_ID.test(readable)) return readable;
  return `${process.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 35)}_${await sha256Hex(readable)}`;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The message id of step `step` of instance `instanceId`: the same for every retry of the step. */
export function stepMessageId(instanceId: string, step: string): string {
  return `${instanceId}:${step}`;
}


/** The command message of one step: derived id, caused by the trigger, acting as the process (or `identity`). */
export function processCommand(
  definition: Pick<ProcessDefinition, "name" | "identity">,
  instanceId: string,
  trigger: ProcessTrigger,
  step: string,
  service: string,
  request: JsonObject,
  options: ProcessCommandOptions = {},
): Message {
  return newMessage(service, {
    id: stepMessageId(instanceId, step),
    correlationId: trigger.correlationId,
    causationId: trigger.messageId,
    // Each step is a span of the trace of the event that started the process.
    trace: childTrace(trigger.traceparent === undefined ? {} : { traceparent: trigger.traceparent }),
    rawRequest: request,
    // Its idempotency records are its own, never a caller's.
    assigns: { identity: options.identity ?? definition.identity, principal: processPrincipal(definition.name) },
  });
}

/**
 * Sends the command of process step `step` and answers its response — unless the response says
 * nothing about whether the command was applied ({@link isTransient}): then it throws
 * {@link TransientFailure}, and the runtime (Workflows, or memory) tries the step again, with the
 * same message id. A refusal is logged (for operators: what a process was refused, and why —
 * which its own answers may not tell the caller). What both runtimes run inside their step.
 */
export async function sendStepCommand(dispatch: (message: Message) => Promise<Message>, step: string, message: Message, logger?: Logger): Promise<Json> {
  const reply = (await dispatch(message)).response ?? response.error("internal_error");
  if (isTransient(reply)) throw new TransientFailure(step, reply);
  if (reply.status !== "ok" && reply.status !== "created") {
    logger?.info("process step refused", {
      messageId: message.id,
      service: message.serviceName,
      ...traceFields(message.trace),
      status: reply.status,
      ...(reply.status === "error" ? { reason: reply.reason } : {}),
    });
  }
  return reply as unknown as Json;
}

/** The error a step throws to be retried: the transient response it got. */
export class TransientFailure extends Error {
  /** The response that said nothing about the command. */
  readonly response: ServiceResponse;

  /** A failure of step `step`. */
  constructor(step: string, response: ServiceResponse) {
    super(`step ${step}: ${response.status}${response.status === "error" ? ` ${response.reason}` : ""} (will be retried)`);
    this.name = "TransientFailure";
    this.response = response;
  }
}
