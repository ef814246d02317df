// #[plugin] on something other than a struct says what to write instead.
use microcore::prelude::*;

microcore::toolset! {}

#[plugin]
pub enum CreateUser {
    A,
}

fn main() {}
