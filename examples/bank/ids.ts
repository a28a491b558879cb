import * as v from "valibot";
import { readKey } from "../../src/core/index.js";

/**
 * An id that a caller chooses — an account, a transfer, the accounts a transfer names — read by
 * the library's rule for ids (`readKey`): normalised to Unicode NFC, at most 200 characters, and
 * refused with control, format (bidi, zero-width) or separator characters, or with whitespace at
 * either end — so that what an id means is what it looks like, wherever it is shown.
 */
export const Id = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const read = readKey(dataset.value);
    if (read.ok) return read.key;
    addIssue({ message: `must be an id: it ${read.problem}` });
    return NEVER;
  }),
);
