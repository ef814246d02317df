-- Accounts; the CHECK is the last line of defence against an overdraft.
CREATE TABLE ledger_accounts (
    id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,
    balance_cents INTEGER NOT NULL CHECK (balance_cents >= 0)
);
