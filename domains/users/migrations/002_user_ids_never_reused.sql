-- User ids are never reused. `INTEGER PRIMARY KEY` alone lets SQLite hand the
-- highest id out again after that account is deleted, so an old token (whose
-- subject is the id) would name the next sign-up. AUTOINCREMENT forbids
-- reuse. SQLite cannot alter a key, so the table is rebuilt (its documented
-- recipe: create, copy, drop, rename); ids and rows are kept as they are.
-- An id freed before this migration ran may still be handed out once more.
CREATE TABLE users_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO users_rebuilt (id, name, email, password_hash, created_at)
    SELECT id, name, email, password_hash, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;
