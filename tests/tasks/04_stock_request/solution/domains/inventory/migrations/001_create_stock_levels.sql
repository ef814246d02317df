-- How many of each sku are in stock.
CREATE TABLE stock_levels (
    sku TEXT PRIMARY KEY,
    quantity INTEGER NOT NULL CHECK (quantity >= 0)
);
