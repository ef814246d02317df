//! The user as every feature of the domain shows it.

use microcore::prelude::*;

/// A user account as the API shows it; the password hash is deliberately absent.
#[model]
pub struct User {
    /// Primary key.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Unique, lower-cased email address.
    pub email: String,
}

/// `{ "id": 42 }` from the path of `/users/{id}`.
#[model]
pub struct UserPath {
    /// The user's id.
    #[validate(range(min = 1))]
    pub id: i64,
}
