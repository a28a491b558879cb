import type { DomainEvent } from "../messaging/message.js";
import type { JsonObject } from "../shared/json.js";
import type { ProjectedEvent } from "./event-envelope.js";
import type { ErasureNotice } from "./erasure-receipt.js";
import type { ReadStatement } from "./read-statement.js";
import { processInstanceId, processTriggerOf, type ProcessLauncher, type ProcessStart, type ReviveResult } from "./process.js";
import { checkSubscriberName, type HandleContext, type Subscriber } from "./subscriber.js";

/** The events of one type, by type name, in `Event`. */
type EventOfType<Event extends DomainEvent, Type> = Extract<Event, { type: Type }>;

/** Per event type, the input of the process instance it starts (null: start none). */
export type ProcessStarters<Event extends DomainEvent, Input extends JsonObject> = {
  [Type in Event["type"]]?: (event: ProjectedEvent<EventOfType<Event, Type>>) => Input | null;
};

/** The definition of a {@link processManager}. */
export type ProcessManagerDefinition<Event extends DomainEvent, Input extends JsonObject> = {
  /** Its name: its checkpoints are kept under it, and its instance ids start with it. */
  name: string;
  /** The aggregate types whose events it watches. */
  streams: readonly string[];
  /** Which events start an instance, and with what input. */
  start: ProcessStarters<Event, Input>;
  /** Where instances start, from the Worker's bindings: `workflowLauncher((env) => env.TRANSFERS)`. */
  launcher: (env: unknown) => ProcessLauncher;
  /**
   * What an erasure of an aggregate it follows does here (see {@link Subscriber.erase}): the
   * statements removing what the app keeps of it in D1 beside its processes (none when it keeps
   * nothing), and anything else it must do, idempotently. Instances already started are not
   * touched: a Workflow instance cannot be deleted, and its history (input, steps' results) stays
   * until the platform's retention ends. Without it, the manager is named in the receipt as not
   * handling erasure.
   */
  erase?: (notice: ErasureNotice, context: HandleContext) => readonly ReadStatement[] | Promise<readonly ReadStatement[]>;
};

/** One process instance as a manager derives it from its triggering event. */
export type ManagedInstance = { instanceId: string; start: ProcessStart };

/** A {@link processManager}: the subscriber, and how it derives and revives its instances. */
export type ProcessManager = Subscriber & {
  readonly kind: "process";
  /** The instance `event` starts (its id derived from the event), or null when it starts none. */
  instanceOf(event: ProjectedEvent): Promise<ManagedInstance | null>;
  /** Revives the instance `event` started (see {@link ProcessLauncher.revive}); null when it starts none. */
  revive(event: ProjectedEvent, env: unknown): Promise<ReviveResult | null>;
};

/**
 * A subscriber that starts a process instance for each event that calls for one, with an instance
 * id derived from the event ({@link processInstanceId}): a redelivered event finds its instance
 * already started. Its checkpoint per stream keeps the events in order like a projection's.
 */
export function processManager<Event extends DomainEvent, Input extends JsonObject>(
  definition: ProcessManagerDefinition<Event, Input>,
): ProcessManager {
  checkSubscriberName(definition.name);
  const starters = definition.start as { [type: string]: ((event: ProjectedEvent) => Input | null) | undefined };
  const instanceOf = async (event: ProjectedEvent): Promise<ManagedInstance | null> => {
    const starter = Object.hasOwn(starters, event.type) ? starters[event.type] : undefined;
    const input = starter?.(event) ?? null;
    if (input === null) return null;
    return { instanceId: await processInstanceId(definition.name, event), start: { input, trigger: processTriggerOf(event) } };
  };
  return {
    kind: "process",
    name: definition.name,
    streams: [...definition.streams],
    instanceOf,
    async handle(event, context) {
      const instance = await instanceOf(event);
      if (instance !== null) await definition.launcher(context.env).start(instance.instanceId, instance.start);
      return [];
    },
    async revive(event, env) {
      const instance = await instanceOf(event);
      return instance === null ? null : definition.launcher(env).revive(instance.instanceId, instance.start);
    },
    reset: () => [],
    ...(definition.erase === undefined ? {} : { erase: definition.erase }),
  };
}
