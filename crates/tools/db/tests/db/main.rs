//! The db tool's contract, migrations and schema description, run per
//! backend. `tests/setup.rs` stays a binary of its own: it registers a
//! migration, and that registration is global to its binary.

mod support;

mod conflicts;
mod contract;
mod migration_history;
mod migrations;
mod outbox;
mod pg_types;
mod query_one_sqlite;
mod schema;
mod sqlite_rebuild;
mod transactions;
