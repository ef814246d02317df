// What a plugin author guesses from AI_CONTEXT.md compiles with the obvious
// meaning: `.auth()` with no argument, `()` as "no input", `HttpError::new`,
// `Raw` bodies, and an SSE stream built from the prelude alone.
use microcore::prelude::*;

microcore::toolset! {}

#[plugin]
pub struct Export {
    http: Http,
}

#[model]
pub struct Tick {
    pub n: u32,
}

impl Plugin for Export {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.http.route(Route::post("/export").auth(), &self, Self::export)?;
        self.http.route(Route::get("/maintenance"), &self, Self::maintenance)?;
        self.http.sse(Route::get("/ticks"), &self, Self::ticks)?;
        Ok(())
    }
}

impl Export {
    async fn export(self: Arc<Self>, _: (), _: Ctx) -> HttpResult<Raw> {
        Ok(Raw::csv("id\n1\n").attachment("export.csv"))
    }

    async fn maintenance(self: Arc<Self>, _: (), _: Ctx) -> HttpResult<()> {
        Err(HttpError::new(503, "back at 14:00"))
    }

    async fn ticks(
        self: Arc<Self>,
        _: (),
        _: Ctx,
    ) -> HttpResult<impl Stream<Item = SseEvent> + use<>> {
        let numbers = stream::iter(1..=3u32).map(|n| SseEvent::json(&Tick { n }).event("tick"));
        let tail = stream::unfold(0u32, |n| async move {
            (n < 2).then(|| (SseEvent::data(n.to_string()).id(n.to_string()), n + 1))
        });
        Ok(numbers.chain(tail))
    }
}

fn main() {}
