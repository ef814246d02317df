//! An app-like pair of features: a route that reads the db and publishes,
//! a subscriber that reads the db; and a subscriber that always fails (for
//! the retry and dead-letter metrics).

use std::time::Duration;

use microcore::prelude::*;

/// `POST /otel/orders`: one db call, one event.
#[plugin(tools = microcore_app::Tools)]
pub struct PlaceOrder {
    http: Http,
    db: Db,
    event_bus: EventBus,
}

/// What the route answers.
#[model]
pub struct Placed {
    /// Always true.
    pub ok: bool,
}

/// An order was placed.
#[event("otel_test.order_placed")]
pub struct OrderPlaced {
    /// Which order.
    pub n: i64,
}

impl Plugin for PlaceOrder {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.http
            .route(Route::post("/otel/orders"), &self, Self::place)?;
        Ok(())
    }
}

impl PlaceOrder {
    async fn place(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<Placed> {
        let _: Option<serde_json::Value> = self.db.query_one("SELECT 1 AS one", params![]).await?;
        self.event_bus.publish(OrderPlaced { n: 1 }).await?;
        Ok(Placed { ok: true })
    }
}

/// Ships a placed order: one db call.
#[plugin(tools = microcore_app::Tools)]
pub struct ShipOrder {
    db: Db,
    event_bus: EventBus,
}

impl Plugin for ShipOrder {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.event_bus.subscribe(&self, Self::ship).await?;
        Ok(())
    }
}

impl ShipOrder {
    async fn ship(self: Arc<Self>, _event: Envelope<OrderPlaced>) -> HandlerResult {
        let _: Option<serde_json::Value> = self.db.query_one("SELECT 2 AS two", params![]).await?;
        Ok(())
    }
}

/// Fails every delivery of `otel_test.order_placed`: one retry, then a dead letter.
#[plugin(tools = microcore_app::Tools)]
pub struct RefuseOrder {
    event_bus: EventBus,
}

impl Plugin for RefuseOrder {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let options = SubOptions::default()
            .retries(1)
            .backoff(Duration::from_millis(1));
        self.event_bus
            .subscribe_with(&self, Self::refuse, options)
            .await?;
        Ok(())
    }
}

impl RefuseOrder {
    async fn refuse(self: Arc<Self>, _event: Envelope<OrderPlaced>) -> HandlerResult {
        anyhow::bail!("refused on purpose")
    }
}

/// `POST /otel/stored`: stores an event in the outbox with its transaction.
#[plugin(tools = microcore_app::Tools)]
pub struct StoreOrder {
    http: Http,
    db: Db,
}

/// An order stored through the outbox.
#[event("otel_test.order_stored")]
pub struct OrderStored {
    /// Which order.
    pub n: i64,
}

impl Plugin for StoreOrder {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.http
            .route(Route::post("/otel/stored"), &self, Self::store)?;
        Ok(())
    }
}

impl StoreOrder {
    async fn store(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<Placed> {
        self.db
            .transaction(|tx| async move {
                tx.publish(OrderStored { n: 1 }).await?;
                Ok(())
            })
            .await?;
        Ok(Placed { ok: true })
    }
}

/// Handles a stored order: one db call.
#[plugin(tools = microcore_app::Tools)]
pub struct ShipStored {
    db: Db,
    event_bus: EventBus,
}

impl Plugin for ShipStored {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.event_bus.subscribe(&self, Self::ship).await?;
        Ok(())
    }
}

impl ShipStored {
    async fn ship(self: Arc<Self>, _event: Envelope<OrderStored>) -> HandlerResult {
        let _: Option<serde_json::Value> =
            self.db.query_one("SELECT 3 AS three", params![]).await?;
        Ok(())
    }
}

/// A scheduled job: one db call every second.
#[plugin(tools = microcore_app::Tools)]
pub struct Sweep {
    scheduler: Scheduler,
    db: Db,
}

/// One row.
#[model]
pub struct One {
    /// Always 1.
    pub one: i64,
}

impl Plugin for Sweep {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.scheduler.every(
            "otel_test.sweep",
            Duration::from_secs(1),
            &self,
            Self::sweep,
        )?;
        Ok(())
    }
}

impl Sweep {
    async fn sweep(self: Arc<Self>, _fire: Fire) -> HandlerResult {
        let _: Option<One> = self.db.query_one("SELECT 1 AS one", params![]).await?;
        Ok(())
    }
}
