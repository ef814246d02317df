// A handler input that is neither a model nor `()` says what to put on it.
use microcore::prelude::*;

microcore::toolset! {}

#[plugin]
pub struct Search {
    http: Http,
}

pub struct Query {
    pub text: String,
}

impl Plugin for Search {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.http.route(Route::get("/search"), &self, Self::search)?;
        Ok(())
    }
}

impl Search {
    async fn search(self: Arc<Self>, q: Query, _: Ctx) -> HttpResult<String> {
        Ok(q.text)
    }
}

fn main() {}
