// A validation rule that does not exist names the rule to write and lists them all.
use microcore::prelude::*;

#[model]
pub struct CreateUser {
    #[validate(min_length = 3)]
    pub name: String,
    #[validate(length(min = 18))]
    pub age: i64,
    #[validate(email, not_empty)]
    pub email: String,
    #[validate(required)]
    pub city: String,
    #[validate(nested)]
    pub count: u32,
}

fn main() {}
