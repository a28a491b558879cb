import type { Json } from "../shared/json.js";

/**
 * One step of an event's evolution: the data of version `n` in, the data of version `n + 1` out —
 * or, when the event was renamed, {@link renamed} with its new type.
 */
export type Upcaster = (data: Json) => Json | Renamed;

/** An upcaster's answer for an event that changed its type (see {@link renamed}). */
export class Renamed {
  /** The event's new type, its data, and which version of the new type that data has. */
  constructor(
    readonly type: string,
    readonly data: Json,
    readonly version: number,
  ) {}
}

/**
 * Says that an event was renamed: from now on it is a `type` event whose data is `data`, in
 * version `version` (default 1) of that type's shape; that type's later upcasters then apply.
 */
export function renamed(type: string, data: Json, version = 1): Renamed {
  return new Renamed(type, data, version);
}

/**
 * How stored events of older shapes become today's, per event type: `upcasters[type][0]` takes
 * version 1 to 2, `[1]` takes 2 to 3, and so on. An event type's current version is the number of
 * its upcasters plus one; a type without upcasters is at version 1. A step may rename the event
 * ({@link renamed}).
 *
 * ```ts
 * upcasters: {
 *   // v1 stored { amount } in cents; v2 stores { amount, currency } in units
 *   MoneyDeposited: [(data) => ({ amount: (data as { amount: number }).amount / 100, currency: "EUR" })],
 * }
 * ```
 */
export type Upcasters = { readonly [type: string]: readonly Upcaster[] };

/** The current schema version of events of `type`. */
export function currentVersion(upcasters: Upcasters | undefined, type: string): number {
  return (upcasters?.[type]?.length ?? 0) + 1;
}

/** An event as stored: its type, data and the schema version it was written with. */
export type StoredShape = { type: string; data: Json; schemaVersion: number };

/**
 * The event in today's shape: the upcasters from its stored version on, applied in order. An
 * event already at its type's current version comes back as it is (the same object).
 */
export function upcast(upcasters: Upcasters | undefined, stored: StoredShape): StoredShape {
  if (upcasters === undefined) return stored;
  let { type, data, schemaVersion } = stored;
  // A version of 0 or below (or a missing one) means the first shape.
  let version = Math.max(1, schemaVersion);
  // Bounded: upcasters that rename in a circle must not hang a load.
  for (let steps = 0; steps < 1000; steps += 1) {
    const step = upcasters[type]?.[version - 1];
    if (step === undefined) break;
    const next = step(data);
    if (next instanceof Renamed) {
      ({ type, data, version } = next);
    } else {
      data = next;
      version += 1;
    }
  }
  return version === stored.schemaVersion && type === stored.type ? stored : { type, data, schemaVersion: version };
}
