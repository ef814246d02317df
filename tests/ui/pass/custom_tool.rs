// A custom tool: one registration line in toolset!, then any plugin names it.
use microcore::prelude::*;
use microcore::{Tool, ToolError, ToolSetup};

/// Charges cards.
#[derive(Clone)]
pub struct Payments;

impl Payments {
    pub fn charge(&self, cents: i64) -> bool {
        cents > 0
    }
}

impl Tool for Payments {
    const NAME: &'static str = "payments";
    async fn setup(_: ToolSetup) -> Result<Self, ToolError> {
        Ok(Payments)
    }
}

microcore::toolset! {
    payments: Payments,
}

#[plugin]
pub struct Checkout {
    payments: Payments,
    logger: Option<Logger>,
}

impl Plugin for Checkout {}

fn main() {
    let _ = |c: &Checkout| (c.payments.charge(100), c.logger.is_some());
}
