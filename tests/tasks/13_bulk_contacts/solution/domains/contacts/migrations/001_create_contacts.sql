-- Contacts; emails are stored lower-cased, so UNIQUE is case-insensitive.
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE
);
