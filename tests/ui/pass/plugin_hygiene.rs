// A tool may be called `tools`, `id`, `missing` or `type` (written `r#type`):
// the generated code's own names cannot clash with a field, and a field
// removed by `#[cfg]` is neither injected nor listed.
use microcore::prelude::*;
use microcore::{Tool, ToolError, ToolSetup};

macro_rules! tool {
    ($ty:ident, $name:literal) => {
        #[derive(Clone)]
        pub struct $ty;

        impl Tool for $ty {
            const NAME: &'static str = $name;
            async fn setup(_: ToolSetup) -> Result<Self, ToolError> {
                Ok($ty)
            }
        }
    };
}

tool!(Tools2, "tools");
tool!(Id, "id");
tool!(Missing, "missing");
tool!(Kind, "type");

microcore::toolset! {
    tools: Tools2,
    id: Id,
    missing: Missing,
    r#type: Kind,
}

#[plugin]
pub struct Awkward {
    tools: Tools2,
    id: Id,
    missing: Missing,
    r#type: Kind,
    #[cfg(any())]
    db: Db,
    #[cfg(any())]
    #[state]
    cache: Vec<String>,
}

impl Plugin for Awkward {}

fn main() {
    use microcore::ToolSet;
    assert!(Tools::names().contains(&"type"), "{:?}", Tools::names());
    let awkward = microcore::__private::PLUGINS
        .iter()
        .find(|p| p.type_name == "Awkward")
        .expect("Awkward is registered");
    assert_eq!(awkward.tools, ["tools", "id", "missing", "type"]);
    let _ = |a: &Awkward| {
        let _ = (&a.tools, &a.id, &a.missing, &a.r#type);
    };
}
