//! The http tool over real sockets and in-process requests: pipeline, auth,
//! OpenAPI and docs, serving, SSE, static files and WebSockets.
//!
//! One test binary keeps link time and disk use down.

mod common;

mod auth;
mod drain;
mod input_security;
mod openapi_docs;
mod operator;
mod pipeline;
mod raw;
mod serving;
mod sse;
mod static_files;
mod websocket;
