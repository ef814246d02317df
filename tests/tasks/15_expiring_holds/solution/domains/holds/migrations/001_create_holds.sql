-- Stock holds and the sweeper's running total.
CREATE TABLE holds (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    expires_at_ms INTEGER NOT NULL
);
CREATE INDEX holds_active_expiry ON holds (status, expires_at_ms);

CREATE TABLE holds_stats (
    id INTEGER PRIMARY KEY,
    expired_by_job INTEGER NOT NULL
);
INSERT INTO holds_stats (id, expired_by_job) VALUES (1, 0);
