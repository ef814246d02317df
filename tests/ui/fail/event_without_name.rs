// An event is named where it is declared.
use microcore::prelude::*;

#[event]
pub struct UserCreated {
    pub id: i64,
}

fn main() {}
