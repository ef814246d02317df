//! `GET /system/metrics`: the most recent tool calls, newest first, and a
//! per-method summary (calls, failures, mean and max duration).

use std::collections::BTreeMap;

use microcore::prelude::*;

/// Reports tool call metrics.
#[plugin]
pub struct SystemMetrics {
    http: Http,
    registry: SystemRegistry,
}

impl Plugin for SystemMetrics {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::get("/system/metrics")
            .operator()
            .tag("System")
            .summary("Recent tool calls");
        self.http.route(route, &self, Self::metrics)?;
        Ok(())
    }
}

impl SystemMetrics {
    async fn metrics(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<serde_json::Value> {
        let calls = self.registry.recent_calls();
        let mut summary: BTreeMap<(&str, &str), (u64, u64, f64, f64)> = BTreeMap::new();
        for c in &calls {
            let s = summary.entry((c.tool, c.method)).or_default();
            s.0 += 1;
            s.1 += u64::from(!c.success);
            s.2 += c.duration_ms;
            s.3 = s.3.max(c.duration_ms);
        }
        let summary: Vec<_> = summary
            .into_iter()
            .map(|((tool, method), (n, failures, total, max))| {
                json!({"tool": tool, "method": method, "calls": n, "failures": failures,
                       "mean_ms": total / n as f64, "max_ms": max})
            })
            .collect();
        Ok(json!({ "summary": summary, "calls": calls }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    #[tokio::test]
    async fn tool_calls_show_up_with_their_outcome() {
        let app = testing::boot::<SystemMetrics>().await;
        let _: Vec<serde_json::Value> = app.db().query("SELECT 1 AS one", params![]).await.unwrap();
        let _ = app
            .db()
            .query::<serde_json::Value>("SELECT * FROM no_such_table", params![])
            .await;
        let res = app.http().call(TestRequest::get("/system/metrics")).await;
        assert_eq!(res.status, 200, "{}", res.text);
        let summary = res.body["data"]["summary"].as_array().unwrap();
        let query = summary
            .iter()
            .find(|s| s["tool"] == "db" && s["method"] == "query")
            .unwrap();
        assert_eq!(query["calls"], 2);
        assert_eq!(query["failures"], 1);
    }
}
