//! The scheduler's behaviour: policies on a moved clock (memory store), a
//! one-shot surviving a restart (SQLite file, PostgreSQL), and exactly-once
//! firing with two replicas on real PostgreSQL.

mod fleet;
mod one_shots;
mod policies;
mod sqlite_file;
mod support;
