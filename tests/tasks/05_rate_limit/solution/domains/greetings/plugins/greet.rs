//! `GET /greetings/hello`: a greeting limited to 3 requests per API key per
//! minute, counted in `state` so every instance shares the limit.

use microcore::prelude::*;

/// Requests allowed per key in one window.
const LIMIT: i64 = 3;
/// The length of a window.
const WINDOW: Duration = Duration::from_secs(60);

/// Greets, within a per-key rate limit.
#[plugin]
pub struct Greet {
    http: Http,
    state: State,
}

/// Whom to greet.
#[model]
pub struct Hello {
    /// Defaults to `world`.
    #[validate(length(min = 1, max = 50))]
    pub name: Option<String>,
}

/// The greeting and what is left of the window.
#[model]
pub struct Greeting {
    /// `Hello, <name>!`.
    pub greeting: String,
    /// Requests left for this key in the current window.
    pub remaining: i64,
}

impl Plugin for Greet {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::get("/greetings/hello").tag("greetings");
        self.http.route(route, &self, Self::hello)?;
        Ok(())
    }
}

impl Greet {
    async fn hello(self: Arc<Self>, req: Hello, ctx: Ctx) -> HttpResult<Greeting> {
        let key = ctx
            .header("x-api-key")
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| HttpError::bad_request("send your API key in the X-Api-Key header"))?;
        let used = self
            .state
            .namespace("greetings_rate")
            .increment(&key, 1, Some(WINDOW))
            .await?;
        if used > LIMIT {
            return Err(HttpError::too_many_requests(
                "rate limit reached: 3 requests per minute per API key",
            ));
        }
        let name = req.name.unwrap_or_else(|| "world".to_owned());
        Ok(Greeting {
            greeting: format!("Hello, {name}!"),
            remaining: LIMIT - used,
        })
    }
}
