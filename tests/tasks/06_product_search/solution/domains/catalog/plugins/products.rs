//! Catalog products: add one, and search names by substring with `%`, `_`
//! and `\` taken literally.

use microcore::prelude::*;

/// Adds and searches products.
#[plugin]
pub struct Products {
    http: Http,
    db: Db,
}

/// A product to add.
#[model]
pub struct NewProduct {
    /// 1 to 200 characters.
    #[validate(length(min = 1, max = 200))]
    pub name: String,
    /// Price in cents, 0 or more.
    #[validate(range(min = 0))]
    pub price_cents: i64,
}

/// A stored product.
#[model]
pub struct Product {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its price in cents.
    pub price_cents: i64,
}

/// A search.
#[model]
pub struct Search {
    /// The text names must contain, any case.
    #[validate(length(min = 1, max = 100))]
    pub q: String,
}

/// Matching products, sorted by name.
#[model]
pub struct SearchResults {
    /// The products.
    pub products: Vec<Product>,
}

impl Plugin for Products {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let add = Route::post("/catalog/products").tag("catalog").status(201);
        self.http.route(add, &self, Self::add)?;
        let search = Route::get("/catalog/search").tag("catalog");
        self.http.route(search, &self, Self::search)?;
        Ok(())
    }
}

impl Products {
    async fn add(self: Arc<Self>, req: NewProduct, _: Ctx) -> HttpResult<Product> {
        let id = self
            .db
            .execute(
                "INSERT INTO catalog_products (name, price_cents) VALUES ($1, $2) RETURNING id",
                params![req.name.clone(), req.price_cents],
            )
            .await?;
        Ok(Product {
            id,
            name: req.name,
            price_cents: req.price_cents,
        })
    }

    async fn search(self: Arc<Self>, req: Search, _: Ctx) -> HttpResult<SearchResults> {
        let pattern = format!("%{}%", escape_like(&req.q.to_lowercase()));
        let products = self
            .db
            .query(
                "SELECT id, name, price_cents FROM catalog_products \
                 WHERE LOWER(name) LIKE $1 ESCAPE '\\' ORDER BY name, id",
                params![pattern],
            )
            .await?;
        Ok(SearchResults { products })
    }
}

/// `text` with LIKE's wildcards and the escape character escaped.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
