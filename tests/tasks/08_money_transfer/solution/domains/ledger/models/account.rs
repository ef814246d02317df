//! An account, as both ledger features show it.

use microcore::prelude::*;

/// An account and its balance.
#[model]
pub struct Account {
    /// Its id.
    pub id: i64,
    /// Who holds it.
    pub owner: String,
    /// Its balance in cents, never negative.
    pub balance_cents: i64,
}
