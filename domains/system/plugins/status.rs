//! `GET /system/status`: the overall state (`ready` or `degraded`), the app's
//! version, this instance's id and uptime, and every tool and plugin with its
//! status and reason.
//! Like every `/system/*` route it is read-only and public: put it behind the
//! edge (proxy auth or network policy) in production.

use microcore::prelude::*;

/// Reports tool and plugin health.
#[plugin]
pub struct SystemStatus {
    http: Http,
    registry: SystemRegistry,
}

impl Plugin for SystemStatus {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::get("/system/status")
            .operator()
            .tag("System")
            .summary("Tool and plugin status");
        self.http.route(route, &self, Self::status)?;
        Ok(())
    }
}

impl SystemStatus {
    async fn status(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<serde_json::Value> {
        let status = self.registry.status();
        let state = if status.failures().is_empty() {
            "ready"
        } else {
            "degraded"
        };
        Ok(json!({
            "state": state,
            "version": env!("CARGO_PKG_VERSION"),
            "instance_id": self.registry.instance_id(),
            "uptime_secs": self.registry.uptime_secs(),
            "tools": status.tools,
            "plugins": status.plugins,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    #[tokio::test]
    async fn lists_tools_and_plugins_with_their_status() {
        let app = testing::boot::<SystemStatus>().await;
        let res = app.http().call(TestRequest::get("/system/status")).await;
        assert_eq!(res.status, 200, "{}", res.text);
        let tools = res.body["data"]["tools"].as_array().unwrap();
        assert!(
            tools
                .iter()
                .any(|t| t["name"] == "db" && t["status"] == "OK"),
            "{tools:?}"
        );
        let plugins = res.body["data"]["plugins"].as_array().unwrap();
        let me = plugins
            .iter()
            .find(|p| p["name"] == "system.SystemStatus")
            .unwrap();
        assert_eq!(me["status"], "READY");
        assert_eq!(me["tools"], json!(["http", "registry"]));
        assert_eq!(me["file"], "domains/system/plugins/status.rs");
        let data = &res.body["data"];
        assert_eq!(data["state"], "ready", "{data}");
        assert_eq!(data["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            data["instance_id"],
            app.tool::<SystemRegistry>().instance_id()
        );
        assert!(data["uptime_secs"].is_u64(), "{data}");
    }
}
