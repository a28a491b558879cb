/**
 * A schema created by the first write rather than by the constructor. Reading from an object
 * that has never written anything must leave no storage behind: otherwise anyone could create
 * objects (and their databases) just by asking about ids that do not exist.
 */
export class LazySchema {
  readonly #storage: DurableObjectStorage;
  readonly #probe: string;
  readonly #statements: readonly string[];
  #exists = false;

  /** A schema whose existence is told by table `probe`, created by `statements`. */
  constructor(storage: DurableObjectStorage, probe: string, statements: readonly string[]) {
    this.#storage = storage;
    this.#probe = probe;
    this.#statements = statements;
  }

  /** Whether the schema exists (as last learnt). */
  get exists(): boolean {
    return this.#exists;
  }

  /** Learns whether the schema exists, reading only. Call it in the constructor and after a rollback. */
  open(): void {
    this.#exists =
      this.#storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", this.#probe).toArray()
        .length > 0;
  }

  /** Creates the schema if it does not exist yet (inside the caller's transaction). */
  ensure(): void {
    if (this.#exists) return;
    for (const statement of this.#statements) this.#storage.sql.exec(statement);
    this.#exists = true;
  }

  /** Forgets the schema (after `deleteAll`). */
  forget(): void {
    this.#exists = false;
  }

  /**
   * Runs `write` in one synchronous transaction with the schema in place. If it throws, the
   * transaction (schema creation included) rolls back, and what exists is learnt again.
   */
  write<T>(write: () => T): T {
    try {
      return this.#storage.transactionSync(() => {
        this.ensure();
        return write();
      });
    } catch (error) {
      this.open();
      throw error;
    }
  }
}
