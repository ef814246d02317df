//! `GET /storefront/availability/{sku}`: asks the inventory domain over the
//! bus (request/reply), never reading its table.

use microcore::prelude::*;

/// Shows whether an item can be bought.
#[plugin]
pub struct Availability {
    http: Http,
    event_bus: EventBus,
}

/// This feature's copy of the `stock.requested` contract.
#[event("stock.requested")]
pub struct StockRequested {
    /// The sku asked about.
    pub sku: String,
}

/// What inventory replies.
#[model]
pub struct StockReply {
    /// Whether the sku is known.
    pub found: bool,
    /// Units in stock.
    pub quantity: i64,
}

/// The sku in the path.
#[model]
pub struct SkuPath {
    /// The item's sku.
    #[validate(length(min = 1, max = 64))]
    pub sku: String,
}

/// Whether an item is in stock.
#[model]
pub struct ItemAvailability {
    /// The item's sku.
    pub sku: String,
    /// Units in stock.
    pub quantity: i64,
    /// Whether at least one is in stock.
    pub in_stock: bool,
}

impl Plugin for Availability {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::get("/storefront/availability/{sku}").tag("storefront");
        self.http.route(route, &self, Self::availability)?;
        Ok(())
    }
}

impl Availability {
    async fn availability(self: Arc<Self>, req: SkuPath, _: Ctx) -> HttpResult<ItemAvailability> {
        let reply: StockReply = self
            .event_bus
            .request(
                StockRequested {
                    sku: req.sku.clone(),
                },
                Duration::from_secs(2),
            )
            .await?;
        if !reply.found {
            return Err(HttpError::not_found(format!("unknown sku {}", req.sku)));
        }
        Ok(ItemAvailability {
            sku: req.sku,
            quantity: reply.quantity,
            in_stock: reply.quantity > 0,
        })
    }
}
