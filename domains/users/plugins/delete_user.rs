//! `DELETE /users/{id}`: close one's own account.
//!
//! Every token issued to the account is revoked first (not only the one in
//! the request), so no old token outlives it; ids are never reused either
//! (migration 002), so nothing could inherit them.

use microcore::prelude::*;

use super::models::UserPath;

/// Deletes the caller's own account.
#[plugin]
pub struct DeleteUser {
    http: Http,
    db: Db,
    auth: Auth,
}

/// A user account was deleted.
#[event("user.deleted")]
pub struct UserDeleted {
    /// The deleted user's id.
    pub id: i64,
}

/// What was deleted.
#[model]
pub struct Deleted {
    /// The deleted user's id.
    pub id: i64,
}

impl Plugin for DeleteUser {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::delete("/users/{id}")
            .tag("Users")
            .summary("Delete one's own account")
            .auth();
        self.http.route(route, &self, Self::delete)?;
        Ok(())
    }
}

impl DeleteUser {
    async fn delete(self: Arc<Self>, path: UserPath, ctx: Ctx) -> HttpResult<Deleted> {
        if ctx.user()?.user_id() != Some(path.id) {
            return Err(HttpError::forbidden("you can only delete your own account"));
        }
        // Revoke before deleting: if the revocation list is out of reach the
        // account stays, and the caller can retry, rather than leaving live
        // tokens for an account that is gone.
        self.auth.revoke_subject(path.id).await.map_err(|e| {
            if !e.is_unavailable() {
                return HttpError::from(e);
            }
            ctx.set_header("retry-after", "5");
            HttpError::status(
                503,
                "the account cannot be deleted right now: its tokens could not be revoked; retry shortly",
            )
        })?;
        // The deletion and `user.deleted` commit together (the outbox relay publishes it).
        let id = path.id;
        self.db
            .try_transaction(|tx| async move {
                if tx
                    .execute("DELETE FROM users WHERE id = $1", params![id])
                    .await?
                    == 0
                {
                    return Err(HttpError::not_found("user not found"));
                }
                tx.publish(UserDeleted { id }).await?;
                Ok(())
            })
            .await?;
        Ok(Deleted { id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::TokenValidator;
    use microcore::testing::{self, TestRequest};

    #[tokio::test]
    async fn only_the_owner_deletes_and_user_deleted_is_published() {
        let app = testing::boot::<DeleteUser>().await;
        let ana = app
            .db()
            .execute("INSERT INTO users (name, email, password_hash) VALUES ('Ana', 'ana@example.com', 'h') RETURNING id", params![])
            .await
            .unwrap();
        let token = app.auth().create_token(ana, json!({}), None).unwrap();
        let other = app
            .http()
            .call(TestRequest::delete(format!("/users/{}", ana + 1)).bearer(&token))
            .await;
        assert_eq!(other.status, 403);
        let res = app
            .http()
            .call(TestRequest::delete(format!("/users/{ana}")).bearer(&token))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        app.flush_outbox().await;
        assert_eq!(app.published("user.deleted"), vec![json!({"id": ana})]);
        let again = app
            .http()
            .call(TestRequest::delete(format!("/users/{ana}")).bearer(&token))
            .await;
        assert_eq!(again.status, 401, "the token died with the account");
    }

    #[tokio::test]
    async fn deleting_revokes_every_token_of_the_account_not_only_the_one_used() {
        let app = testing::boot::<DeleteUser>().await;
        let ana = app
            .db()
            .execute("INSERT INTO users (name, email, password_hash) VALUES ('Ana', 'ana@example.com', 'h') RETURNING id", params![])
            .await
            .unwrap();
        let used = app.auth().create_token(ana, json!({}), None).unwrap();
        let other = app.auth().create_token(ana, json!({}), None).unwrap();
        let res = app
            .http()
            .call(TestRequest::delete(format!("/users/{ana}")).bearer(&used))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert!(app.auth().validate(&other).await.is_none());
    }

    #[tokio::test]
    async fn without_a_writable_revocation_list_the_account_stays_and_the_answer_is_503() {
        let app = testing::boot::<DeleteUser>().await;
        app.auth().use_revocation_list(testing::ReadOnlyRevocations);
        let ana = app
            .db()
            .execute("INSERT INTO users (name, email, password_hash) VALUES ('Ana', 'ana@example.com', 'h') RETURNING id", params![])
            .await
            .unwrap();
        let token = app.auth().create_token(ana, json!({}), None).unwrap();
        let res = app
            .http()
            .call(TestRequest::delete(format!("/users/{ana}")).bearer(&token))
            .await;
        assert_eq!(res.status, 503, "{}", res.text);
        assert_eq!(res.header("retry-after").as_deref(), Some("5"));
        let left: Vec<serde_json::Value> = app
            .db()
            .query("SELECT id FROM users WHERE id = $1", params![ana])
            .await
            .unwrap();
        assert_eq!(left.len(), 1, "the account is kept for a retry");
        assert_eq!(app.flush_outbox().await, 0);
        assert!(app.published("user.deleted").is_empty());
    }
}
