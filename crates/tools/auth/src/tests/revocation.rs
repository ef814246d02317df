//! Logout revokes: a revoked token is refused by the routes' validator until
//! it would have expired, other tokens are untouched, a shared list can be
//! plugged in, and an unreadable list fails closed.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use microcore_kernel::{RevocationList, TokenValidator};
use parking_lot::Mutex;
use serde_json::json;

use super::testing;

#[tokio::test]
async fn a_revoked_token_is_refused_and_others_still_pass() {
    let auth = testing(&[]).await;
    let (a, b) = (
        auth.create_token(1, json!({}), None).unwrap(),
        auth.create_token(1, json!({}), None).unwrap(),
    );
    assert!(auth.validate(&a).await.is_some());
    auth.revoke(&a).await.unwrap();
    assert!(auth.validate(&a).await.is_none(), "revoked");
    assert!(
        auth.validate(&b).await.is_some(),
        "another token of the same user is untouched"
    );
    assert!(
        auth.revoke("not-a-token").await.is_err(),
        "a forged token cannot be 'revoked' silently"
    );
}

#[derive(Default, Clone)]
struct Shared(Arc<Mutex<Vec<(String, Duration)>>>, bool);

impl Shared {
    fn down(&self) -> Result<(), String> {
        if self.1 {
            return Err("store down".to_owned());
        }
        Ok(())
    }
}

impl RevocationList for Shared {
    fn revoke<'a>(&'a self, jti: &'a str, ttl: Duration) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.down()?;
            self.0.lock().push((jti.to_owned(), ttl));
            Ok(())
        })
    }
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            self.down()?;
            Ok(self.0.lock().iter().any(|(j, _)| j == jti))
        })
    }
    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        not_before: i64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.down()?;
            self.0.lock().push((format!("sub:{sub}:{not_before}"), ttl));
            Ok(())
        })
    }
    fn revoked_before<'a>(&'a self, sub: &'a str) -> BoxFuture<'a, Result<Option<i64>, String>> {
        Box::pin(async move {
            self.down()?;
            let prefix = format!("sub:{sub}:");
            Ok(self
                .0
                .lock()
                .iter()
                .filter_map(|(k, _)| k.strip_prefix(&prefix)?.parse().ok())
                .max())
        })
    }
}

#[tokio::test]
async fn a_shared_list_receives_the_jti_for_the_tokens_remaining_life() {
    let auth = testing(&[]).await;
    let shared = Shared::default();
    auth.use_revocation_list(shared.clone());
    let token = auth
        .create_token(7, json!({}), Some(Duration::from_secs(600)))
        .unwrap();
    auth.revoke(&token).await.unwrap();
    let entries = shared.0.lock().clone();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, auth.decode_token(&token).unwrap().jti);
    assert!(entries[0].1 <= Duration::from_secs(600) && entries[0].1 >= Duration::from_secs(590));
    assert!(auth.validate(&token).await.is_none());
}

#[tokio::test]
async fn an_unreadable_list_fails_closed() {
    let auth = testing(&[]).await;
    auth.use_revocation_list(Shared(Arc::default(), true));
    let token = auth.create_token(7, json!({}), None).unwrap();
    assert!(auth.validate(&token).await.is_none());
}

#[tokio::test]
async fn revoking_a_subject_refuses_all_its_tokens_and_only_its_own() {
    let auth = testing(&[]).await;
    let (a, b, other) = (
        auth.create_token(2, json!({}), None).unwrap(),
        auth.create_token(2, json!({}), Some(Duration::from_secs(7200)))
            .unwrap(),
        auth.create_token(3, json!({}), None).unwrap(),
    );
    auth.revoke_subject(2).await.unwrap();
    assert!(auth.validate(&a).await.is_none(), "first token of 2");
    assert!(auth.validate(&b).await.is_none(), "second token of 2");
    assert!(auth.validate(&other).await.is_some(), "user 3 is untouched");
}

#[tokio::test]
async fn a_subject_revocation_outlives_the_longest_token_issued() {
    let auth = testing(&[]).await;
    let shared = Shared::default();
    auth.use_revocation_list(shared.clone());
    auth.create_token(2, json!({}), Some(Duration::from_secs(7 * 24 * 3600)))
        .unwrap();
    auth.revoke_subject(2).await.unwrap();
    let kept = shared.0.lock()[0].1;
    assert!(kept >= Duration::from_secs(7 * 24 * 3600), "{kept:?}");
}

#[tokio::test]
async fn an_unwritable_list_makes_revoking_unavailable_not_silent() {
    let auth = testing(&[]).await;
    auth.use_revocation_list(Shared(Arc::default(), true));
    let token = auth.create_token(7, json!({}), None).unwrap();
    let err = auth.revoke(&token).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(auth.revoke_subject(7).await.unwrap_err().is_unavailable());
}

#[tokio::test]
async fn shared_mode_refuses_every_token_until_a_list_is_installed() {
    let auth = testing(&[("AUTH_REVOCATION_LIST", "shared")]).await;
    let token = auth.create_token(7, json!({}), None).unwrap();
    assert!(auth.validate(&token).await.is_none(), "fails closed");
    let err = auth.revoke(&token).await.unwrap_err();
    assert!(
        err.is_unavailable() && err.to_string().contains("AUTH_REVOCATION_LIST"),
        "{err}"
    );
    auth.use_revocation_list(Shared::default());
    assert!(auth.validate(&token).await.is_some());
}
