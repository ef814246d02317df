//! Wiki pages with optimistic concurrency: an update names the version it
//! was based on and fails with 409 if the page moved on since.

use microcore::prelude::*;

/// Creates, reads and updates wiki pages.
#[plugin]
pub struct Pages {
    http: Http,
    db: Db,
}

/// A page.
#[model]
pub struct Page {
    /// Its address: lower-case letters, digits and `-`.
    #[validate(length(min = 1, max = 64))]
    pub slug: String,
    /// Its text.
    #[validate(length(max = 10000))]
    pub body: String,
    /// Starts at 1, one more per update.
    pub version: i64,
}

/// A page to create.
#[model]
pub struct NewPage {
    /// Lower-case letters, digits and `-`, 1 to 64 characters.
    #[validate(length(min = 1, max = 64))]
    pub slug: String,
    /// At most 10000 characters.
    #[validate(length(max = 10000))]
    pub body: String,
}

/// The slug in the path.
#[model]
pub struct PagePath {
    /// The page's slug.
    pub slug: String,
}

/// An update based on a version.
#[model]
pub struct PageUpdate {
    /// The page's slug (from the path).
    pub slug: String,
    /// The new text.
    #[validate(length(max = 10000))]
    pub body: String,
    /// The version the change was based on.
    pub version: i64,
}

impl Plugin for Pages {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let create = Route::post("/wiki/pages").tag("wiki").status(201);
        self.http.route(create, &self, Self::create)?;
        self.http.route(
            Route::get("/wiki/pages/{slug}").tag("wiki"),
            &self,
            Self::get,
        )?;
        self.http.route(
            Route::put("/wiki/pages/{slug}").tag("wiki"),
            &self,
            Self::update,
        )?;
        Ok(())
    }
}

impl Pages {
    async fn create(self: Arc<Self>, req: NewPage, _: Ctx) -> HttpResult<Page> {
        let valid = req
            .slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            return Err(HttpError::unprocessable(
                "slug: only lower-case letters, digits and `-`",
            ));
        }
        let inserted = self
            .db
            .execute(
                "INSERT INTO wiki_pages (slug, body, version) VALUES ($1, $2, 1)",
                params![req.slug.clone(), req.body.clone()],
            )
            .await;
        match inserted {
            Ok(_) => Ok(Page {
                slug: req.slug,
                body: req.body,
                version: 1,
            }),
            Err(e) if e.kind == DbErrorKind::UniqueViolation => {
                Err(HttpError::conflict("a page with this slug already exists"))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get(self: Arc<Self>, req: PagePath, _: Ctx) -> HttpResult<Page> {
        self.db
            .query_one(
                "SELECT slug, body, version FROM wiki_pages WHERE slug = $1",
                params![req.slug],
            )
            .await?
            .ok_or_else(|| HttpError::not_found("page not found"))
    }

    async fn update(self: Arc<Self>, req: PageUpdate, _: Ctx) -> HttpResult<Page> {
        let updated: Option<Page> = self
            .db
            .query_one(
                "UPDATE wiki_pages SET body = $1, version = version + 1 \
                 WHERE slug = $2 AND version = $3 RETURNING slug, body, version",
                params![req.body, req.slug.clone(), req.version],
            )
            .await?;
        if let Some(page) = updated {
            return Ok(page);
        }
        let exists: Option<Page> = self
            .db
            .query_one(
                "SELECT slug, body, version FROM wiki_pages WHERE slug = $1",
                params![req.slug],
            )
            .await?;
        Err(match exists {
            Some(page) => HttpError::conflict(format!(
                "the page changed: it is at version {}, reload and retry",
                page.version
            )),
            None => HttpError::not_found("page not found"),
        })
    }
}
