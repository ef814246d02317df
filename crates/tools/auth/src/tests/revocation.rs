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

impl RevocationList for Shared {
    fn revoke<'a>(&'a self, jti: &'a str, ttl: Duration) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.0.lock().push((jti.to_owned(), ttl));
            Ok(())
        })
    }
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            if self.1 {
                return Err("store down".to_owned());
            }
            Ok(self.0.lock().iter().any(|(j, _)| j == jti))
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
