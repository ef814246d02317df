//! Feed posts: write one, read them newest first a page at a time with a
//! keyset cursor, so new posts never shift later pages.

use microcore::prelude::*;

/// What every cursor starts with, so a forged one is told apart.
const CURSOR_PREFIX: &str = "before-";

/// Writes and pages through posts.
#[plugin]
pub struct Posts {
    http: Http,
    db: Db,
}

/// A post to write.
#[model]
pub struct NewPost {
    /// 1 to 280 characters.
    #[validate(length(min = 1, max = 280))]
    pub text: String,
}

/// A post.
#[model]
pub struct Post {
    /// Its id.
    pub id: i64,
    /// Its text.
    pub text: String,
}

/// Which page.
#[model]
pub struct PageRequest {
    /// 1 to 100, default 20.
    #[validate(range(min = 1, max = 100))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page, newest first.
#[model]
pub struct PostPage {
    /// The posts.
    pub posts: Vec<Post>,
    /// The cursor of the next page, or null on the last.
    pub next_cursor: Option<String>,
}

impl Plugin for Posts {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let write = Route::post("/feed/posts").tag("feed").status(201);
        self.http.route(write, &self, Self::write)?;
        self.http
            .route(Route::get("/feed/posts").tag("feed"), &self, Self::page)?;
        Ok(())
    }
}

impl Posts {
    async fn write(self: Arc<Self>, req: NewPost, _: Ctx) -> HttpResult<Post> {
        let id = self
            .db
            .execute(
                "INSERT INTO feed_posts (text) VALUES ($1) RETURNING id",
                params![req.text.clone()],
            )
            .await?;
        Ok(Post { id, text: req.text })
    }

    async fn page(self: Arc<Self>, req: PageRequest, _: Ctx) -> HttpResult<PostPage> {
        let limit = req.limit.unwrap_or(20);
        let before = match &req.cursor {
            None => i64::MAX,
            Some(c) => c
                .strip_prefix(CURSOR_PREFIX)
                .and_then(|id| id.parse::<i64>().ok())
                .ok_or_else(|| HttpError::bad_request("cursor: not a cursor from this endpoint"))?,
        };
        let mut posts: Vec<Post> = self
            .db
            .query(
                "SELECT id, text FROM feed_posts WHERE id < $1 ORDER BY id DESC LIMIT $2",
                params![before, limit + 1],
            )
            .await?;
        let more = posts.len() as i64 > limit;
        posts.truncate(limit as usize);
        let next_cursor = match posts.last() {
            Some(last) if more => Some(format!("{CURSOR_PREFIX}{}", last.id)),
            _ => None,
        };
        Ok(PostPage { posts, next_cursor })
    }
}
