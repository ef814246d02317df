//! `POST /auth/login`: exchange email and password for a token, with
//! throttling of repeated failures per email.
//!
//! The token's `sub` is the user id as text and it carries one extra claim,
//! `email`; it lives `AUTH_TOKEN_EXPIRE_MINUTES`. Every attempt costs the same
//! whether the email exists or not (an unknown email is checked against a
//! dummy hash), so neither the answer nor its timing tells which accounts
//! exist. The throttle counts each attempt atomically *before* the password is
//! checked, so parallel guesses cannot all slip under the limit, and keys its
//! counters by a keyed hash of the email, never the email itself.

use std::num::NonZeroU32;
use std::sync::OnceLock;

use microcore::AuthError;
use microcore::prelude::*;

/// Logs a user in.
#[plugin]
pub struct Login {
    http: Http,
    db: Db,
    auth: Auth,
    state: State,
    config: Config,
    /// The throttle's limits, read once at boot, before the route exists.
    #[state]
    throttle: OnceLock<Throttle>,
}

/// An argon2id hash with the auth tool's parameters, of a password nobody
/// has: unknown emails are verified against it, so they cost what a known
/// one does. A constant, not a hash made at boot: the salt need be neither
/// fresh nor secret, and boot should not pay an argon2 run for it.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$hWwclczqZ3itHXB5xYJMxg$a/VULPfOVnPSTnfM/Zesvf/8siK4onZywDa6O0ADgFk";

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

/// Failed logins allowed per email within the window, unless
/// `LOGIN_THROTTLE_MAX_FAILURES` says otherwise.
const MAX_FAILURES: u32 = 5;
/// The fixed throttling window in seconds, counted from an email's first
/// failure, unless `LOGIN_THROTTLE_WINDOW_SECS` says otherwise.
const WINDOW_SECS: u32 = 15 * 60;

/// How many failed logins an email gets within a fixed window before even the
/// right password is refused with 429, until the window ends.
#[derive(Clone, Copy, Debug)]
struct Throttle {
    max_failures: i64,
    window: Duration,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            max_failures: MAX_FAILURES.into(),
            window: Duration::from_secs(WINDOW_SECS.into()),
        }
    }
}

impl Throttle {
    /// Reads the settings; a value that is not a whole number of at least 1
    /// fails boot, naming the setting.
    fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let max = config.parse::<NonZeroU32>("LOGIN_THROTTLE_MAX_FAILURES")?;
        let window = config.parse::<NonZeroU32>("LOGIN_THROTTLE_WINDOW_SECS")?;
        let unset = Self::default();
        Ok(Self {
            max_failures: max.map_or(unset.max_failures, |n| n.get().into()),
            window: window.map_or(unset.window, |n| Duration::from_secs(n.get().into())),
        })
    }
}

impl Plugin for Login {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let throttle = Throttle::from_config(&self.config)?;
        self.throttle.get_or_init(|| throttle);
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
        let limits = self.throttle.get().copied().unwrap_or_default();
        let throttle = self.state.namespace("login_throttle");
        let key = self.auth.keyed_hash(&email)?;
        // Counted before the password is checked, atomically: with N guesses
        // in flight only the first `max_failures` get to be verified.
        let attempts = throttle.increment(&key, 1, Some(limits.window)).await?;
        let ends_key = format!("{key}:ends");
        if attempts == 1 {
            // The window opens now; its end is kept for `Retry-After`.
            let ends = unix_secs() + limits.window.as_secs();
            throttle.set(&ends_key, ends, Some(limits.window)).await?;
        }
        if attempts > limits.max_failures {
            let ends: Option<u64> = throttle.get(&ends_key).await?;
            // Unknown end (a racing first attempt): the whole window, never too soon.
            let wait = ends.map_or(limits.window.as_secs(), |e| e.saturating_sub(unix_secs()));
            ctx.set_header("retry-after", &wait.max(1).to_string());
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
        let hash = match &account {
            Some(a) => a.password_hash.clone(),
            // An unknown email is refused even if this matched.
            None => DUMMY_HASH.to_owned(),
        };
        let verified = self
            .auth
            .verify_password(&req.password, &hash)
            .await
            .map_err(|e| unavailable(&ctx, e))?;
        let Some(account) = account.filter(|_| verified) else {
            return Err(HttpError::unauthorized("invalid email or password"));
        };
        throttle.delete(&key).await?;
        throttle.delete(&ends_key).await?;
        let ttl = self.auth.default_ttl();
        let token = self
            .auth
            .create_token(account.id, json!({"email": account.email}), None)?;
        ctx.set_cookie(Cookie::new("access_token", token.clone()).max_age(ttl));
        Ok(Token {
            access_token: token,
            token_type: "bearer".into(),
            expires_in: ttl.as_secs(),
        })
    }
}

