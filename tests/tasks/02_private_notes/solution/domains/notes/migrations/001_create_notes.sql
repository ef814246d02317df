-- Private notes; `owner_id` is the id of the user who wrote the note (the
-- token's subject). No foreign key: the users table belongs to another domain.
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX notes_owner ON notes (owner_id);
