// Events are facts named `noun.verb_past`.
use microcore::prelude::*;

#[event("UserCreated")]
pub struct UserCreated {
    pub id: i64,
}

fn main() {}
