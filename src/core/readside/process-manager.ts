import type { DomainEvent } from "../messaging/message.js";
import type { JsonObject } from "../shared/json.js";
import type { ProjectedEvent } from "./event-envelope.js";
import { processInstanceId, processTriggerOf, type ProcessLauncher } from "./process.js";
import { checkSubscriberName, type Subscriber } from "./subscriber.js";

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
};

/**
 * A subscriber that starts a process instance for each event that calls for one, with an instance
 * id derived from the event ({@link processInstanceId}): a redelivered event finds its instance
 * already started. Its checkpoint per stream keeps the events in order like a projection's.
 */
export function processManager<Event extends DomainEvent, Input extends JsonObject>(
  definition: ProcessManagerDefinition<Event, Input>,
): Subscriber & { readonly kind: "process" } {
  checkSubscriberName(definition.name);
  const starters = definition.start as { [type: string]: ((event: ProjectedEvent) => Input | null) | undefined };
  return {
    kind: "process",
    name: definition.name,
    streams: [...definition.streams],
    async handle(event, context) {
      const starter = Object.hasOwn(starters, event.type) ? starters[event.type] : undefined;
      const input = starter?.(event) ?? null;
      if (input === null) return [];
      const trigger = processTriggerOf(event);
      await definition.launcher(context.env).start(await processInstanceId(definition.name, event), { input, trigger });
      return [];
    },
    reset: () => [],
  };
}
