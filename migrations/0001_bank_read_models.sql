-- The bank demo's read models (D1), kept by the projections in examples/bank/read-models.ts.
-- `npm run dev` applies this folder to the local database before starting; production:
-- `npx wrangler d1 migrations apply x3m-bank-read-models --remote`. The read side's own tables
-- (x3m_checkpoints, x3m_streams, x3m_dead_letters, x3m_guard) are created by the library itself.

-- One row per account: who owns it and its balance, for list_accounts.
CREATE TABLE bank_accounts (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  balance INTEGER NOT NULL,
  status TEXT NOT NULL,
  opened_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL
);
CREATE INDEX bank_accounts_by_owner ON bank_accounts (owner, opened_at);

-- The whole bank in one row, for bank_totals.
CREATE TABLE bank_totals (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  accounts INTEGER NOT NULL,
  open_accounts INTEGER NOT NULL,
  balance INTEGER NOT NULL,
  deposited INTEGER NOT NULL,
  withdrawn INTEGER NOT NULL
);
INSERT INTO bank_totals (id, accounts, open_accounts, balance, deposited, withdrawn) VALUES (1, 0, 0, 0, 0, 0);

-- Per UTC day: deposits and withdrawals ("total deposits today").
CREATE TABLE bank_daily (
  day TEXT PRIMARY KEY,
  deposits INTEGER NOT NULL,
  deposited INTEGER NOT NULL,
  withdrawals INTEGER NOT NULL,
  withdrawn INTEGER NOT NULL
);
