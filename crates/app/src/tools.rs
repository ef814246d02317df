//! The application's tools: MicroCore's standard ones, plus any custom tool,
//! one line each (`payments: crate::payments::Payments,`). See docs/custom-tools.md.

microcore::toolset! {}
