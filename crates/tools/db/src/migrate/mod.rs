//! Migrations: one `.sql` file per schema step, per domain, applied once.
//!
//! Order: a file may declare `-- depends: other_domain/001_x.sql` in its
//! leading comment lines; files of one domain run in name order; the rest is a
//! topological sort, ties broken by key so the order is the same everywhere.
//! Each file runs in its own transaction together with its history row, so a
//! failing file leaves nothing behind. The SQL is never translated: a domain
//! that must run on both engines writes portable DDL.
//!
//! Layers: `plan` (the files and their order) < `apply` (the history and
//! running them).

mod apply;
mod plan;

pub(crate) use apply::{apply, checksum};
pub use plan::{MIGRATIONS, Migration};
pub(crate) use plan::{for_engine, order};
