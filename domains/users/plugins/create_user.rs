//! `POST /users`: sign up. Validates, hashes the password, and inserts the
//! user and `user.created` in one transaction (the outbox relay publishes it).

use microcore::prelude::*;

use super::models::User;

/// Creates a user account.
#[plugin]
pub struct CreateUser {
    http: Http,
    db: Db,
    auth: Auth,
    logger: Logger,
}

/// What a new user sends.
#[model]
pub struct NewUser {
    /// Display name.
    #[validate(length(min = 1, max = 100))]
    pub name: String,
    /// Email address; stored lower-cased, unique.
    #[validate(email)]
    pub email: String,
    /// At least 8 characters.
    #[validate(length(min = 8, max = 128))]
    pub password: String,
}

/// A user account was created.
#[event("user.created")]
pub struct UserCreated {
    /// The new user's id.
    pub id: i64,
    /// The new user's email.
    pub email: String,
}

impl Plugin for CreateUser {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::post("/users")
            .tag("Users")
            .summary("Create a user")
            .status(201);
        self.http.route(route, &self, Self::create)?;
        Ok(())
    }
}

impl CreateUser {
    async fn create(self: Arc<Self>, req: NewUser, ctx: Ctx) -> HttpResult<User> {
        let email = req.email.trim().to_lowercase();
        // Checked before hashing, so a replayed sign-up costs a lookup, not an
        // argon2 run; the unique index still settles a race between two.
        let taken: Option<serde_json::Value> = self
            .db
            .query_one(
                "SELECT 1 AS taken FROM users WHERE email = $1",
                params![email.clone()],
            )
            .await?;
        if taken.is_some() {
            return Err(HttpError::conflict("email already in use"));
        }
        let hash = self.auth.hash_password(&req.password).await.map_err(|e| {
            if !e.is_unavailable() {
                return HttpError::from(e);
            }
            ctx.set_header("retry-after", "1");
            HttpError::status(503, "the server is busy hashing passwords; retry shortly")
        })?;
        // The row and `user.created` commit together: a shutdown, a timeout or
        // a crash after the commit cannot leave a user nobody is told about.
        // The closure may run again on a conflict: it clones what it moves.
        let id = self
            .db
            .try_transaction(|tx| {
                let (name, email, hash) = (req.name.clone(), email.clone(), hash.clone());
                async move {
                    let inserted = tx
                        .execute(
                            "INSERT INTO users (name, email, password_hash) VALUES ($1, $2, $3) RETURNING id",
                            params![name, email.clone(), hash],
                        )
                        .await;
                    let id = match inserted {
                        Ok(id) => id,
                        Err(e) if e.kind == DbErrorKind::UniqueViolation => {
                            return Err(HttpError::conflict("email already in use"));
                        }
                        Err(e) => return Err(HttpError::from(e)),
                    };
                    tx.publish(UserCreated { id, email }).await?;
                    Ok(id)
                }
            })
            .await?;
        self.logger.info(format!("user {id} created"));
        Ok(User {
            id,
            name: req.name,
            email,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    fn ana() -> serde_json::Value {
        json!({"name": "Ana", "email": "Ana@Example.com", "password": "correct horse"})
    }

    #[tokio::test]
    async fn creates_the_user_and_publishes_user_created() {
        let app = testing::boot::<CreateUser>().await;
        let res = app
            .http()
            .call(TestRequest::post("/users").json(ana()))
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        assert_eq!(
            app.flush_outbox().await,
            1,
            "user.created is stored with the user"
        );
        assert_eq!(res.body["data"]["email"], "ana@example.com");
        let id = res.body["data"]["id"].as_i64().expect("an id");
        let stored: Vec<serde_json::Value> = app
            .db()
            .query(
                "SELECT email, password_hash FROM users WHERE id = $1",
                params![id],
            )
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(
            stored[0]["password_hash"], "correct horse",
            "the password is stored hashed"
        );
        assert_eq!(
            app.published("user.created"),
            vec![json!({"id": id, "email": "ana@example.com"})]
        );
        assert!(
            !res.text.contains("password"),
            "the response never carries the password or its hash"
        );
    }

    #[tokio::test]
    async fn the_request_id_becomes_the_events_parent() {
        let app = testing::boot::<CreateUser>().await;
        let req = TestRequest::post("/users")
            .header("x-request-id", "req-42")
            .json(ana());
        assert_eq!(app.http().call(req).await.status, 201);
        app.flush_outbox().await;
        let published = app
            .bus()
            .trace_history()
            .into_iter()
            .find(|n| n.envelope.event == "user.created")
            .unwrap();
        assert_eq!(published.envelope.parent_id.as_deref(), Some("req-42"));
        assert_eq!(published.envelope.emitter, "users.CreateUser.create");
    }

    #[tokio::test]
    async fn a_duplicate_email_is_409_and_publishes_nothing_more() {
        let app = testing::boot::<CreateUser>().await;
        assert_eq!(
            app.http()
                .call(TestRequest::post("/users").json(ana()))
                .await
                .status,
            201
        );
        let again = app
            .http()
            .call(TestRequest::post("/users").json(ana()))
            .await;
        assert_eq!(again.status, 409);
        app.flush_outbox().await;
        assert_eq!(
            again.body,
            json!({"success": false, "error": "email already in use"})
        );
        assert_eq!(app.published("user.created").len(), 1);
    }

    #[tokio::test]
    async fn invalid_input_is_422_naming_the_field() {
        let app = testing::boot::<CreateUser>().await;
        let res = app
            .http()
            .call(
                TestRequest::post("/users")
                    .json(json!({"name": "Ana", "email": "not-an-email", "password": "x"})),
            )
            .await;
        assert_eq!(res.status, 422);
        assert_eq!(res.body["success"], false);
        let details = res.body["details"].to_string();
        assert!(
            details.contains("email") && details.contains("password"),
            "{details}"
        );
    }
}
