/*
 * The principals the library's own work runs as. Idempotency records and schedules belong to a
 * principal, and the ids of this work are predictable (a follow-up's `<stream>:<version>:<name>`,
 * a process step's `<instance>:<step>`): a caller who held one of these principals could record
 * such an id first and have the real work refused as a reused id. So they are kept out of
 * callers' reach: the gateway refuses a caller whose `principalOf` makes one
 * ({@link isLibraryPrincipal}).
 */

/** What a follow-up's delivery is recorded under: a NUL first, which no caller's principal has. */
const FOLLOW_UP = "\u0000follow-up:";
/** What a process's steps run as: `process:<name>`. */
const PROCESS = "process:";
/** A control character: never in a caller's principal (canonical JSON escapes them). */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** The principal a follow-up's delivery is recorded under, apart from its caller's (`principal`) own messages. */
export function followUpPrincipal(principal: string): string {
  return `${FOLLOW_UP}${principal}`;
}

/** The principal a process's steps run as. */
export function processPrincipal(process: string): string {
  return `${PROCESS}${process}`;
}

/** Whether `principal` is one the library keeps for its own work (or could be mistaken for one). */
export function isLibraryPrincipal(principal: string): boolean {
  return CONTROL_CHARACTER.test(principal) || principal.startsWith(PROCESS);
}
