/*
 * Durable Object jurisdictions: `namespace.jurisdiction("eu")` gives the namespace whose objects
 * run and store their data only in the EU. Local workerd (`wrangler dev`, the vitest pool) does
 * not implement them ("Jurisdiction restrictions are not implemented in workerd"): there, an
 * object of a jurisdiction is stood in for by the object named `<jurisdiction>:<stream>` in the
 * plain namespace — a distinct object with storage of its own, as in production, only not placed
 * anywhere in particular. Only that exact refusal selects the stand-in: anywhere else a failure to
 * reach a jurisdiction is an error, never a quiet move of data out of it.
 */

/** The jurisdictions Durable Objects can be restricted to. */
export const JURISDICTIONS = ["eu", "fedramp", "fedramp-high", "us"] as const satisfies readonly DurableObjectJurisdiction[];

/** Where one stream's object is: the namespace to ask, and the name to ask it for. */
export type ObjectPlace = { namespace: DurableObjectNamespace; name: string };

/** Whether local workerd refused jurisdictions (learnt once per isolate). */
let standingIn = false;

/** The object of `streamName` in `jurisdiction` (null: the plain namespace). */
export function placeOf(namespace: DurableObjectNamespace, streamName: string, jurisdiction: string | null): ObjectPlace {
  if (jurisdiction === null) return { namespace, name: streamName };
  if (!standingIn) {
    try {
      return { namespace: namespace.jurisdiction(jurisdiction as DurableObjectJurisdiction), name: streamName };
    } catch (error) {
      if (!(error instanceof Error && error.message.includes("not implemented in workerd"))) throw error;
      standingIn = true;
    }
  }
  return { namespace, name: `${jurisdiction}:${streamName}` };
}

/**
 * The jurisdiction and stream of an object's name: `ctx.id.jurisdiction` where the platform
 * has one, the stand-in's prefix locally, none otherwise.
 */
export function placeNamed(id: DurableObjectId): { jurisdiction: string | null; streamName: string | undefined } {
  const name = id.name;
  if (id.jurisdiction !== undefined || name === undefined) return { jurisdiction: id.jurisdiction ?? null, streamName: name };
  const colon = name.indexOf(":");
  const prefix = colon < 0 ? "" : name.slice(0, colon);
  return (JURISDICTIONS as readonly string[]).includes(prefix)
    ? { jurisdiction: prefix, streamName: name.slice(colon + 1) }
    : { jurisdiction: null, streamName: name };
}
