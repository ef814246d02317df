// A misspelt tool is a compile error at the field, naming the closest tool.
use microcore::prelude::*;

microcore::toolset! {}

#[plugin]
pub struct CreateUser {
    http: Http,
    dbx: Db,
}

impl Plugin for CreateUser {}

fn main() {}
