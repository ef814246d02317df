//! The logic behind MicroCore's macros, as an ordinary library.
//!
//! `microcore-macros` is a thin shell over this crate; the app's build script
//! uses [`domains`] to turn the `domains/` folder into a module tree. Every
//! macro goes through the same stages, one file each: `ast` (a typed view of
//! the input), `valid` (semantic checks with spanned, fix-it errors) and
//! `expand` (code generation). Errors are accumulated so one mistake gives one
//! error, and the user's item is always re-emitted next to them.

pub mod app_build;
pub mod contract;
pub mod domains;
pub mod event;
pub mod model;
pub mod plugin;
pub mod toolset;

mod errors;
mod paths;

pub use errors::Errors;
