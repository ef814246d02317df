//! `DELETE /users/{id}`: close one's own account.

use microcore::prelude::*;

use super::models::UserPath;

/// Deletes the caller's own account.
#[plugin]
pub struct DeleteUser {
    http: Http,
    db: Db,
    event_bus: EventBus,
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
        if self
            .db
            .execute("DELETE FROM users WHERE id = $1", params![path.id])
            .await?
            == 0
        {
            return Err(HttpError::not_found("user not found"));
        }
        self.event_bus.publish(UserDeleted { id: path.id }).await?;
        Ok(Deleted { id: path.id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(app.published("user.deleted"), vec![json!({"id": ana})]);
        let again = app
            .http()
            .call(TestRequest::delete(format!("/users/{ana}")).bearer(&token))
            .await;
        assert_eq!(again.status, 404);
    }
}
