/*
 * The checkpoint rules, as pure functions. Queues deliver at least once and in no particular
 * order, so each subscriber keeps, per stream, the version of the last event it applied (its
 * checkpoint; -1 before the first). Against it, a delivered event is
 *
 * - a duplicate when its version is at or below the checkpoint: skipped;
 * - next when its version is checkpoint + 1: applied;
 * - ahead when its version is higher: the versions in between are missing (still on their way,
 *   or lost with a crash) and are read from the aggregate's own stream before it is applied.
 *
 * So every subscriber sees every stream's events exactly in version order, with none skipped.
 */

/** What to do with the events delivered for one stream, against one subscriber's checkpoint. */
export type DeliveryPlan = {
  /** Delivered versions at or below the checkpoint: already applied. */
  duplicates: number[];
  /**
   * Versions to read from the stream because they were not delivered with their event: from the
   * first missing one up to the highest delivered one (null when nothing is missing).
   */
  read: { from: number; to: number } | null;
  /** Delivered versions to apply from their envelopes, in order (those before `read.from`). */
  fromEnvelopes: number[];
  /** The checkpoint once everything is applied. */
  target: number;
};

/**
 * The plan for one stream: `checkpoint` is the subscriber's, `delivered` the versions that came
 * with their event, `referenced` those that came as references only (their event must be read).
 */
export function planDelivery(checkpoint: number, delivered: Iterable<number>, referenced: Iterable<number> = []): DeliveryPlan {
  const withEvent = new Set(delivered);
  const all = [...new Set([...withEvent, ...referenced])].sort((a, b) => a - b);
  const duplicates = all.filter((version) => version <= checkpoint);
  const ahead = all.filter((version) => version > checkpoint);
  const target = ahead.at(-1) ?? checkpoint;
  const fromEnvelopes: number[] = [];
  let next = checkpoint + 1;
  for (; next <= target; next += 1) {
    if (!withEvent.has(next)) break;
    fromEnvelopes.push(next);
  }
  return { duplicates, read: next <= target ? { from: next, to: target } : null, fromEnvelopes, target };
}
