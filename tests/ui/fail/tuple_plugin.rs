// Tools are named fields; a tuple struct cannot say which tool is which.
use microcore::prelude::*;

microcore::toolset! {}

#[plugin]
pub struct CreateUser(Db, Http);

fn main() {}
