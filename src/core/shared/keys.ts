/**
 * The rule for the names callers choose — aggregate ids, scheduling keys: what one means must be
 * what one looks like. A key is normalised to Unicode NFC (so that "é" typed two ways is one
 * key) and refused when it carries characters that make two different keys look the same or
 * reorder what is displayed around them: control and format characters (bidi overrides,
 * zero-width joiners…), line and paragraph separators, lone UTF-16 surrogates, or whitespace at
 * either end.
 */

/** The longest key accepted, in UTF-16 code units (after normalisation). */
export const MAX_KEY_LENGTH = 200;

/** A key read by {@link readKey}: the normalised key, or why it is refused. */
export type KeyRead = { ok: true; key: string } | { ok: false; problem: string };

// Cc: control characters. Cf: format characters (bidi controls, zero-width characters, BOM…).
// Cs: a surrogate that is not part of a pair. Zl/Zp: line and paragraph separators.
const invisible = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
const surroundingSpace = /^\s|\s$/u;
// Printable ASCII without a space at either end: nothing in it is refused, and NFC leaves it as it
// is — the usual key, read with one plain test instead of two Unicode ones and a normalisation.
const plainAscii = /^[!-~](?:[ -~]*[!-~])?$/;

/** Reads a caller-chosen key: normalised to NFC, or refused with the reason. */
export function readKey(raw: unknown): KeyRead {
  if (typeof raw !== "string") return { ok: false, problem: "must be a string" };
  if (raw.length <= MAX_KEY_LENGTH && plainAscii.test(raw)) return { ok: true, key: raw };
  if (raw.length === 0) return { ok: false, problem: "must not be empty" };
  // Checked before normalising: normalisation of a lone surrogate would hide it.
  if (invisible.test(raw)) {
    return { ok: false, problem: "must not contain control, format (bidi, zero-width) or separator characters" };
  }
  if (surroundingSpace.test(raw)) return { ok: false, problem: "must not start or end with whitespace" };
  const key = raw.normalize("NFC");
  if (key.length > MAX_KEY_LENGTH) return { ok: false, problem: `must be at most ${MAX_KEY_LENGTH} characters` };
  return { ok: true, key };
}
