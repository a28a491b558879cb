/**
 * The ISO 8601 text of an epoch time (default: now), as `new Date(ms).toISOString()` writes it —
 * remembered for the last time asked. Every message, dispatch and commit stamps one, and inside
 * workerd the clock stands still between I/O: the calls of one event mostly ask for the same
 * millisecond, and formatting a date costs more than the rest of a stamp.
 */
export function isoTime(ms: number = Date.now()): string {
  if (ms !== lastMs) {
    // Throws for a time that is not one, as toISOString does (then nothing is remembered).
    lastText = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastText;
}

let lastMs = Number.NaN;
let lastText = "";
