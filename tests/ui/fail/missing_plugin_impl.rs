// A #[plugin] struct without `impl Plugin` says what to add.
use microcore::prelude::*;

microcore::toolset! {}

#[plugin]
pub struct CreateUser {
    db: Db,
}

fn main() {}
