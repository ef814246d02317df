//! `GET /system/scheduler`: every scheduled job of this process (key, kind,
//! schedule, next fire, last outcome on any replica) and every pending
//! one-shot.

use microcore::prelude::*;

/// Lists scheduled jobs.
#[plugin]
pub struct SystemScheduler {
    http: Http,
    scheduler: Scheduler,
}

impl Plugin for SystemScheduler {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::get("/system/scheduler")
            .operator()
            .tag("System")
            .summary("Scheduled jobs, next fire and last outcome");
        self.http.route(route, &self, Self::jobs)?;
        Ok(())
    }
}

impl SystemScheduler {
    async fn jobs(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<serde_json::Value> {
        let jobs = self.scheduler.jobs().await.map_err(|e| {
            HttpError::new(503, format!("the scheduler's store cannot be read: {e}"))
        })?;
        Ok(json!(jobs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    #[plugin]
    struct Nightly {
        scheduler: Scheduler,
    }

    impl Plugin for Nightly {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            self.scheduler
                .cron("nightly", "0 3 * * *", "Europe/Madrid", &self, Self::run)?;
            Ok(())
        }
    }

    impl Nightly {
        async fn run(self: Arc<Self>, _: Fire) -> HandlerResult {
            Ok(())
        }
    }

    #[tokio::test]
    async fn lists_jobs_with_their_schedule_and_next_fire() {
        let app = testing::TestApp::<crate::Tools>::builder()
            .plugin::<SystemScheduler>()
            .plugin::<Nightly>()
            .boot()
            .await;
        let res = app.http().call(TestRequest::get("/system/scheduler")).await;
        assert_eq!(res.status, 200, "{}", res.text);
        let job = &res.body["data"][0];
        assert_eq!(job["key"], "nightly");
        assert_eq!(job["kind"], "cron");
        assert_eq!(job["schedule"], "0 3 * * * Europe/Madrid");
        assert_eq!(job["runner"], "system.Nightly.run");
        assert!(job["next_fire"].as_str().unwrap().ends_with('Z'), "{job}");
        assert_eq!(job["last"], serde_json::Value::Null);
    }
}
