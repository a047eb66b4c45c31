//! Passwords (Argon2id), session tokens (only their SHA-256 is stored) and
//! the failed-sign-in limit (Y6).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash};
use sha2::{Digest, Sha256};

/// Hashes a password with Argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> String {
    let salt_bytes = *uuid::Uuid::new_v4().as_bytes();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("hashing a password")
        .to_string()
}

/// Checks a password against a stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A valid hash of nothing in particular: unknown users are checked against
/// it so that a sign-in takes as long whether the user exists or not.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no such user"))
}

/// A fresh session token: 244 random bits, hex.
pub fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// What is stored for a token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Failed sign-ins allowed per account within [`WINDOW`].
pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Counts failed sign-ins per login.
#[derive(Default)]
pub struct SignInLimiter {
    failures: HashMap<String, (u32, Instant)>,
}

impl SignInLimiter {
    /// `Some(wait)` while the account is locked out.
    pub fn blocked_for(&mut self, login: &str, now: Instant) -> Option<Duration> {
        let key = login.to_lowercase();
        match self.failures.get(&key) {
            Some((count, since)) if now.duration_since(*since) >= WINDOW => {
                let _ = count;
                self.failures.remove(&key);
                None
            }
            Some((count, since)) if *count >= MAX_FAILURES => {
                Some(WINDOW - now.duration_since(*since))
            }
            _ => None,
        }
    }

    pub fn failed(&mut self, login: &str, now: Instant) {
        let entry = self
            .failures
            .entry(login.to_lowercase())
            .or_insert((0, now));
        entry.0 += 1;
    }

    pub fn succeeded(&mut self, login: &str) {
        self.failures.remove(&login.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_are_salted() {
        let a = hash_password("correct horse");
        let b = hash_password("correct horse");
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("wrong", &a));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn limiter_blocks_after_five_failures_then_forgets() {
        let mut limiter = SignInLimiter::default();
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert!(limiter.blocked_for("Ann", t0).is_none());
            limiter.failed("ann", t0);
        }
        assert!(limiter.blocked_for("ANN", t0).is_some());
        assert!(limiter.blocked_for("bob", t0).is_none());
        assert!(limiter.blocked_for("ann", t0 + WINDOW).is_none());
    }

    #[test]
    fn tokens_are_long_and_hashed() {
        let t = new_token();
        assert_eq!(t.len(), 64);
        assert_ne!(token_hash(&t), t);
        assert_eq!(token_hash(&t).len(), 64);
    }
}
