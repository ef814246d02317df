// A tool declared with another tool's type says which type the tool has.
use microcore::prelude::*;

microcore::toolset! {}

#[plugin]
pub struct CreateUser {
    db: Logger,
}

impl Plugin for CreateUser {}

fn main() {}
