//! Stock holds that expire on their own: a scheduler job marks them expired
//! every second and keeps a running total.

use std::time::{SystemTime, UNIX_EPOCH};

use microcore::prelude::*;

/// Create and read holds; expire them on a schedule.
#[plugin]
pub struct Holds {
    http: Http,
    db: Db,
    scheduler: Scheduler,
}

/// What a client sends to hold stock.
#[model]
pub struct NewHold {
    /// The stock-keeping unit, 1 to 40 characters.
    #[validate(length(min = 1, max = 40))]
    pub sku: String,
    /// Seconds until the hold expires, 1 to 3600.
    #[validate(range(min = 1, max = 3600))]
    pub ttl_secs: i64,
}

/// A hold.
#[model]
pub struct Hold {
    /// Its id.
    pub id: i64,
    /// The stock it reserves.
    pub sku: String,
    /// `active` or `expired`.
    pub status: String,
}

/// The id in the path.
#[model]
pub struct HoldPath {
    /// The hold's id.
    pub id: i64,
}

/// What the job has done.
#[model]
pub struct Stats {
    /// Holds the job marked expired, in total.
    pub expired_by_job: i64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Plugin for Holds {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let tag = "holds";
        let create = Route::post("/holds").tag(tag).status(201);
        self.http.route(create, &self, Self::create)?;
        self.http
            .route(Route::get("/holds/stats").tag(tag), &self, Self::stats)?;
        self.http
            .route(Route::get("/holds/{id}").tag(tag), &self, Self::get)?;
        self.scheduler
            .every("holds.sweep", Duration::from_secs(1), &self, Self::sweep)?;
        Ok(())
    }
}

impl Holds {
    async fn create(self: Arc<Self>, req: NewHold, _: Ctx) -> HttpResult<Hold> {
        let expires = now_ms() + req.ttl_secs * 1000;
        let id = self
            .db
            .execute(
                "INSERT INTO holds (sku, expires_at_ms) VALUES ($1, $2) RETURNING id",
                params![req.sku.clone(), expires],
            )
            .await?;
        Ok(Hold {
            id,
            sku: req.sku,
            status: "active".into(),
        })
    }

    async fn get(self: Arc<Self>, req: HoldPath, _: Ctx) -> HttpResult<Hold> {
        self.db
            .query_one(
                "SELECT id, sku, status FROM holds WHERE id = $1",
                params![req.id],
            )
            .await?
            .ok_or_else(|| HttpError::not_found("hold not found"))
    }

    async fn stats(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<Stats> {
        self.db
            .query_one(
                "SELECT expired_by_job FROM holds_stats WHERE id = 1",
                params![],
            )
            .await?
            .ok_or_else(|| HttpError::not_found("no stats yet"))
    }

    /// Marks the holds whose time is up as expired, and counts them.
    async fn sweep(self: Arc<Self>, _fire: Fire) -> HandlerResult {
        let now = now_ms();
        self.db
            .transaction(|tx| async move {
                let expired = tx
                    .execute(
                        "UPDATE holds SET status = 'expired' \
                         WHERE status = 'active' AND expires_at_ms <= $1",
                        params![now],
                    )
                    .await?;
                tx.execute(
                    "UPDATE holds_stats SET expired_by_job = expired_by_job + $1 WHERE id = 1",
                    params![expired],
                )
                .await?;
                Ok(())
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{TestApp, TestRequest};

    #[tokio::test]
    async fn the_sweep_expires_only_holds_whose_time_is_up() {
        let app = TestApp::builder().plugin::<Holds>().boot().await;
        let create = |sku: &str, ttl: i64| {
            TestRequest::post("/holds").json(json!({"sku": sku, "ttl_secs": ttl}))
        };
        let short = app.http().call(create("A", 1)).await;
        assert_eq!(short.status, 201);
        let long = app.http().call(create("B", 3600)).await;
        let short_id = short.data()["id"].as_i64().unwrap();
        app.db()
            .execute(
                "UPDATE holds SET expires_at_ms = 0 WHERE id = $1",
                params![short_id],
            )
            .await
            .unwrap();
        let fire = Fire {
            key: "holds.sweep".into(),
            at: SystemTime::now(),
            missed: 0,
        };
        app.plugin::<Holds>().sweep(fire).await.unwrap();
        let read = |id: &serde_json::Value| TestRequest::get(format!("/holds/{id}"));
        let swept = app.http().call(read(&short.data()["id"])).await;
        assert_eq!(swept.data()["status"], "expired");
        let kept = app.http().call(read(&long.data()["id"])).await;
        assert_eq!(kept.data()["status"], "active");
        let stats = app.http().call(TestRequest::get("/holds/stats")).await;
        assert_eq!(stats.data()["expired_by_job"], 1);
    }
}
