use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::*;
use crate::AuthError;

#[tokio::test]
async fn a_hash_verifies_the_right_password_only() {
    let auth = testing(&[]).await;
    let hash = auth.hash_password("correct horse").await.unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));
    assert!(auth.verify_password("correct horse", &hash).await.unwrap());
    assert!(!auth.verify_password("wrong horse", &hash).await.unwrap());
    assert!(!auth.verify_password("", &hash).await.unwrap());
    let again = auth.hash_password("correct horse").await.unwrap();
    assert_ne!(hash, again, "every hash has its own salt");
}

#[tokio::test]
async fn a_malformed_hash_is_an_error_not_a_mismatch() {
    let auth = testing(&[]).await;
    for bad in ["", "plaintext", "$2b$12$abcdefghijklmnopqrstuv"] {
        let err = auth.verify_password("pw", bad).await.unwrap_err();
        assert!(
            matches!(err, AuthError::MalformedHash { .. }),
            "{bad}: {err}"
        );
        assert!(err.to_string().contains("$argon2id$"), "{err}");
    }
}

/// On a single-threaded runtime, a hash computed inline would finish within
/// its first poll, before the ticker ever ran; off the worker, the ticker
/// keeps running while the hash is computed.
#[test]
fn hashing_runs_off_the_async_worker() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let auth = testing(&[]).await;
        let done = Arc::new(AtomicBool::new(false));
        let ticks = Arc::new(AtomicU32::new(0));
        let hashing = {
            let done = done.clone();
            async move {
                let hash = auth.hash_password("pw").await.unwrap();
                done.store(true, Ordering::SeqCst);
                auth.verify_password("pw", &hash).await.unwrap()
            }
        };
        let ticker = {
            let (done, ticks) = (done.clone(), ticks.clone());
            async move {
                while !done.load(Ordering::SeqCst) {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
            }
        };
        let (verified, ()) = tokio::join!(hashing, ticker);
        assert!(verified);
        assert!(
            ticks.load(Ordering::SeqCst) > 0,
            "the worker was blocked while hashing"
        );
    });
}
