//! `PUT /users/{id}`: change one's own name or email.

use microcore::prelude::*;

use super::models::User;

/// Updates the caller's own account.
#[plugin]
pub struct UpdateUser {
    http: Http,
    db: Db,
}

/// The id from the path plus the fields to change; at least one of them.
#[model]
// The schema says "at least one of" (`anyOf`), so a client generated from
// `/openapi.json` never sends the empty change the handler refuses with 400.
#[schemars(extend("anyOf" = [
    {"required": ["name"], "properties": {"name": {"type": "string"}}},
    {"required": ["email"], "properties": {"email": {"type": "string"}}}
]))]
pub struct UserChanges {
    /// The user's id (from the path).
    #[validate(range(min = 1))]
    pub id: i64,
    /// New display name.
    #[validate(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// New email address.
    #[validate(email)]
    pub email: Option<String>,
}

/// A user changed their account.
#[event("user.updated")]
pub struct UserUpdated {
    /// The user's id.
    pub id: i64,
    /// The names of the fields that changed.
    pub fields: Vec<String>,
}

impl Plugin for UpdateUser {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::put("/users/{id}")
            .tag("Users")
            .summary("Update one's own account")
            .auth();
        self.http.route(route, &self, Self::update)?;
        Ok(())
    }
}

impl UpdateUser {
    async fn update(self: Arc<Self>, req: UserChanges, ctx: Ctx) -> HttpResult<User> {
        if ctx.user()?.user_id() != Some(req.id) {
            return Err(HttpError::forbidden("you can only change your own account"));
        }
        if req.name.is_none() && req.email.is_none() {
            return Err(HttpError::bad_request(
                "nothing to change: send `name` and/or `email`",
            ));
        }
        let email = req.email.as_deref().map(|e| e.trim().to_lowercase());
        // The change and `user.updated` commit together (the outbox relay publishes it).
        let fields: Vec<String> = [("name", req.name.is_some()), ("email", email.is_some())]
            .into_iter()
            .filter(|(_, changed)| *changed)
            .map(|(f, _)| f.to_owned())
            .collect();
        let id = req.id;
        let user = self
            .db
            .try_transaction(|tx| {
                let (name, email, fields) = (req.name.clone(), email.clone(), fields.clone());
                async move {
                let updated = tx
                    .query_one::<User>(
                        "UPDATE users SET name = COALESCE($1, name), email = COALESCE($2, email) WHERE id = $3 \
                         RETURNING id, name, email",
                        params![name, email, id],
                    )
                    .await;
                let user = match updated {
                    Ok(Some(user)) => user,
                    Ok(None) => return Err(HttpError::not_found("user not found")),
                    Err(e) if e.kind == DbErrorKind::UniqueViolation => {
                        return Err(HttpError::conflict("email already in use"));
                    }
                    Err(e) => return Err(HttpError::from(e)),
                };
                tx.publish(UserUpdated {
                    id: user.id,
                    fields,
                })
                .await?;
                Ok(user)
            }})
            .await?;
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    async fn seeded() -> (microcore::testing::TestApp<crate::Tools>, i64, String) {
        let app = testing::boot::<UpdateUser>().await;
        let db = app.db();
        let ana = db
            .execute("INSERT INTO users (name, email, password_hash) VALUES ('Ana', 'ana@example.com', 'h') RETURNING id", params![])
            .await
            .unwrap();
        db.execute(
            "INSERT INTO users (name, email, password_hash) VALUES ('Bo', 'bo@example.com', 'h')",
            params![],
        )
        .await
        .unwrap();
        let token = app.auth().create_token(ana, json!({}), None).unwrap();
        (app, ana, token)
    }

    #[tokio::test]
    async fn the_owner_renames_themselves_and_user_updated_is_published() {
        let (app, ana, token) = seeded().await;
        let res = app
            .http()
            .call(
                TestRequest::put(format!("/users/{ana}"))
                    .bearer(&token)
                    .json(json!({"name": "Ana María"})),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.body["data"]["name"], "Ana María");
        assert_eq!(app.flush_outbox().await, 1);
        assert_eq!(
            app.published("user.updated"),
            vec![json!({"id": ana, "fields": ["name"]})]
        );
    }

    #[tokio::test]
    async fn someone_else_is_403_nothing_is_400_a_taken_email_is_409() {
        let (app, ana, token) = seeded().await;
        let other = app
            .http()
            .call(
                TestRequest::put(format!("/users/{}", ana + 1))
                    .bearer(&token)
                    .json(json!({"name": "x"})),
            )
            .await;
        assert_eq!(other.status, 403);
        let empty = app
            .http()
            .call(
                TestRequest::put(format!("/users/{ana}"))
                    .bearer(&token)
                    .json(json!({})),
            )
            .await;
        assert_eq!(empty.status, 400);
        let taken = app
            .http()
            .call(
                TestRequest::put(format!("/users/{ana}"))
                    .bearer(&token)
                    .json(json!({"email": "bo@example.com"})),
            )
            .await;
        assert_eq!(taken.status, 409);
        assert_eq!(
            app.flush_outbox().await,
            0,
            "a refused change stores no event"
        );
        assert!(app.published("user.updated").is_empty());
    }
}
