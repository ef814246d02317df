//! `POST /auth/login`: exchange email and password for a token, with
//! throttling of repeated failures per email.

use microcore::prelude::*;

/// Logs a user in.
#[plugin]
pub struct Login {
    http: Http,
    db: Db,
    auth: Auth,
    state: State,
}

/// Credentials.
#[model]
pub struct Credentials {
    /// The account's email.
    #[validate(length(min = 1, max = 254))]
    pub email: String,
    /// The account's password.
    #[validate(length(min = 1, max = 128))]
    pub password: String,
}

/// A bearer token; it is also set as the `access_token` cookie.
#[model]
pub struct Token {
    /// The JWT.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

#[model]
struct Account {
    id: i64,
    email: String,
    password_hash: String,
}

/// Failed attempts allowed per email within [`WINDOW`].
const MAX_FAILURES: i64 = 5;
/// The fixed throttling window.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Token lifetime.
const TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

impl Plugin for Login {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.http.route(
            Route::post("/auth/login").tag("Auth").summary("Log in"),
            &self,
            Self::login,
        )?;
        Ok(())
    }
}

impl Login {
    async fn login(self: Arc<Self>, req: Credentials, ctx: Ctx) -> HttpResult<Token> {
        let email = req.email.trim().to_lowercase();
        let throttle = self.state.namespace("login_throttle");
        if throttle.get::<i64>(&email).await?.unwrap_or(0) >= MAX_FAILURES {
            return Err(HttpError::too_many_requests(
                "too many failed logins; try again later",
            ));
        }
        let account: Option<Account> = self
            .db
            .query_one(
                "SELECT id, email, password_hash FROM users WHERE email = $1",
                params![email.clone()],
            )
            .await?;
        let verified = match &account {
            Some(a) => {
                self.auth
                    .verify_password(&req.password, &a.password_hash)
                    .await?
            }
            None => false,
        };
        let Some(account) = account.filter(|_| verified) else {
            throttle.increment(&email, 1, Some(WINDOW)).await?;
            return Err(HttpError::unauthorized("invalid email or password"));
        };
        throttle.delete(&email).await?;
        let token =
            self.auth
                .create_token(account.id, json!({"email": account.email}), Some(TOKEN_TTL))?;
        ctx.set_cookie(Cookie::new("access_token", token.clone()).max_age(TOKEN_TTL));
        Ok(Token {
            access_token: token,
            token_type: "bearer".into(),
            expires_in: TOKEN_TTL.as_secs(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing::{self, TestRequest};

    async fn app_with_ana() -> microcore::testing::TestApp<crate::Tools> {
        let app = testing::boot::<Login>().await;
        let hash = app.auth().hash_password("correct horse").await.unwrap();
        app.db()
            .execute(
                "INSERT INTO users (name, email, password_hash) VALUES ($1, $2, $3)",
                params!["Ana", "ana@example.com", hash],
            )
            .await
            .unwrap();
        app
    }

    fn login(password: &str) -> TestRequest {
        TestRequest::post("/auth/login")
            .json(json!({"email": "ANA@example.com", "password": password}))
    }

    #[tokio::test]
    async fn right_credentials_give_a_valid_token_and_cookie() {
        let app = app_with_ana().await;
        let res = app.http().call(login("correct horse")).await;
        assert_eq!(res.status, 200, "{}", res.text);
        let token = res.body["data"]["access_token"].as_str().unwrap();
        let claims = app.auth().decode_token(token).unwrap();
        assert_eq!(claims.get_str("email"), Some("ana@example.com"));
        let cookie = res.header("set-cookie").unwrap_or_default();
        assert!(
            cookie.starts_with("access_token=") && cookie.contains("HttpOnly"),
            "{cookie}"
        );
    }

    #[tokio::test]
    async fn wrong_password_and_unknown_email_look_the_same() {
        let app = app_with_ana().await;
        let wrong = app.http().call(login("wrong password")).await;
        let unknown = app
            .http()
            .call(
                TestRequest::post("/auth/login")
                    .json(json!({"email": "bob@example.com", "password": "x"})),
            )
            .await;
        assert_eq!((wrong.status, unknown.status), (401, 401));
        assert_eq!(wrong.body, unknown.body);
        assert_eq!(wrong.body["error"], "invalid email or password");
    }

    #[tokio::test]
    async fn five_failures_throttle_even_the_right_password() {
        let app = app_with_ana().await;
        for _ in 0..5 {
            assert_eq!(app.http().call(login("nope")).await.status, 401);
        }
        assert_eq!(app.http().call(login("correct horse")).await.status, 429);
    }

    #[tokio::test]
    async fn a_correct_login_resets_the_failure_count() {
        let app = app_with_ana().await;
        for _ in 0..4 {
            app.http().call(login("nope")).await;
        }
        assert_eq!(app.http().call(login("correct horse")).await.status, 200);
        for _ in 0..4 {
            app.http().call(login("nope")).await;
        }
        assert_eq!(app.http().call(login("correct horse")).await.status, 200);
    }
}
