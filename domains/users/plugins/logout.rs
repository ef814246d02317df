//! `POST /auth/logout`: revoke the caller's token and clear the cookie.
//!
//! Never pretends: when the revocation cannot be written the answer is 503
//! (with `Retry-After`) and the token keeps working; without a working `state`
//! tool (where users.Sessions keeps revocations) this plugin is DEAD and the
//! route absent, rather than "logging out" in one process's memory only.

use microcore::prelude::*;

/// Logs the caller out.
#[plugin]
pub struct Logout {
    http: Http,
    auth: Auth,
    /// Not called here: holding it makes this plugin DEAD when the `state`
    /// tool that keeps the fleet's revocations could not be set up.
    #[allow(dead_code)]
    state: State,
}

/// Confirmation.
#[model]
pub struct LoggedOut {
    /// Always true.
    pub logged_out: bool,
}

impl Plugin for Logout {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::post("/auth/logout")
            .tag("Auth")
            .summary("Log out")
            .auth();
        self.http.route(route, &self, Self::logout)?;
        Ok(())
    }
}

impl Logout {
    async fn logout(self: Arc<Self>, _: Empty, ctx: Ctx) -> HttpResult<LoggedOut> {
        if let Some(token) = ctx.token() {
            self.auth.revoke(&token).await.map_err(|e| {
                if !e.is_unavailable() {
                    return HttpError::from(e);
                }
                ctx.set_header("retry-after", "5");
                HttpError::status(
                    503,
                    "logout is unavailable: the token could not be revoked and still works; retry shortly",
                )
            })?;
        }
        ctx.remove_cookie("access_token");
        Ok(LoggedOut { logged_out: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::TokenValidator;
    use microcore::testing::{self, TestRequest};

    #[tokio::test]
    async fn logout_revokes_the_token_and_expires_the_cookie() {
        let app = testing::boot::<Logout>().await;
        let token = app.auth().create_token(1, json!({}), None).unwrap();
        let res = app
            .http()
            .call(TestRequest::post("/auth/logout").bearer(&token))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        let cookie = res.header("set-cookie").unwrap_or_default();
        assert!(
            cookie.starts_with("access_token=") && cookie.contains("Max-Age=0"),
            "{cookie}"
        );
        assert!(
            app.auth().validate(&token).await.is_none(),
            "the token no longer works"
        );
        let again = app
            .http()
            .call(TestRequest::post("/auth/logout").bearer(&token))
            .await;
        assert_eq!(again.status, 401);
    }

    #[tokio::test]
    async fn a_logout_that_cannot_be_written_is_503_not_a_pretend_success() {
        let app = testing::boot::<Logout>().await;
        app.auth().use_revocation_list(testing::ReadOnlyRevocations);
        let token = app.auth().create_token(1, json!({}), None).unwrap();
        let res = app
            .http()
            .call(TestRequest::post("/auth/logout").bearer(&token))
            .await;
        assert_eq!(res.status, 503, "{}", res.text);
        assert_eq!(res.header("retry-after").as_deref(), Some("5"));
        assert!(!res.text.contains("logged_out"), "{}", res.text);
        assert!(res.header("set-cookie").is_none(), "the cookie is kept");
    }
}
