// #[model] derives serde, JSON Schema and validation itself: deriving them again says so.
use microcore::prelude::*;
use serde::Serialize;

#[model]
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
}

fn main() {}
