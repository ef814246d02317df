// `r#config` is the tool `config`: registering it again is a duplicate.
microcore::toolset! {
    r#config: microcore::Config,
}

fn main() {}
