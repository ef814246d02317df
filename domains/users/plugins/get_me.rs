//! `GET /users/me`: the authenticated user's own account.

use microcore::prelude::*;

use super::models::User;

/// Shows the caller's account.
#[plugin]
pub struct GetMe {
    http: Http,
    db: Db,
}

impl Plugin for GetMe {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::get("/users/me")
            .tag("Users")
            .summary("The caller's account")
            .auth();
        self.http.route(route, &self, Self::me)?;
        Ok(())
    }
}

impl GetMe {
    async fn me(self: Arc<Self>, _: Empty, ctx: Ctx) -> HttpResult<User> {
        let id = ctx
            .user()?
            .user_id()
            .ok_or_else(|| HttpError::unauthorized("Invalid or expired token"))?;
        self.db
            .query_one(
                "SELECT id, name, email FROM users WHERE id = $1",
                params![id],
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
    async fn the_token_holder_sees_their_own_account() {
        let app = testing::boot::<GetMe>().await;
        let id = app
            .db()
            .execute("INSERT INTO users (name, email, password_hash) VALUES ('Ana', 'ana@example.com', 'h') RETURNING id", params![])
            .await
            .unwrap();
        let token = app.auth().create_token(id, json!({}), None).unwrap();
        let res = app
            .http()
            .call(TestRequest::get("/users/me").bearer(&token))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(
            res.body["data"],
            json!({"id": id, "name": "Ana", "email": "ana@example.com"})
        );
    }

    #[tokio::test]
    async fn no_token_or_a_bad_token_is_401() {
        let app = testing::boot::<GetMe>().await;
        assert_eq!(
            app.http().call(TestRequest::get("/users/me")).await.status,
            401
        );
        assert_eq!(
            app.http()
                .call(TestRequest::get("/users/me").bearer("not.a.token"))
                .await
                .status,
            401
        );
    }
}
