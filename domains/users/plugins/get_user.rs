//! `GET /users/{id}`: one account, for signed-in users.
//!
//! The email is shown only on one's own account: ids are sequential, so
//! showing it to anyone would hand out every address one id at a time.

use microcore::prelude::*;

use super::models::{User, UserPath};

/// An account as a signed-in user sees it; `email` only on their own.
#[model]
pub struct ShownUser {
    /// Primary key.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The email, present only when the account is the caller's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Shows one user by id.
#[plugin]
pub struct GetUser {
    http: Http,
    db: Db,
}

impl Plugin for GetUser {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::get("/users/{id}")
            .tag("Users")
            .summary("One user by id")
            .auth();
        self.http.route(route, &self, Self::get)?;
        Ok(())
    }
}

impl GetUser {
    async fn get(self: Arc<Self>, path: UserPath, ctx: Ctx) -> HttpResult<ShownUser> {
        let own = ctx.user()?.user_id() == Some(path.id);
        let user: User = self
            .db
            .query_one(
                "SELECT id, name, email FROM users WHERE id = $1",
                params![path.id],
            )
            .await?
            .ok_or_else(|| HttpError::not_found("user not found"))?;
        Ok(ShownUser {
            id: user.id,
            name: user.name,
            email: own.then_some(user.email),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    #[tokio::test]
    async fn finds_by_id_and_404s_on_a_missing_id() {
        let app = testing::boot::<GetUser>().await;
        let id = app
            .db()
            .execute("INSERT INTO users (name, email, password_hash) VALUES ('Bo', 'bo@example.com', 'h') RETURNING id", params![])
            .await
            .unwrap();
        let token = app.auth().create_token(id, json!({}), None).unwrap();
        let found = app
            .http()
            .call(TestRequest::get(format!("/users/{id}")).bearer(&token))
            .await;
        assert_eq!(found.status, 200, "{}", found.text);
        assert_eq!(found.body["data"]["name"], "Bo");
        assert_eq!(
            found.body["data"]["email"], "bo@example.com",
            "one's own email"
        );
        let someone = app.auth().create_token(id + 1, json!({}), None).unwrap();
        let seen = app
            .http()
            .call(TestRequest::get(format!("/users/{id}")).bearer(&someone))
            .await;
        assert_eq!(seen.status, 200, "{}", seen.text);
        assert_eq!(seen.body["data"]["name"], "Bo");
        assert!(
            !seen.text.contains("bo@example.com"),
            "another user's email is not shown: {}",
            seen.text
        );
        let missing = app
            .http()
            .call(TestRequest::get("/users/999").bearer(&token))
            .await;
        assert_eq!(missing.status, 404);
        let bad = app
            .http()
            .call(TestRequest::get("/users/abc").bearer(&token))
            .await;
        assert_eq!(
            bad.status, 422,
            "a non-numeric id is a validation error, not a 500"
        );
    }
}
