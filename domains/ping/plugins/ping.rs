//! `GET /ping`: the smallest feature, and a liveness probe.

use microcore::prelude::*;

/// Answers `GET /ping` with `pong`.
#[plugin]
pub struct Ping {
    http: Http,
}

/// The answer.
#[model]
pub struct Pong {
    /// Always `ok`.
    status: String,
    /// Always `pong`.
    message: String,
}

impl Plugin for Ping {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.http.route(
            Route::get("/ping").tag("Health").summary("Liveness probe"),
            &self,
            Self::ping,
        )?;
        Ok(())
    }
}

impl Ping {
    async fn ping(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<Pong> {
        Ok(Pong {
            status: "ok".into(),
            message: "pong".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    #[tokio::test]
    async fn ping_answers_pong_in_the_envelope() {
        let app = testing::boot::<Ping>().await;
        let res = app.http().call(TestRequest::get("/ping")).await;
        assert_eq!(res.status, 200);
        assert_eq!(
            res.body,
            json!({"success": true, "data": {"status": "ok", "message": "pong"}})
        );
    }
}
