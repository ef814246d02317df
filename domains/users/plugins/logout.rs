//! `POST /auth/logout`: revoke the caller's token and clear the cookie.

use microcore::prelude::*;

/// Logs the caller out.
#[plugin]
pub struct Logout {
    http: Http,
    auth: Auth,
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
            self.auth.revoke(&token).await?;
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
}
