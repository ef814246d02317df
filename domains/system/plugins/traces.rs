//! `GET /system/traces/tree`: recent events as causal trees (a child was
//! published while its parent was being handled), newest roots first, each
//! node with the subscribers that handled it and whether they succeeded.

use std::collections::BTreeMap;

use microcore::prelude::*;
use microcore::tools::event_bus::{TraceKind, TraceNode};

/// Reports causal event trees.
#[plugin]
pub struct SystemTraces {
    http: Http,
    event_bus: EventBus,
}

impl Plugin for SystemTraces {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::get("/system/traces/tree")
            .operator()
            .tag("System")
            .summary("Causal event trees");
        self.http.route(route, &self, Self::tree)?;
        Ok(())
    }
}

impl SystemTraces {
    async fn tree(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<serde_json::Value> {
        Ok(json!(build_tree(&self.event_bus.trace_history())))
    }
}

/// Merges published and delivered records per envelope and links children to parents.
fn build_tree(history: &[TraceNode]) -> Vec<serde_json::Value> {
    let mut nodes: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut order: Vec<(f64, String, Option<String>)> = Vec::new();
    for n in history
        .iter()
        .filter(|n| !n.envelope.event.starts_with("_reply."))
    {
        let env = &n.envelope;
        match n.kind {
            TraceKind::Published => {
                nodes.insert(
                    env.id.clone(),
                    json!({"id": env.id, "parent_id": env.parent_id, "event": env.event, "emitter": env.emitter,
                           "timestamp": n.timestamp, "deliveries": [], "children": []}),
                );
                order.push((n.timestamp, env.id.clone(), env.parent_id.clone()));
            }
            TraceKind::Delivered => {
                if let Some(node) = nodes.get_mut(&env.id)
                    && let Some(list) = node["deliveries"].as_array_mut()
                {
                    list.push(json!({"subscriber": n.subscriber, "success": n.success,
                                     "error": n.error, "attempts": n.attempts}));
                }
            }
        }
    }
    // Newest first: a child is always published after its parent, so each
    // child is attached while its parent is still in the map; roots come out
    // newest first and children oldest first.
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut roots = Vec::new();
    for (_, id, parent) in &order {
        let Some(node) = nodes.remove(id) else {
            continue;
        };
        match parent.as_ref().and_then(|p| nodes.get_mut(p)) {
            Some(parent_node) => {
                if let Some(children) = parent_node["children"].as_array_mut() {
                    children.insert(0, node);
                }
            }
            None => roots.push(node),
        }
    }
    roots
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::TestRequest;

    #[event("test.asked")]
    struct Asked {
        n: i64,
    }

    #[event("test.answered")]
    struct Answered {
        n: i64,
    }

    #[plugin]
    struct Answerer {
        event_bus: EventBus,
    }

    impl Plugin for Answerer {
        async fn on_boot(self: Arc<Self>) -> BootResult {
            self.event_bus.subscribe(&self, Self::on_asked).await?;
            Ok(())
        }
    }

    impl Answerer {
        async fn on_asked(self: Arc<Self>, e: Envelope<Asked>) -> HandlerResult {
            self.event_bus.publish(Answered { n: e.payload.n }).await?;
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_child_event_hangs_under_its_parent() {
        let app = microcore::testing::TestApp::<crate::Tools>::builder()
            .plugin::<SystemTraces>()
            .plugin::<Answerer>()
            .boot()
            .await;
        app.bus().publish(Asked { n: 1 }).await.unwrap();
        assert_eq!(
            app.wait_for("test.answered", Duration::from_secs(2))
                .await
                .len(),
            1
        );
        let res = app
            .http()
            .call(TestRequest::get("/system/traces/tree"))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        let roots = res.body["data"].as_array().unwrap();
        let asked = roots
            .iter()
            .find(|r| r["event"] == "test.asked")
            .expect("the parent is a root");
        assert_eq!(asked["children"][0]["event"], "test.answered");
        assert_eq!(asked["deliveries"][0]["success"], true);
        assert!(
            !roots.iter().any(|r| r["event"] == "test.answered"),
            "the child is not a root"
        );
    }
}
