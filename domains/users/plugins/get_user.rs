//! `GET /users/{id}`: one account, for signed-in users.

use microcore::prelude::*;

use super::models::{User, UserPath};

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
    async fn get(self: Arc<Self>, path: UserPath, _: Ctx) -> HttpResult<User> {
        self.db
            .query_one(
                "SELECT id, name, email FROM users WHERE id = $1",
                params![path.id],
            )
            .await?
            .ok_or_else(|| HttpError::not_found("user not found"))
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
