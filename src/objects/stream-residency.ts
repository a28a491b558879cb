import type { Residence } from "./residence-record.js";
import { placeOf, type ObjectPlace } from "./jurisdictions.js";

/**
 * What a residency rule is asked about: a command — its aggregate id, its name and its raw request
 * (not yet validated: the command's schema runs in the object, after the hop).
 */
export type ResidencyTarget = { id: string; command: string; request: unknown };

/**
 * Where the streams of an aggregate type are created: one jurisdiction for the whole type, or a
 * rule over a command that returns the jurisdiction to create its stream in — undefined for the
 * plain namespace, or for "wherever the stream already is". A stream's jurisdiction is fixed by the
 * first command that names one for it (or by its creation in the plain namespace); a command for
 * which the rule names another is refused (`wrong_jurisdiction`).
 */
export type Residency = DurableObjectJurisdiction | ((target: ResidencyTarget) => DurableObjectJurisdiction | undefined);

/** How a request reaches a stream: a command may fix its residence, the others only look. */
export type Intent = "command" | "look";

/**
 * Where to send a request for a stream, or the jurisdiction it lives in (null: the plain
 * namespace) when the rule names another. `unlessResident`: the place is the stream's home, which
 * refuses a command when the stream lives elsewhere; `remembered`: the place is a jurisdiction's
 * object this isolate remembered, which refuses a command when it holds no stream (the stream was
 * deleted since, and its home may say otherwise now).
 */
export type Placement = { place: ObjectPlace; unlessResident: boolean; remembered: boolean } | { refused: string | null };

/** Streams whose residence is fixed, remembered per isolate (at most this many). */
const REMEMBERED = 10_000;

/**
 * Finds the object of a stream under a residency. One jurisdiction for the type: its namespace,
 * nothing to look up. A rule: the stream's home (its object in the plain namespace) says where
 * it was created, and records the jurisdiction the first command that names one creates it in —
 * so that every Worker, whatever a later command says, finds one stream in one place. A command
 * that names none goes to the home itself, which refuses it when the stream lives elsewhere (no
 * extra hop for streams in the plain namespace). A fixed answer is remembered for the isolate's life.
 */
export class StreamResidency {
  readonly #residency: Residency;
  readonly #ask: (home: ObjectPlace, streamName: string, claim: string | undefined) => Promise<Residence>;
  readonly #fixed = new Map<string, string | null>();

  constructor(residency: Residency, ask: (home: ObjectPlace, streamName: string, claim: string | undefined) => Promise<Residence>) {
    this.#residency = residency;
    this.#ask = ask;
  }

  /**
   * Where `streamName` is — for a command (`target`), where it is to be created, recorded unless
   * it is a dry run (`access: "look"`). A stream that nothing fixed yet exists nowhere but,
   * perhaps, in its home.
   */
  async place(namespace: DurableObjectNamespace, streamName: string, target: ResidencyTarget | null, access: Intent): Promise<Placement> {
    const rule = this.#residency;
    if (typeof rule === "string") return { place: placeOf(namespace, streamName, rule), unlessResident: false, remembered: false };
    const wanted = target === null ? null : (rule(target) ?? null);
    let fixed = this.#fixed.get(streamName);
    const remembered = fixed !== undefined;
    if (fixed === undefined) {
      const home = placeOf(namespace, streamName, null);
      // Nothing to claim: the home serves the command, or says where the stream lives.
      if (wanted === null && target !== null) return { place: home, unlessResident: true, remembered: false };
      const residence = await this.#ask(home, streamName, access === "command" && wanted !== null ? wanted : undefined);
      if (!residence.fixed) return { place: home, unlessResident: target !== null, remembered: false };
      fixed = residence.jurisdiction;
      this.remember(streamName, fixed);
    }
    // A command whose rule names no jurisdiction goes where the stream is; one that names another is refused.
    if (wanted !== null && wanted !== fixed) return { refused: fixed };
    // A command for the home always asks it to check: another Worker may have claimed the stream
    // for a jurisdiction since this one remembered it here (after a hard delete).
    const atHome = fixed === null && target !== null;
    return { place: placeOf(namespace, streamName, fixed), unlessResident: atHome, remembered: remembered && fixed !== null && target !== null };
  }

  /** Remembers where a stream lives (its home said so). */
  remember(streamName: string, jurisdiction: string | null): void {
    if (this.#fixed.size >= REMEMBERED && !this.#fixed.has(streamName)) {
      const oldest = this.#fixed.keys().next();
      if (oldest.done !== true) this.#fixed.delete(oldest.value);
    }
    this.#fixed.set(streamName, jurisdiction);
  }

  /** Whether streams are placed by a rule, with their homes' records (not one jurisdiction for the type). */
  get byRule(): boolean {
    return typeof this.#residency === "function";
  }

  /** Forgets a stream's residence here (its storage was removed for good, or it is no longer where remembered). */
  forget(streamName: string): void {
    this.#fixed.delete(streamName);
  }
}
