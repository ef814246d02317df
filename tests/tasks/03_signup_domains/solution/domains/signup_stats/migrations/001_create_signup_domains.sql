-- Sign-ups per email domain, and the `user.created` events already counted
-- (so a redelivered event is not counted twice).
CREATE TABLE signup_domains (
    domain TEXT PRIMARY KEY,
    signups INTEGER NOT NULL
);
CREATE TABLE signup_domains_seen (
    event_id TEXT PRIMARY KEY
);
