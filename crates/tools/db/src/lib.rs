//! The `db` tool: one SQL contract over SQLite (the default) and PostgreSQL.
//!
//! A plugin holds a [`Db`] field and writes plain SQL with `$1..$n`
//! placeholders on every backend:
//!
//! ```no_run
//! # use microcore_db::{Db, DbError, DbErrorKind, params};
//! # async fn demo(db: Db) -> Result<(), DbError> {
//! let id = db
//!     .execute("INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id", params!["Ana", "ana@example.com"])
//!     .await?;
//! let user: Option<serde_json::Value> =
//!     db.query_one("SELECT id, name FROM users WHERE id = $1", params![id]).await?;
//! match db.execute("INSERT INTO users (name, email) VALUES ($1, $2)", params!["Bo", "ana@example.com"]).await {
//!     Err(e) if e.kind == DbErrorKind::UniqueViolation => { /* 409 */ }
//!     other => { other?; }
//! }
//! db.transaction(|tx| async move {
//!     tx.execute("UPDATE accounts SET balance = balance - $1 WHERE id = $2", params![10, 1]).await?;
//!     tx.execute("UPDATE accounts SET balance = balance + $1 WHERE id = $2", params![10, 2]).await?;
//!     Ok(())
//! })
//! .await?;
//! # Ok(()) }
//! ```
//!
//! A transaction's closure may run more than once: on PostgreSQL transactions
//! run side by side at `SERIALIZABLE`, and one that conflicts with another is
//! rolled back and run again (up to `DB_TX_MAX_ATTEMPTS` runs, then
//! [`DbErrorKind::Conflict`]). Clone what the closure moves; SQLite runs one
//! transaction at a time and each closure once.
//!
//! The backend comes from `DATABASE_URL` at setup: unset → the SQLite file
//! `microcore.db` in the working directory; `sqlite:path.db` or
//! `sqlite::memory:`; `postgres://user:pass@host:5432/db`. Migrations
//! (`domains/<d>/migrations/*.sql`, registered in [`MIGRATIONS`]) are applied at
//! setup unless `DB_AUTO_MIGRATE=false`.
//!
//! An event that announces a write is stored with it: `tx.publish(UserCreated
//! { .. })` inside `db.transaction` writes it to the `_outbox` table in the
//! same transaction, and the outbox relay (a plugin holding this tool and the
//! event bus, see [`Outbox`]) publishes it after the commit, at least once,
//! even if this process dies in between. `DB_OUTBOX_*` tune the relay.
//!
//! On SQLite a write that meets another connection's write lock waits for it,
//! inside SQLite, up to `DB_BUSY_TIMEOUT_MS` (default 5000), then fails as
//! [`DbErrorKind::Busy`] having written nothing.

mod backend;
mod core;
mod error;
mod handle;
mod migrate;
mod migration_status;
mod ops;
mod outbox;
mod postgres;
mod retry;
mod row_de;
mod schema;
mod sql;
mod sqlite;
mod tx;
mod value;

pub use error::{DbError, DbErrorKind};
pub use handle::Db;
pub use migrate::{MIGRATIONS, Migration};
pub use migration_status::{MigrationState, MigrationStatus};
pub use outbox::{Outbox, OutboxSettings, StoredEvent};
pub use schema::{Column, ColumnType, ForeignKey, Schema, Table};
pub use sql::Sql;
pub use tx::Tx;
pub use value::{Params, Value};

#[doc(hidden)]
pub use linkme;
