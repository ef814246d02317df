-- Expenses; `spent_on` is an ISO date (YYYY-MM-DD), so text order is date order.
CREATE TABLE expenses (
    id INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    spent_on TEXT NOT NULL
);
