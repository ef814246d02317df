//! `GET /countdown?from=n`: counts down over Server-Sent Events, one number
//! every 100 ms, then a `done` event, and ends.

use microcore::prelude::*;

/// The pause between two numbers.
const TICK: Duration = Duration::from_millis(100);

/// Streams a countdown.
#[plugin]
pub struct Countdown {
    http: Http,
}

/// Where to start.
#[model]
pub struct CountdownRequest {
    /// 1 to 10.
    #[validate(range(min = 1, max = 10))]
    pub from: u32,
}

impl Plugin for Countdown {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::get("/countdown").tag("countdown");
        self.http.sse(route, &self, Self::countdown)?;
        Ok(())
    }
}

impl Countdown {
    async fn countdown(
        self: Arc<Self>,
        req: CountdownRequest,
        _: Ctx,
    ) -> HttpResult<impl Stream<Item = SseEvent> + use<>> {
        // `Some(n)`: the next number to send (0: the `done` event); `None`: ended.
        Ok(stream::unfold(Some(req.from), |next| async move {
            let n = next?;
            if n == 0 {
                return Some((SseEvent::data("liftoff").event("done"), None));
            }
            tokio::time::sleep(TICK).await;
            Some((SseEvent::data(n.to_string()), Some(n - 1)))
        }))
    }
}
