/**
 * The ISO 8601 text of an epoch time (default: now), exactly as `new Date(ms).toISOString()`
 * writes it. Every message, dispatch and commit stamps one, and formatting a Date costs more than
 * the rest of a stamp (about 1.5 µs): so the day's part (`2026-12-07T`) is formatted once per
 * day and the time of day is written from the milliseconds — an eighth of the cost. Inside
 * workerd the clock stands still between I/O, so the time asked last is also remembered.
 */
export function isoTime(time: number = Date.now()): string {
  // A Date drops the fraction of a millisecond (towards zero): so does this.
  const ms = Math.trunc(time);
  if (ms === lastMs) return lastText;
  const intoDay = ms - dayStart;
  let text: string;
  if (intoDay >= 0 && intoDay < DAY_MS) {
    const seconds = Math.floor(intoDay / 1000);
    text = `${dayText}${twoDigits(Math.floor(seconds / 3600))}:${twoDigits(Math.floor(seconds / 60) % 60)}:${twoDigits(seconds % 60)}.${threeDigits(intoDay % 1000)}Z`;
  } else {
    // Another day (or not a time: toISOString throws, and nothing is remembered).
    text = new Date(ms).toISOString();
    // The day's text is this text's, up to its "T".
    dayText = text.slice(0, text.indexOf("T") + 1);
    dayStart = ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
  }
  lastMs = ms;
  lastText = text;
  return text;
}

const DAY_MS = 86_400_000;
let dayStart = Number.NaN;
let dayText = "";
let lastMs = Number.NaN;
let lastText = "";

function twoDigits(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function threeDigits(n: number): string {
  return n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`;
}
