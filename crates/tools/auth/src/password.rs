//! argon2id hashing. Blocking and CPU-heavy: callers run it on the hashing
//! threads (`hashing.rs`), each of which keeps one argon2 memory buffer and
//! reuses it, so a burst of sign-ups does not allocate 19 MiB per hash.

use std::cell::RefCell;

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::AuthError;

thread_local! {
    /// This thread's argon2 working memory, grown to the largest cost seen.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 with this thread's reusable working memory.
fn compute(
    argon: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        let blocks = params.block_count();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
    })
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) with a fresh
/// random salt and the library's recommended argon2id parameters.
pub(crate) fn hash(password: &str) -> Result<String, AuthError> {
    let params = Params::default();
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(internal)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(&argon, &params, password.as_bytes(), &salt_bytes, &mut out).map_err(internal_argon)?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(internal)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches `hash`, using the parameters stored in the hash
/// (so hashes made with older parameters keep verifying). The comparison is
/// constant-time (`password_hash::Output`'s equality).
pub(crate) fn verify(password: &str, hash: &str) -> Result<bool, AuthError> {
    let parsed = PasswordHash::new(hash).map_err(malformed)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(malformed)?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(malformed_argon)?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(malformed)?;
    let expected = parsed.hash.ok_or_else(|| AuthError::MalformedHash {
        reason: "the hash has no output".to_owned(),
    })?;
    let mut salt_buf = [0u8; 64];
    let salt = parsed
        .salt
        .ok_or_else(|| AuthError::MalformedHash {
            reason: "the hash has no salt".to_owned(),
        })?
        .decode_b64(&mut salt_buf)
        .map_err(malformed)?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    compute(&argon, &params, password.as_bytes(), salt, &mut out).map_err(malformed_argon)?;
    Ok(Output::new(&out).map_err(malformed)? == expected)
}

fn malformed(e: password_hash::Error) -> AuthError {
    AuthError::MalformedHash {
        reason: e.to_string(),
    }
}

fn malformed_argon(e: argon2::Error) -> AuthError {
    AuthError::MalformedHash {
        reason: e.to_string(),
    }
}

fn internal(e: password_hash::Error) -> AuthError {
    AuthError::Internal {
        reason: format!("argon2: {e}"),
    }
}

fn internal_argon(e: argon2::Error) -> AuthError {
    AuthError::Internal {
        reason: format!("argon2: {e}"),
    }
}

#[cfg(test)]
mod interop {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};

    use super::*;

    #[test]
    fn hashes_are_standard_phc_strings_in_both_directions() {
        let ours = hash("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok(),
            "{ours}"
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );

        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(verify("correct horse", &theirs).unwrap());
        assert!(!verify("wrong", &theirs).unwrap());
    }

    #[test]
    fn the_working_memory_is_reused_not_reallocated() {
        hash("a").unwrap();
        let first = MEMORY.with(|m| m.borrow().as_ptr() as usize);
        hash("b").unwrap();
        verify("b", &hash("b").unwrap()).unwrap();
        assert_eq!(MEMORY.with(|m| m.borrow().as_ptr() as usize), first);
    }
}
