//! What a handler's second parameter may be: a request model, or `()` for a
//! handler that takes no input (the same as [`Empty`](crate::Empty)).
//!
//! `()` cannot simply be a [`RequestModel`]: that trait is implemented for
//! every `Validate` type, and `()` belongs to neither this crate nor
//! `validator`, so Rust's coherence rules refuse a second impl for it. The
//! marker parameter `M` keeps the two impls apart; the compiler infers it
//! from the handler's signature, so a plugin never names it.

use serde_json::{Map, Value};

use crate::assemble;
use crate::error::HttpError;
use crate::handle::schema_of;
use crate::model::{Empty, RequestModel};

/// The marker of a handler whose input is a [`RequestModel`].
#[derive(Debug)]
pub enum ModelInput {}

/// The marker of a handler whose input is `()`.
#[derive(Debug)]
pub enum NoInput {}

/// A handler's input: a [`RequestModel`] (marker [`ModelInput`]) or `()` ([`NoInput`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a handler's input",
    label = "a handler's second parameter must be a request model or `()`",
    note = "put #[model] on `{Self}` (it derives Deserialize, JsonSchema and Validate), or take `()` when the handler needs no input"
)]
pub trait Input<M>: Send + Sized + 'static {
    /// The JSON Schema of the input, for assembly and the OpenAPI document.
    fn schema() -> Value;
    /// The input from the assembled object: deserialized and validated, or the 422.
    fn decode(input: Map<String, Value>) -> Result<Self, HttpError>;
}

impl<T: RequestModel> Input<ModelInput> for T {
    fn schema() -> Value {
        schema_of::<T>()
    }

    fn decode(input: Map<String, Value>) -> Result<Self, HttpError> {
        assemble::decode::<T>(input)
    }
}

impl Input<NoInput> for () {
    fn schema() -> Value {
        schema_of::<Empty>()
    }

    fn decode(_: Map<String, Value>) -> Result<Self, HttpError> {
        Ok(())
    }
}
