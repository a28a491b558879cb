import { canonicalJson } from "../shared/canonical-json.js";
import type { Message } from "../messaging/message.js";

/**
 * What makes two messages with one id (from one caller) the same command: the command and the
 * raw request, key order aside. Records are kept per caller, so this only has to tell a caller's
 * own retry from a reuse of the id for something else — a fast 53-bit hash of the canonical JSON
 * does that without a cryptographic digest on every command.
 */
export function fingerprintOf(command: string, message: Message): string {
  return hash53(canonicalJson([command, message.rawRequest])).toString(36);
}

/** cyrb53: a fast, well-mixed 53-bit string hash (public domain, bryc). */
function hash53(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * The fingerprint the first release (0.1.0) recorded: SHA-256 (hex) of the canonical JSON of the
 * command, the raw request and the caller's identity — records were kept per message id alone,
 * so the identity told callers apart. Computed only to recognise a retry of such a record.
 */
export async function legacyFingerprintOf(command: string, message: Message): Promise<string> {
  const text = canonicalJson([command, message.rawRequest, message.assigns["identity"] ?? null]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
