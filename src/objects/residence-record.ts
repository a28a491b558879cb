import { sql } from "./sql.js";
import { VersionedSchema, type Migration } from "./sqlite-migrations.js";

/**
 * Where a stream lives, as its home knows it. The home is the object named after the stream in
 * the namespace without a jurisdiction: the one place every Worker can find without knowing the
 * answer. `jurisdiction` is null for a stream that lives in the home itself (or nowhere yet).
 */
export type Residence = { jurisdiction: string | null; fixed: boolean; busy?: true };

const RESIDENCE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "the jurisdiction a stream was created in",
    up(db) {
      db.run(sql`CREATE TABLE x3m_residence (id INTEGER PRIMARY KEY CHECK (id = 1), jurisdiction TEXT NOT NULL)`);
    },
  },
];

/**
 * The home's record of a stream's jurisdiction, in its own schema beside the stream's tables:
 * opened on first use, so that objects of types without residency never read it. Written once —
 * by the first command that names a jurisdiction — and removed by a hard delete of the stream
 * (`release`, or with the home's storage).
 */
export class ResidenceRecord {
  readonly #schema: VersionedSchema;
  /**
   * The recorded jurisdiction as last read or written (undefined: none), or null before the first
   * read: this object is the record's only writer, so it is read from storage once.
   */
  #known: { jurisdiction: string | undefined } | null = null;

  constructor(storage: DurableObjectStorage) {
    this.#schema = new VersionedSchema(storage, { name: "residence", migrations: RESIDENCE_MIGRATIONS });
  }

  /**
   * Where the stream lives: as recorded; else here, when this object holds its events (`holdsStream`);
   * else, when `claim` names a jurisdiction, that one, recorded now and for good; else not fixed
   * yet (nothing recorded: a read, a dry run, or nothing created yet).
   */
  settle(claim: string | undefined, holdsStream: boolean): Residence {
    const recorded = this.#recorded();
    if (recorded !== undefined) return { jurisdiction: recorded, fixed: true };
    if (holdsStream) return { jurisdiction: null, fixed: true };
    if (claim === undefined) return { jurisdiction: null, fixed: false };
    this.#schema.write((db) => db.run(sql`INSERT INTO x3m_residence (id, jurisdiction) VALUES (1, ${claim})`));
    this.#known = { jurisdiction: claim };
    return { jurisdiction: claim, fixed: true };
  }

  /** The jurisdiction recorded for the stream, or null when it lives here or nowhere yet. */
  elsewhere(): string | null {
    return this.#recorded() ?? null;
  }

  /** Removes the record: the stream was erased from its jurisdiction. */
  release(): void {
    if (this.#recorded() !== undefined) this.#schema.write((db) => db.run(sql`DELETE FROM x3m_residence`));
    this.#known = { jurisdiction: undefined };
  }

  /** Forgets the schema after the storage was emptied (a hard delete takes the record with it). */
  forget(): void {
    this.#schema.forget();
    this.#known = { jurisdiction: undefined };
  }

  /** The recorded jurisdiction, or undefined when none is recorded. */
  #recorded(): string | undefined {
    if (this.#known === null) {
      this.#schema.open();
      const row = this.#schema.exists ? this.#schema.db.first<{ jurisdiction: string }>(sql`SELECT jurisdiction FROM x3m_residence WHERE id = 1`) : null;
      this.#known = { jurisdiction: row?.jurisdiction };
    }
    return this.#known.jurisdiction;
  }
}
