//! `GET /health/live` and `GET /health/ready`: the probes an orchestrator
//! (Kubernetes `livenessProbe` / `readinessProbe`, a load balancer) polls.
//!
//! Live answers 200 while the process serves HTTP at all: restart it only
//! when this fails. Ready answers 200 when every tool is OK and every plugin
//! READY, else 503 naming what fails and why (reasons carry no credentials:
//! tools redact their URLs), so traffic goes elsewhere until a DEAD tool
//! recovers. A replica whose database still has pending migrations (it runs
//! with `DB_AUTO_MIGRATE=false` and nobody ran `migrate`) is not ready
//! either: its features would answer 500.

use microcore::prelude::*;

/// Liveness and readiness probes.
#[plugin]
pub struct Health {
    http: Http,
    registry: SystemRegistry,
    /// Optional: an app without a database is ready without migrations.
    db: Option<Db>,
    /// Set once the schema was seen current: migrations are never unapplied,
    /// so later probes skip the query.
    #[state]
    schema_current: std::sync::atomic::AtomicBool,
}

impl Plugin for Health {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let live = Route::get("/health/live")
            .tag("System")
            .summary("Liveness: 200 while the process serves");
        self.http.route(live, &self, Self::live)?;
        let ready = Route::get("/health/ready")
            .tag("System")
            .summary("Readiness: 200 when every tool is OK and every plugin READY, else 503");
        self.http.route(ready, &self, Self::ready)?;
        Ok(())
    }
}

impl Health {
    async fn live(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<serde_json::Value> {
        Ok(json!({ "status": "alive" }))
    }

    async fn ready(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<serde_json::Value> {
        let mut failures = self.registry.failures();
        if failures.is_empty()
            && let Some(pending) = self.pending_migrations().await
        {
            failures.push(pending);
        }
        if failures.is_empty() {
            Ok(json!({ "status": "ready" }))
        } else {
            Err(HttpError::status(
                503,
                format!("not ready: {}", failures.join("; ")),
            ))
        }
    }
}

impl Health {
    /// What keeps the schema from being current, if anything.
    async fn pending_migrations(&self) -> Option<String> {
        use microcore::tools::db::MigrationState;
        use std::sync::atomic::Ordering;
        if self.schema_current.load(Ordering::Relaxed) {
            return None;
        }
        let db = self.db.as_ref()?;
        match db.migration_status().await {
            Ok(all) => {
                let pending: Vec<String> = all
                    .into_iter()
                    .filter(|m| m.state != MigrationState::Applied)
                    .map(|m| m.key)
                    .collect();
                if pending.is_empty() {
                    self.schema_current.store(true, Ordering::Relaxed);
                }
                (!pending.is_empty()).then(|| {
                    format!(
                        "migrations not applied: {}; run `migrate`",
                        pending.join(", ")
                    )
                })
            }
            Err(e) => Some(format!("migration status unknown: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::ToolStatus;
    use microcore::testing::{self, TestRequest};

    #[tokio::test]
    async fn ready_follows_a_tool_going_dead_and_recovering_while_live_stays_200() {
        let app = testing::boot::<Health>().await;
        let http = app.http();
        let get = |path: &'static str| http.call(TestRequest::get(path));
        let res = get("/health/ready").await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.body["data"]["status"], "ready");

        let registry = app.registry();
        registry.set_tool(
            "db",
            ToolStatus::Dead,
            Some("backend unavailable (last call: query)".into()),
        );
        let res = get("/health/ready").await;
        assert_eq!(res.status, 503, "{}", res.text);
        assert!(
            res.text.contains("tool `db` DEAD") && res.text.contains("backend unavailable"),
            "{}",
            res.text
        );
        assert_eq!(get("/health/live").await.status, 200);

        registry.set_tool("db", ToolStatus::Ok, Some("Recovered".into()));
        assert_eq!(get("/health/ready").await.status, 200);
    }

    #[tokio::test]
    async fn a_pending_migration_makes_the_replica_not_ready() {
        let app = testing::boot::<Health>().await;
        let http = app.http();
        let ready = || http.call(TestRequest::get("/health/ready"));
        app.db()
            .execute(
                "DELETE FROM _migrations_history WHERE filename LIKE $1",
                params!["%002_user_ids_never_reused.sql"],
            )
            .await
            .unwrap();
        let res = ready().await;
        assert_eq!(res.status, 503, "{}", res.text);
        assert!(
            res.text.contains("users/002_user_ids_never_reused.sql"),
            "{}",
            res.text
        );
        // Still pending, still asked: only a current schema is remembered.
        assert_eq!(ready().await.status, 503);
    }

    #[tokio::test]
    async fn a_current_schema_is_ready() {
        let app = testing::boot::<Health>().await;
        let res = app.http().call(TestRequest::get("/health/ready")).await;
        assert_eq!(res.status, 200, "{}", res.text);
    }
}
