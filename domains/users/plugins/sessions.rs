//! Makes logout stick on every replica: revoked token ids, and the "not
//! before" time of deleted accounts, live in the `state` tool (Redis when
//! `STATE_BACKEND=redis`), not in one process's memory. Tools never depend on
//! each other; this plugin composes two of them.
//!
//! While this plugin is not running (e.g. Redis unreachable at boot), the auth
//! tool refuses every token (`AUTH_REVOCATION_LIST=shared`, the serving
//! default): a replica that cannot see the fleet's revocations fails closed.

use microcore::prelude::*;
use microcore::{BoxFuture, RevocationList, StateNamespace};

/// Keeps the auth tool's revocations in `state`.
#[plugin]
pub struct Sessions {
    auth: Auth,
    state: State,
    config: Config,
    logger: Logger,
}

/// What the in-memory `state` backend means for logouts, said at boot.
const FORGOTTEN_ON_RESTART: &str = "logouts and deleted accounts' revocations are kept in this \
     process's memory (STATE_BACKEND=memory): a restart forgets them, so a logged-out token works \
     again until it expires, and other replicas never see them; set STATE_BACKEND=redis and REDIS_URL";

/// Whether revocations live in this process only, and whether that is a
/// production setup (then it is a warning, otherwise a note).
fn memory_only(config: &Config) -> Option<bool> {
    let is = |key: &str, value: &str| {
        config
            .get(key)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
    };
    (!is("STATE_BACKEND", "redis")).then(|| is("MICROCORE_ENV", "production"))
}

/// Token ids in one namespace, subjects' "not before" times in another,
/// keyed by an HMAC of the subject: no user id in clear, and apps with
/// different secrets sharing one Redis never revoke each other's user 5.
struct StateRevocations {
    tokens: StateNamespace,
    subjects: StateNamespace,
    auth: Auth,
}

impl StateRevocations {
    fn subject_key(&self, sub: &str) -> Result<String, String> {
        self.auth.keyed_hash(sub).map_err(|e| e.to_string())
    }
}

impl RevocationList for StateRevocations {
    fn revoke<'a>(&'a self, jti: &'a str, ttl: Duration) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.tokens
                .set(jti, true, Some(ttl))
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move { self.tokens.has(jti).await.map_err(|e| e.to_string()) })
    }

    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        not_before: i64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.subjects
                .set(&self.subject_key(sub)?, not_before, Some(ttl))
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn revoked_before<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Option<i64>, String>> {
        Box::pin(async move {
            let key = self.subject_key(sub)?;
            self.subjects.get(&key).await.map_err(|e| e.to_string())
        })
    }
}

impl Plugin for Sessions {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        match memory_only(&self.config) {
            Some(true) => self
                .logger
                .warn(format!("PRODUCTION: {FORGOTTEN_ON_RESTART}")),
            Some(false) => self.logger.info(FORGOTTEN_ON_RESTART),
            None => {}
        }
        self.auth.use_revocation_list(StateRevocations {
            tokens: self.state.namespace("revoked_tokens"),
            subjects: self.state.namespace("revoked_subjects"),
            auth: self.auth.clone(),
        });
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

    #[tokio::test]
    async fn production_on_memory_state_is_warned_about_and_redis_is_not() {
        for (settings, expected) in [
            (vec![("MICROCORE_ENV", "production")], Some(true)),
            (
                vec![("MICROCORE_ENV", "production"), ("STATE_BACKEND", "memory")],
                Some(true),
            ),
            (vec![], Some(false)),
            (
                vec![("MICROCORE_ENV", "production"), ("STATE_BACKEND", "Redis")],
                None,
            ),
        ] {
            let app = settings
                .iter()
                .fold(
                    testing::TestApp::builder().plugin::<Sessions>(),
                    |b, (k, v)| b.env(k, v),
                )
                .boot()
                .await;
            assert_eq!(memory_only(&app.tool::<Config>()), expected, "{settings:?}");
        }
    }

    #[tokio::test]
    async fn a_revoked_subject_is_written_to_state_and_honoured() {
        let app = testing::boot::<Sessions>().await;
        let (old, other) = (
            app.auth().create_token(2, json!({}), None).unwrap(),
            app.auth().create_token(3, json!({}), None).unwrap(),
        );
        app.auth().revoke_subject(2).await.unwrap();
        let subjects = app.state().namespace("revoked_subjects");
        let keys = subjects.keys().await.unwrap();
        assert_eq!(
            keys,
            [app.auth().keyed_hash("2").unwrap()],
            "no id in clear"
        );
        let not_before: Option<i64> = subjects.get(&keys[0]).await.unwrap();
        assert!(not_before.is_some());
        assert!(app.auth().validate(&old).await.is_none());
        assert!(app.auth().validate(&other).await.is_some());
    }
}
