//! `GET /system/events`: every event seen or subscribed: who publishes it, who
//! consumes it, how often it was published (publications, not deliveries).

use microcore::prelude::*;

/// Reports the event map.
#[plugin]
pub struct SystemEvents {
    http: Http,
    event_bus: EventBus,
}

impl Plugin for SystemEvents {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::get("/system/events")
            .operator()
            .tag("System")
            .summary("Events, emitters and subscribers");
        self.http.route(route, &self, Self::events)?;
        Ok(())
    }
}

impl SystemEvents {
    async fn events(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<serde_json::Value> {
        let events: Vec<_> = self
            .event_bus
            .event_stats()
            .into_iter()
            .filter(|(name, _)| !name.starts_with("_reply."))
            .map(|(event, s)| {
                json!({
                    "event": event,
                    "subscribers": s.subscribers,
                    "emitters": s.emitters,
                    "times_published": s.published,
                })
            })
            .collect();
        Ok(json!(events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    #[event("test.pinged")]
    struct Pinged {
        n: i64,
    }

    #[plugin]
    struct Listener {
        event_bus: EventBus,
    }

    impl Plugin for Listener {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            self.event_bus.subscribe(&self, Self::on_pinged).await?;
            Ok(())
        }
    }

    impl Listener {
        async fn on_pinged(self: Arc<Self>, _: Envelope<Pinged>) -> HandlerResult {
            Ok(())
        }
    }

    #[tokio::test]
    async fn counts_publications_and_names_emitters_and_subscribers() {
        let app = testing::TestApp::<crate::Tools>::builder()
            .plugin::<SystemEvents>()
            .plugin::<Listener>()
            .boot()
            .await;
        for n in 0..3 {
            app.bus().publish(Pinged { n }).await.unwrap();
        }
        let res = app.http().call(TestRequest::get("/system/events")).await;
        assert_eq!(res.status, 200, "{}", res.text);
        let all = res.body["data"].as_array().unwrap();
        let pinged = all.iter().find(|e| e["event"] == "test.pinged").unwrap();
        assert_eq!(pinged["times_published"], 3);
        assert_eq!(pinged["emitters"], json!(["system"]));
        assert_eq!(pinged["subscribers"], json!(["system.Listener.on_pinged"]));
    }
}
