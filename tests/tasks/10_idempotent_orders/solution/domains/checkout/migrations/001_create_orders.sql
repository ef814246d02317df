-- Orders, and the idempotency keys that created them: `request` is the
-- canonical JSON of the body the key was first used with.
CREATE TABLE checkout_orders (
    id INTEGER PRIMARY KEY,
    item TEXT NOT NULL,
    quantity INTEGER NOT NULL
);
CREATE INDEX checkout_orders_item ON checkout_orders (item);
CREATE TABLE checkout_idempotency_keys (
    key TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    order_id INTEGER NOT NULL
);
