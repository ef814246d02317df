//! Makes logout stick on every replica: revoked token ids live in the `state`
//! tool (Redis when `STATE_BACKEND=redis`), not in one process's memory.
//! Tools never depend on each other; this plugin composes two of them.

use microcore::prelude::*;
use microcore::{BoxFuture, RevocationList, StateNamespace};

/// Hands the auth tool a revocation list kept in `state`.
#[plugin]
pub struct Sessions {
    auth: Auth,
    state: State,
}

struct StateRevocations(StateNamespace);

impl RevocationList for StateRevocations {
    fn revoke<'a>(&'a self, jti: &'a str, ttl: Duration) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.0
                .set(jti, true, Some(ttl))
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move { self.0.has(jti).await.map_err(|e| e.to_string()) })
    }
}

impl Plugin for Sessions {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.auth
            .use_revocation_list(StateRevocations(self.state.namespace("revoked_tokens")));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::TokenValidator;
    use microcore::testing;

    #[tokio::test]
    async fn a_revocation_is_written_to_state_and_honoured() {
        let app = testing::boot::<Sessions>().await;
        let token = app.auth().create_token(1, json!({}), None).unwrap();
        app.auth().revoke(&token).await.unwrap();
        let jti = app.auth().decode_token(&token).unwrap().jti;
        assert!(
            app.state()
                .namespace("revoked_tokens")
                .has(&jti)
                .await
                .unwrap()
        );
        assert!(app.auth().validate(&token).await.is_none());
    }
}
