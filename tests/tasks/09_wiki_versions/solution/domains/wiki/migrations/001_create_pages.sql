-- Wiki pages; `version` grows by one on every update (optimistic locking).
CREATE TABLE wiki_pages (
    slug TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    version INTEGER NOT NULL
);
