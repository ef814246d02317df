//! Nested validation for `#[model]`: a field whose type is itself validated
//! (another model, a `Vec` of models, an `Option` of either) is validated with
//! its parent, and its errors are named by path (`items[2].name`).
//!
//! A macro cannot know whether a field's type is a model, so the generated
//! code asks the compiler: `(&&&Nested(&self.field)).__microcore_nested()`
//! resolves, by autoref method lookup on the concrete field type, to the first
//! of these that applies: the type implements `Validate`; it is an `Option` of
//! such a type; anything else (String, numbers, `serde_json::Value`, dates),
//! which has nothing to validate. Not a public API.

use validator::{Validate, ValidationErrors};

/// A field under inspection.
pub struct Nested<'a, T: ?Sized>(pub &'a T);

/// Picked first: the field's type validates itself (a model, `Vec` of models).
pub trait ValidatedField {
    /// Validates the field.
    fn __microcore_nested(&self) -> Result<(), ValidationErrors>;
}

impl<T: Validate + ?Sized> ValidatedField for &&Nested<'_, T> {
    fn __microcore_nested(&self) -> Result<(), ValidationErrors> {
        self.0.validate()
    }
}

/// Picked second: an optional model (or optional `Vec` of models), validated when present.
pub trait OptionalValidatedField {
    /// Validates the field when it is `Some`.
    fn __microcore_nested(&self) -> Result<(), ValidationErrors>;
}

impl<T: Validate> OptionalValidatedField for &Nested<'_, Option<T>> {
    fn __microcore_nested(&self) -> Result<(), ValidationErrors> {
        self.0.as_ref().map_or(Ok(()), Validate::validate)
    }
}

/// Picked last: a field with no rules of its own.
pub trait PlainField {
    /// Nothing to validate.
    fn __microcore_nested(&self) -> Result<(), ValidationErrors>;
}

impl<T: ?Sized> PlainField for Nested<'_, T> {
    fn __microcore_nested(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }
}

/// The validation context `#[model]` hands to the validator derive, so that
/// the derive leaves the `Validate` impl (with nested fields) to `#[model]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelContext;