/// Seconds since the Unix epoch: the throttle window's end is shared by every
/// replica through `state`, so it is wall-clock time, not an `Instant`.
fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A full password hashing queue is a 503 the client may retry shortly.
fn unavailable(ctx: &Ctx, e: AuthError) -> HttpError {
    if !e.is_unavailable() {
        return e.into();
    }
    ctx.set_header("retry-after", "1");
    HttpError::status(503, "the server is busy checking passwords; retry shortly")
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::PluginStatus;
    use microcore::testing::{TestApp, TestRequest};

    async fn app_with_ana() -> TestApp<crate::Tools> {
        app_with_ana_and(&[]).await
    }

    /// Ana's account, on an app booted with these settings.
    async fn app_with_ana_and(settings: &[(&str, &str)]) -> TestApp<crate::Tools> {
        let app = settings
            .iter()
            .fold(TestApp::builder().plugin::<Login>(), |b, (k, v)| {
                b.env(k, v)
            })
            .boot()
            .await;
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
    async fn a_throttled_login_says_when_to_retry_the_seconds_left_in_the_window() {
        let app = app_with_ana_and(&[("LOGIN_THROTTLE_WINDOW_SECS", "600")]).await;
        for _ in 0..5 {
            app.http().call(login("nope")).await;
        }
        let res = app.http().call(login("correct horse")).await;
        assert_eq!(res.status, 429, "{}", res.text);
        let wait: u64 = res.header("retry-after").unwrap().parse().unwrap();
        assert!((590..=600).contains(&wait), "Retry-After: {wait}");
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

    #[tokio::test]
    async fn the_throttle_ends_with_its_window() {
        // One failure allowed, so a single password check (slow in a debug
        // build on a loaded machine) has the whole 2 s window to fit in.
        let app = app_with_ana_and(&[
            ("LOGIN_THROTTLE_WINDOW_SECS", "2"),
            ("LOGIN_THROTTLE_MAX_FAILURES", "1"),
        ])
        .await;
        let window_opened = tokio::time::Instant::now();
        assert_eq!(app.http().call(login("nope")).await.status, 401);
        assert_eq!(app.http().call(login("correct horse")).await.status, 429);
        // The window running out is the behaviour under test: wait it out.
        tokio::time::sleep_until(window_opened + Duration::from_millis(2500)).await;
        let res = app.http().call(login("correct horse")).await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(
            app.http().call(login("nope")).await.status,
            401,
            "a new window starts counting from zero"
        );
    }

    #[tokio::test]
    async fn the_number_of_failures_allowed_is_a_setting() {
        let app = app_with_ana_and(&[("LOGIN_THROTTLE_MAX_FAILURES", "2")]).await;
        for _ in 0..2 {
            assert_eq!(app.http().call(login("nope")).await.status, 401);
        }
        assert_eq!(app.http().call(login("correct horse")).await.status, 429);
    }

    #[tokio::test]
    async fn a_bad_throttle_setting_fails_boot_naming_it() {
        for (key, value) in [
            ("LOGIN_THROTTLE_WINDOW_SECS", "0"),
            ("LOGIN_THROTTLE_WINDOW_SECS", "15m"),
            ("LOGIN_THROTTLE_MAX_FAILURES", "0"),
            ("LOGIN_THROTTLE_MAX_FAILURES", "-1"),
        ] {
            let app = TestApp::builder()
                .plugin::<Login>()
                .env(key, value)
                .boot()
                .await;
            let status = app.status();
            let plugin = status.plugins.iter().find(|p| p.name == "users.Login");
            let plugin = plugin.expect("users.Login is recorded");
            assert_eq!(plugin.status, PluginStatus::Dead, "{key}={value}");
            let why = plugin.error.as_deref().unwrap_or_default();
            assert!(
                why.contains(&format!("{key}=")) && why.contains("at least 1"),
                "the reason names the setting and the fix: {why}"
            );
            assert_eq!(app.http().call(login("correct horse")).await.status, 404);
        }
    }

    #[tokio::test]
    async fn the_token_lives_as_long_as_auth_token_expire_minutes_says() {
        let app = app_with_ana_and(&[("AUTH_TOKEN_EXPIRE_MINUTES", "5")]).await;
        let res = app.http().call(login("correct horse")).await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.body["data"]["expires_in"], 300);
        let token = res.body["data"]["access_token"].as_str().unwrap();
        let claims = app.auth().decode_token(token).unwrap();
        assert_eq!(claims.exp - claims.iat, 300);
        let cookie = res.header("set-cookie").unwrap_or_default();
        assert!(cookie.contains("Max-Age=300"), "{cookie}");
    }

    fn password_checks(app: &TestApp<crate::Tools>) -> usize {
        app.tool::<SystemRegistry>()
            .recent_calls()
            .iter()
            .filter(|c| c.tool == "auth" && c.method == "verify_password")
            .count()
    }

    #[tokio::test]
    async fn an_unknown_email_costs_a_password_check_like_a_known_one() {
        let app = app_with_ana().await;
        let before = password_checks(&app);
        assert_eq!(app.http().call(login("wrong password")).await.status, 401);
        assert_eq!(password_checks(&app), before + 1);
        let unknown = TestRequest::post("/auth/login")
            .json(json!({"email": "nobody@example.com", "password": "wrong password"}));
        assert_eq!(app.http().call(unknown).await.status, 401);
        assert_eq!(
            password_checks(&app),
            before + 2,
            "an unknown email is checked against a dummy hash too"
        );
    }

    #[tokio::test]
    async fn the_dummy_hash_costs_what_a_real_one_does() {
        let app = app_with_ana().await;
        let fresh = app.auth().hash_password("x").await.unwrap();
        let params = |h: &str| h.split('$').take(4).collect::<Vec<_>>().join("$");
        assert_eq!(
            params(DUMMY_HASH),
            params(&fresh),
            "same algorithm and cost"
        );
        assert!(!app.auth().verify_password("x", DUMMY_HASH).await.unwrap());
    }

    #[tokio::test]
    async fn the_throttle_never_stores_the_email_in_clear() {
        let app = app_with_ana().await;
        assert_eq!(app.http().call(login("nope")).await.status, 401);
        let keys = app
            .state()
            .namespace("login_throttle")
            .keys()
            .await
            .unwrap();
        assert_eq!(keys.len(), 2, "the count and its window's end: {keys:?}");
        assert!(
            keys.iter().all(|k| !k.contains("ana") && !k.contains('@')),
            "{keys:?}"
        );
    }
}
