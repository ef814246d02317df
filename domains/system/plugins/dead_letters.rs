//! `GET /system/dead-letters`: the events a subscriber of this process gave up
//! on, per event; `POST /system/dead-letters/{id}/replay` sends one back to
//! the subscriber that failed it, once the cause is fixed.
//!
//! The scope is this process (replica): each lists the dead letters its own
//! subscribers made, the newest 1000, kept in memory until replayed or
//! restarted; ask each replica, and replay on the replica that lists it. The
//! `_dlq.<event>` events still go out on the bus for a durable archive. Like
//! every `/system/*` route these are operator routes (`HTTP_OPERATOR_TOKEN`);
//! replay only re-runs a subscriber on an event it already received.

use std::collections::BTreeMap;

use microcore::prelude::*;
use microcore::tools::event_bus::RecordedDeadLetter;

/// Lists and replays dead letters.
#[plugin]
pub struct SystemDeadLetters {
    http: Http,
    event_bus: EventBus,
}

/// `{ "id": "…" }` from the path of `/system/dead-letters/{id}/replay`.
#[model]
pub struct LetterPath {
    /// The dead letter's id, as `GET /system/dead-letters` lists it.
    #[validate(length(min = 1, max = 100))]
    pub id: String,
}

/// What a replay did.
#[model]
pub struct Replayed {
    /// The dead letter sent back.
    pub id: String,
}

impl Plugin for SystemDeadLetters {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let list = Route::get("/system/dead-letters")
            .operator()
            .tag("System")
            .summary("Dead letters of this replica, per event");
        self.http.route(list, &self, Self::list)?;
        let replay = Route::post("/system/dead-letters/{id}/replay")
            .operator()
            .tag("System")
            .summary("Send a dead letter back to the subscriber that failed it")
            .status(202);
        self.http.route(replay, &self, Self::replay)?;
        Ok(())
    }
}

impl SystemDeadLetters {
    async fn list(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<serde_json::Value> {
        let mut per_event: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        for letter in self.event_bus.dead_letters() {
            per_event
                .entry(letter.event.clone())
                .or_default()
                .push(shown(letter));
        }
        let events: Vec<_> = per_event
            .into_iter()
            .map(|(event, letters)| json!({"event": event, "count": letters.len(), "letters": letters}))
            .collect();
        Ok(json!(events))
    }

    async fn replay(self: Arc<Self>, path: LetterPath, _: Ctx) -> HttpResult<Replayed> {
        match self.event_bus.replay_dead_letter(&path.id).await {
            Ok(true) => Ok(Replayed { id: path.id }),
            Ok(false) => Err(HttpError::not_found(format!(
                "no dead letter `{}` on this replica; dead letters live in the memory of the \
                 replica whose subscriber failed (GET /system/dead-letters on each replica)",
                path.id
            ))),
            Err(e) => Err(HttpError::conflict(format!(
                "dead letter `{}` cannot be replayed now: {e}",
                path.id
            ))),
        }
    }
}

/// One dead letter as the endpoint shows it.
fn shown(letter: RecordedDeadLetter) -> serde_json::Value {
    json!({
        "id": letter.id,
        "subscriber": letter.subscriber,
        "error": letter.error,
        "attempts": letter.attempts,
        "failed_at": letter.failed_at,
        "event_id": letter.original.id,
        "payload": letter.original.payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    #[event("test.letter_failed")]
    struct Charged {
        n: i64,
    }

    /// Fails until `fixed` is set, then records what it handled.
    #[plugin]
    struct Charger {
        event_bus: EventBus,
        #[state]
        state: ChargerState,
    }

    #[derive(Default)]
    struct ChargerState {
        fixed: std::sync::atomic::AtomicBool,
        handled: std::sync::Mutex<Vec<i64>>,
    }

    impl Plugin for Charger {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            let options = SubOptions {
                retries: 0,
                ..SubOptions::default()
            };
            self.event_bus
                .subscribe_with(&self, Self::on_charged, options)
                .await?;
            Ok(())
        }
    }

    impl Charger {
        async fn on_charged(self: Arc<Self>, event: Envelope<Charged>) -> HandlerResult {
            if !self.state.fixed.load(std::sync::atomic::Ordering::Acquire) {
                bail!("card processor down");
            }
            self.state.handled.lock().unwrap().push(event.n);
            Ok(())
        }
    }

    #[tokio::test]
    async fn dead_letters_are_listed_per_event_and_a_replay_sends_one_back() {
        let app = testing::TestApp::<crate::Tools>::builder()
            .plugin::<SystemDeadLetters>()
            .plugin::<Charger>()
            .boot()
            .await;
        let id = app.bus().publish(Charged { n: 3 }).await.unwrap();
        let listed = async || {
            app.http()
                .call(TestRequest::get("/system/dead-letters"))
                .await
                .body
        };
        let mut body = listed().await;
        for _ in 0..200 {
            if body["data"][0]["count"] == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            body = listed().await;
        }
        let entry = &body["data"][0];
        assert_eq!(entry["event"], "test.letter_failed", "{body}");
        assert_eq!(entry["count"], 1);
        let letter = &entry["letters"][0];
        assert_eq!(letter["subscriber"], "system.Charger.on_charged");
        assert_eq!(letter["error"], "card processor down");
        assert_eq!(letter["event_id"], id.as_str());
        assert_eq!(letter["payload"], json!({"n": 3}));
        let letter_id = letter["id"].as_str().unwrap().to_owned();

        let unknown = app
            .http()
            .call(TestRequest::post("/system/dead-letters/nope/replay"))
            .await;
        assert_eq!(unknown.status, 404, "{}", unknown.text);

        app.plugin::<Charger>()
            .state
            .fixed
            .store(true, std::sync::atomic::Ordering::Release);
        let replay = app
            .http()
            .call(TestRequest::post(format!(
                "/system/dead-letters/{letter_id}/replay"
            )))
            .await;
        assert_eq!(replay.status, 202, "{}", replay.text);
        let charger = app.plugin::<Charger>();
        for _ in 0..200 {
            if !charger.state.handled.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(*charger.state.handled.lock().unwrap(), vec![3]);
        assert_eq!(
            listed().await["data"],
            json!([]),
            "replayed letters leave the list"
        );
    }
}
