// A custom tool listed under a name other than its Tool::NAME is refused.
use microcore::{Tool, ToolError, ToolSetup};

#[derive(Clone)]
pub struct Payments;

impl Tool for Payments {
    const NAME: &'static str = "payments";
    async fn setup(_: ToolSetup) -> Result<Self, ToolError> {
        Ok(Payments)
    }
}

microcore::toolset! {
    billing: Payments,
}

fn main() {}
