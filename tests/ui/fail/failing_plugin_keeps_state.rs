// A plugin that fails to expand reports its own error only: the `#[state]`
// it re-emits does not add "cannot find attribute `state`".
use microcore::prelude::*;

microcore::toolset! {}

#[plugin]
pub struct Counter<T> {
    db: Db,
    #[state]
    hits: T,
}

fn main() {}
