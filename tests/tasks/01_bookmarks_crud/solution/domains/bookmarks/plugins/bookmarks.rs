//! Bookmarks: create, read, list and delete, with validated input.

use microcore::prelude::*;

/// Create, read, list and delete bookmarks.
#[plugin]
pub struct Bookmarks {
    http: Http,
    db: Db,
}

/// What a client sends to create a bookmark.
#[model]
pub struct NewBookmark {
    /// An http(s) address.
    #[validate(length(min = 1, max = 2000))]
    pub url: String,
    /// 1 to 200 characters.
    #[validate(length(min = 1, max = 200))]
    pub title: String,
}

/// A stored bookmark.
#[model]
pub struct Bookmark {
    /// Its id.
    pub id: i64,
    /// Its address.
    pub url: String,
    /// Its title.
    pub title: String,
}

/// The id in the path.
#[model]
pub struct BookmarkPath {
    /// The bookmark's id.
    pub id: i64,
}

/// Every bookmark, oldest first.
#[model]
pub struct BookmarkList {
    /// The bookmarks.
    pub bookmarks: Vec<Bookmark>,
}

/// The deleted bookmark's id.
#[model]
pub struct Deleted {
    /// Its id.
    pub id: i64,
}

impl Plugin for Bookmarks {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let tag = "bookmarks";
        let create = Route::post("/bookmarks").tag(tag).status(201);
        self.http.route(create, &self, Self::create)?;
        self.http
            .route(Route::get("/bookmarks").tag(tag), &self, Self::list)?;
        self.http
            .route(Route::get("/bookmarks/{id}").tag(tag), &self, Self::get)?;
        self.http.route(
            Route::delete("/bookmarks/{id}").tag(tag),
            &self,
            Self::delete,
        )?;
        Ok(())
    }
}

impl Bookmarks {
    async fn create(self: Arc<Self>, req: NewBookmark, _: Ctx) -> HttpResult<Bookmark> {
        if !(req.url.starts_with("http://") || req.url.starts_with("https://")) {
            return Err(HttpError::unprocessable(
                "url: must start with http:// or https://",
            ));
        }
        let id = self
            .db
            .execute(
                "INSERT INTO bookmarks (url, title) VALUES ($1, $2) RETURNING id",
                params![req.url.clone(), req.title.clone()],
            )
            .await?;
        Ok(Bookmark {
            id,
            url: req.url,
            title: req.title,
        })
    }

    async fn get(self: Arc<Self>, req: BookmarkPath, _: Ctx) -> HttpResult<Bookmark> {
        self.db
            .query_one(
                "SELECT id, url, title FROM bookmarks WHERE id = $1",
                params![req.id],
            )
            .await?
            .ok_or_else(|| HttpError::not_found("bookmark not found"))
    }

    async fn list(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<BookmarkList> {
        let bookmarks = self
            .db
            .query(
                "SELECT id, url, title FROM bookmarks ORDER BY id",
                params![],
            )
            .await?;
        Ok(BookmarkList { bookmarks })
    }

    async fn delete(self: Arc<Self>, req: BookmarkPath, _: Ctx) -> HttpResult<Deleted> {
        let gone = self
            .db
            .execute("DELETE FROM bookmarks WHERE id = $1", params![req.id])
            .await?;
        if gone == 0 {
            return Err(HttpError::not_found("bookmark not found"));
        }
        Ok(Deleted { id: req.id })
    }
}
