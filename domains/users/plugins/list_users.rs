//! `GET /users?limit&offset`: a page of accounts, for signed-in users.
//!
//! Shows ids and names only: any signed-in user may list accounts, so the
//! list must not hand out every email address. A user's own email is on
//! `GET /users/me`.

use microcore::prelude::*;

/// Lists users a page at a time.
#[plugin]
pub struct ListUsers {
    http: Http,
    db: Db,
}

/// Paging.
#[model]
pub struct Page {
    /// 1 to 100; default 50.
    #[validate(range(min = 1, max = 100))]
    #[serde(default = "default_limit")]
    pub limit: i64,
    /// Rows to skip; default 0.
    #[validate(range(min = 0))]
    #[serde(default)]
    pub offset: i64,
}

fn default_limit() -> i64 {
    50
}

/// An account as other users see it in the list: no email.
#[model]
pub struct UserSummary {
    /// Primary key.
    pub id: i64,
    /// Display name.
    pub name: String,
}

/// One page of users.
#[model]
pub struct UserPage {
    /// The users, by id.
    pub users: Vec<UserSummary>,
    /// The limit applied.
    pub limit: i64,
    /// The offset applied.
    pub offset: i64,
}

impl Plugin for ListUsers {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::get("/users")
            .tag("Users")
            .summary("List users")
            .auth();
        self.http.route(route, &self, Self::list)?;
        Ok(())
    }
}

impl ListUsers {
    async fn list(self: Arc<Self>, page: Page, _: Ctx) -> HttpResult<UserPage> {
        let users = self
            .db
            .query(
                "SELECT id, name FROM users ORDER BY id LIMIT $1 OFFSET $2",
                params![page.limit, page.offset],
            )
            .await?;
        Ok(UserPage {
            users,
            limit: page.limit,
            offset: page.offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    #[tokio::test]
    async fn pages_through_users_and_rejects_out_of_range_limits() {
        let app = testing::boot::<ListUsers>().await;
        for i in 0..3 {
            app.db()
                .execute(
                    "INSERT INTO users (name, email, password_hash) VALUES ($1, $2, 'h')",
                    params![format!("u{i}"), format!("u{i}@example.com")],
                )
                .await
                .unwrap();
        }
        let token = app.auth().create_token(1, json!({}), None).unwrap();
        let page = app
            .http()
            .call(TestRequest::get("/users?limit=2&offset=1").bearer(&token))
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        let names: Vec<_> = page.body["data"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].clone())
            .collect();
        assert_eq!(names, [json!("u1"), json!("u2")]);
        assert!(
            !page.text.contains("@example.com"),
            "the list does not hand out emails: {}",
            page.text
        );
        assert_eq!(
            app.http()
                .call(TestRequest::get("/users?limit=0").bearer(&token))
                .await
                .status,
            422
        );
        assert_eq!(
            app.http()
                .call(TestRequest::get("/users?limit=101").bearer(&token))
                .await
                .status,
            422
        );
        assert_eq!(
            app.http().call(TestRequest::get("/users")).await.status,
            401
        );
    }
}
