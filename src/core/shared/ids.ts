import { v7 } from "uuid";

/**
 * A new unique id: a time-ordered UUIDv7 (RFC 9562), so ids sort by creation time and index well.
 * The original library generated 20-character ids from node time, pid hash and a counter; a UUID is
 * the portable equivalent on every runtime.
 */
export function newId(): string {
  return v7();
}
