//! `POST /checkout/orders` with an `Idempotency-Key`: a retry returns the
//! first answer instead of placing a second order. `GET /checkout/orders`
//! lists an item's orders.

use microcore::prelude::*;

/// Places orders exactly once per idempotency key.
#[plugin]
pub struct Orders {
    http: Http,
    db: Db,
}

/// An order to place.
#[model]
pub struct NewOrder {
    /// 1 to 100 characters.
    #[validate(length(min = 1, max = 100))]
    pub item: String,
    /// 1 to 1000.
    #[validate(range(min = 1, max = 1000))]
    pub quantity: i64,
}

/// A placed order.
#[model]
pub struct Order {
    /// Its id.
    pub id: i64,
    /// What was ordered.
    pub item: String,
    /// How many.
    pub quantity: i64,
}

/// Which item's orders to list.
#[model]
pub struct OrderFilter {
    /// The item.
    #[validate(length(min = 1, max = 100))]
    pub item: String,
}

/// An item's orders, oldest first.
#[model]
pub struct OrderList {
    /// The orders.
    pub orders: Vec<Order>,
}

/// A remembered key.
#[model]
struct KeyRow {
    request: String,
    order_id: i64,
}

impl Plugin for Orders {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let place = Route::post("/checkout/orders").tag("checkout").status(201);
        self.http.route(place, &self, Self::place)?;
        let list = Route::get("/checkout/orders").tag("checkout");
        self.http.route(list, &self, Self::list)?;
        Ok(())
    }
}

impl Orders {
    async fn place(self: Arc<Self>, req: NewOrder, ctx: Ctx) -> HttpResult<Order> {
        let key = ctx
            .header("idempotency-key")
            .filter(|k| !k.is_empty() && k.len() <= 200)
            .ok_or_else(|| {
                HttpError::bad_request("send an Idempotency-Key header (1 to 200 characters)")
            })?;
        let request = json!({"item": req.item, "quantity": req.quantity}).to_string();
        // The closure may run again on a conflict: it clones what it moves.
        self.db
            .try_transaction(|tx| {
                let (key, request, item) = (key.clone(), request.clone(), req.item.clone());
                async move {
                let seen: Option<KeyRow> = tx
                    .query_one(
                        "SELECT request, order_id FROM checkout_idempotency_keys WHERE key = $1",
                        params![key.clone()],
                    )
                    .await?;
                if let Some(seen) = seen {
                    if seen.request != request {
                        return Err(HttpError::conflict(
                            "this Idempotency-Key was used with a different request",
                        ));
                    }
                    return tx
                        .query_one(
                            "SELECT id, item, quantity FROM checkout_orders WHERE id = $1",
                            params![seen.order_id],
                        )
                        .await?
                        .ok_or_else(|| HttpError::internal("idempotency key without its order"));
                }
                let id = tx
                    .execute(
                        "INSERT INTO checkout_orders (item, quantity) VALUES ($1, $2) RETURNING id",
                        params![item.clone(), req.quantity],
                    )
                    .await?;
                tx.execute(
                    "INSERT INTO checkout_idempotency_keys (key, request, order_id) VALUES ($1, $2, $3)",
                    params![key, request, id],
                )
                .await?;
                Ok(Order {
                    id,
                    item,
                    quantity: req.quantity,
                })
            }})
            .await
    }

    async fn list(self: Arc<Self>, req: OrderFilter, _: Ctx) -> HttpResult<OrderList> {
        let orders = self
            .db
            .query(
                "SELECT id, item, quantity FROM checkout_orders WHERE item = $1 ORDER BY id",
                params![req.item],
            )
            .await?;
        Ok(OrderList { orders })
    }
}
