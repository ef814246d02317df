//! Stock levels: set over HTTP, and answered to `stock.requested` bus
//! requests so other domains can ask without reading this domain's table.

use microcore::prelude::*;

/// Keeps stock levels and answers stock requests.
#[plugin]
pub struct Stock {
    http: Http,
    db: Db,
    event_bus: EventBus,
}

/// A stock level, as set and as answered.
#[model]
pub struct StockLevel {
    /// The item's sku.
    #[validate(length(min = 1, max = 64))]
    pub sku: String,
    /// Units in stock.
    #[validate(range(min = 0))]
    pub quantity: i64,
}

/// Another domain asks how many of `sku` are in stock.
#[event("stock.requested")]
pub struct StockRequested {
    /// The sku asked about.
    pub sku: String,
}

/// The reply to `stock.requested`.
#[model]
pub struct StockReply {
    /// Whether the sku is known.
    pub found: bool,
    /// Units in stock (0 when unknown).
    pub quantity: i64,
}

impl Plugin for Stock {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::post("/inventory/items").tag("inventory").status(201);
        self.http.route(route, &self, Self::set_level)?;
        self.event_bus
            .subscribe(&self, Self::on_stock_requested)
            .await?;
        Ok(())
    }
}

impl Stock {
    async fn set_level(self: Arc<Self>, req: StockLevel, _: Ctx) -> HttpResult<StockLevel> {
        self.db
            .execute(
                "INSERT INTO stock_levels (sku, quantity) VALUES ($1, $2) \
                 ON CONFLICT (sku) DO UPDATE SET quantity = excluded.quantity",
                params![req.sku.clone(), req.quantity],
            )
            .await?;
        Ok(req)
    }

    async fn on_stock_requested(
        self: Arc<Self>,
        event: Envelope<StockRequested>,
    ) -> HandlerResult<StockReply> {
        let level: Option<StockLevel> = self
            .db
            .query_one(
                "SELECT sku, quantity FROM stock_levels WHERE sku = $1",
                params![event.payload.sku.clone()],
            )
            .await?;
        Ok(StockReply {
            found: level.is_some(),
            quantity: level.map_or(0, |l| l.quantity),
        })
    }
}
