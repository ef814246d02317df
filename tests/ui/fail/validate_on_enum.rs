// An enum is serialized and described, not validated: a rule on it says so.
use microcore::prelude::*;

#[model]
pub enum Shape {
    Circle {
        #[validate(range(min = 0.0))]
        radius: f64,
    },
    Empty,
}

fn main() {}
