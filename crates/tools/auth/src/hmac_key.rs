//! The HMAC key of the configured `HS*` algorithm, keyed once at setup.
//!
//! Keying an HMAC hashes the secret into its inner and outer blocks: two
//! compressions, which jsonwebtoken repeats on every sign and every verify
//! (about a tenth of an authenticated request's instructions, twice over
//! with the subject hash of the revocation check). The keyed state is
//! cloned instead.

use hmac::{Hmac, Mac};
use jsonwebtoken::Algorithm;
use sha2::{Sha256, Sha384, Sha512};

/// A keyed HMAC for one of the algorithms the tool accepts.
#[derive(Clone)]
pub(crate) enum HmacKey {
    Hs256(Hmac<Sha256>),
    Hs384(Hmac<Sha384>),
    Hs512(Hmac<Sha512>),
}

impl HmacKey {
    /// The key for `algorithm`; `None` when it is not an HMAC.
    pub(crate) fn new(algorithm: Algorithm, secret: &[u8]) -> Option<Self> {
        Some(match algorithm {
            Algorithm::HS256 => Self::Hs256(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS384 => Self::Hs384(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS512 => Self::Hs512(Hmac::new_from_slice(secret).ok()?),
            _ => return None,
        })
    }

    /// The tag of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        fn tag<M: Mac + Clone>(key: &M, message: &[u8]) -> Vec<u8> {
            let mut mac = key.clone();
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Self::Hs256(key) => tag(key, message),
            Self::Hs384(key) => tag(key, message),
            Self::Hs512(key) => tag(key, message),
        }
    }

    /// Whether `tag` is the tag of `message`, compared in constant time.
    pub(crate) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        fn check<M: Mac + Clone>(key: &M, message: &[u8], tag: &[u8]) -> bool {
            let mut mac = key.clone();
            mac.update(message);
            mac.verify_slice(tag).is_ok()
        }
        match self {
            Self::Hs256(key) => check(key, message, tag),
            Self::Hs384(key) => check(key, message, tag),
            Self::Hs512(key) => check(key, message, tag),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use jsonwebtoken::EncodingKey;

    /// The tags are jsonwebtoken's, for every algorithm, and verify rejects
    /// a tag with one bit changed.
    #[test]
    fn tags_match_jsonwebtoken_and_verify_is_exact() {
        let secret = b"a-secret-of-at-least-thirty-two-bytes!!";
        for algorithm in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let key = HmacKey::new(algorithm, secret).unwrap();
            let ours = key.sign(b"header.payload");
            let theirs = jsonwebtoken::crypto::sign(
                b"header.payload",
                &EncodingKey::from_secret(secret),
                algorithm,
            )
            .unwrap();
            use base64::Engine;
            assert_eq!(
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&ours),
                theirs,
                "{algorithm:?}"
            );
            assert!(key.verify(b"header.payload", &ours));
            let mut flipped = ours.clone();
            flipped[0] ^= 1;
            assert!(!key.verify(b"header.payload", &flipped));
            assert!(!key.verify(b"header.payloaD", &ours));
        }
        assert!(HmacKey::new(Algorithm::RS256, secret).is_none());
    }
}
