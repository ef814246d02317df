// The kernel builds exactly one of each plugin: no generics.
use microcore::prelude::*;

microcore::toolset! {}

#[plugin]
pub struct CreateUser<T> {
    db: Db,
    other: T,
}

fn main() {}
