//! The plugin template shown in AI_CONTEXT.md, compiled and its tests run as
//! written: `template/create_thing.rs` is byte-for-byte what
//! `cargo xtask new plugin things/create_thing --route "POST /things"
//! --publish thing.created --subscribe order.placed` writes (a unit test in
//! `src/new.rs` pins that), so the guide and the generator cannot drift from
//! code that works.

microcore::toolset! {}

#[allow(unreachable_pub)]
#[path = "template/create_thing.rs"]
mod create_thing;
