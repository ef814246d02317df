-- Feed posts; pages are read newest first by id (a keyset on the key).
CREATE TABLE feed_posts (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL
);
