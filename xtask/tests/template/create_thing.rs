//! `POST /things`, publishes `thing.created`, consumes `order.placed`.

use microcore::prelude::*;

/// TODO: what this feature does, in one line (AI_CONTEXT.md shows it).
#[plugin]
pub struct CreateThing {
    http: Http,
    event_bus: EventBus,
    state: State,
}

/// What the client sends to `POST /things`.
#[model]
pub struct CreateThingRequest {
    #[validate(length(min = 1, max = 100))]
    pub name: String,
}

/// What the client gets back, inside the envelope's `data`.
#[model]
pub struct CreateThingResponse {
    pub name: String,
}

/// The fact this feature publishes (a past-tense `noun.verb_past`).
#[event("thing.created")]
pub struct ThingCreated {
    pub name: String,
}

/// The fact this feature consumes: its own copy of the fields it reads
/// (`cargo xtask check` compares them with the publisher's).
#[event("order.placed")]
pub struct OrderPlaced {
    pub id: i64,
}

impl Plugin for CreateThing {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::post("/things").tag("things").status(201);
        self.http.route(route, &self, Self::handle)?;
        self.event_bus
            .subscribe(&self, Self::on_order_placed)
            .await?;
        Ok(())
    }
}

impl CreateThing {
    async fn handle(
        self: Arc<Self>,
        req: CreateThingRequest,
        _: Ctx,
    ) -> HttpResult<CreateThingResponse> {
        self.event_bus
            .publish(ThingCreated {
                name: req.name.clone(),
            })
            .await?;
        Ok(CreateThingResponse { name: req.name })
    }

    async fn on_order_placed(self: Arc<Self>, event: Envelope<OrderPlaced>) -> HandlerResult {
        // A redelivered event keeps its id: remember it so the work is done once.
        let seen = self.state.namespace("create_thing");
        if seen.has(&event.id).await? {
            return Ok(());
        }
        // TODO: react to the fact.
        seen.set(&event.id, event.payload.id, None).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    #[tokio::test]
    async fn post_things_answers_201() {
        let app = testing::boot::<CreateThing>().await;
        let res = app
            .http()
            .call(TestRequest::post("/things").json(json!({"name": "x"})))
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        assert_eq!(res.body["data"], json!({"name": "x"}));
        assert_eq!(app.published("thing.created"), vec![json!({"name": "x"})]);
    }

    #[tokio::test]
    async fn order_placed_is_handled() {
        let app = testing::boot::<CreateThing>().await;
        let id = app.bus().publish(OrderPlaced { id: 7 }).await.unwrap();
        let seen = app.state().namespace("create_thing");
        for _ in 0..100 {
            if seen.has(&id).await.unwrap() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("order.placed was not handled within 2 s");
    }
}
