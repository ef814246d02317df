// Two tools under one name are a build error, not a silent last-one-wins.
microcore::toolset! {
    db: microcore::Db,
}

fn main() {}
