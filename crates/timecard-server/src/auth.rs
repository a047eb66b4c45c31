//! Passwords (Argon2id), session tokens (only their SHA-256 is stored),
//! the failed-sign-in limit (Y6) and the bound on concurrent password
//! hashing.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash};
use sha2::{Digest, Sha256};

use super::store::{Failures, Store, StoreError};

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

/// A one-time link's token (M3, M4): 32 random bytes from the system's
/// generator, hex; like a session token, only its SHA-256 is stored.
pub fn new_link_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random number generator");
    hex::encode(bytes)
}

/// The start of every personal API token (I1): a token that leaks into a
/// log or a repository says what it is, and secret scanners can find it.
pub const API_TOKEN_PREFIX: &str = "tcpat_";

/// A fresh personal API token: the prefix and 32 random bytes, hex.
pub fn new_api_token() -> String {
    format!("{API_TOKEN_PREFIX}{}", new_link_token())
}

/// The fewest characters a password may have, wherever it is set.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The most: a password is hashed whole, and a megabyte of it would be.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Why `password` cannot be someone's password, in words.
pub fn password_problem(password: &str) -> Option<String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        Some(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        ))
    } else if n > MAX_PASSWORD_CHARS {
        Some(format!(
            "the password may have at most {MAX_PASSWORD_CHARS} characters"
        ))
    } else {
        None
    }
}

/// What is stored for a token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Password hashing, kept from starving everything else (issue 11 item 3,
/// issue 23 item 2): Argon2id takes ~19 MiB and tens of milliseconds of a
/// core per sign-in, and a storm of sign-ins with random logins (which no
/// per-account limit catches) must neither take the server's memory nor
/// its processors.
///
/// - A few threads of their own hash, fewer than the cores, at a lower
///   priority than the threads that answer requests: `/health`, uploads
///   and pages go first.
/// - At most a short queue of sign-ins waits for them; one more is refused
///   at once ([`Busy`], 503 with Retry-After) before anything is hashed.
/// - A sign-in whose client gave up while queued is not hashed at all.
/// - The async runtime only waits on an answer, never on a hash.
pub struct Hashing {
    jobs: std::sync::mpsc::SyncSender<HashJob>,
}

/// One password to check, and where its answer goes.
struct HashJob {
    password: String,
    phc: Option<String>,
    answer: tokio::sync::oneshot::Sender<bool>,
}

/// Too many sign-ins are being checked; try again after `retry_after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy {
    pub retry_after: Duration,
}

/// How long a sign-in refused for a full queue is asked to wait.
const BUSY_RETRY: Duration = Duration::from_secs(2);

impl Hashing {
    /// `threads` hashing threads (at least one) and room for `queue`
    /// sign-ins waiting for them.
    pub fn new(threads: usize, queue: usize) -> Hashing {
        let (jobs, waiting) = std::sync::mpsc::sync_channel::<HashJob>(queue);
        let waiting = Arc::new(std::sync::Mutex::new(waiting));
        for n in 0..threads.max(1) {
            let waiting = waiting.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hashing-{n}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    loop {
                        let job = waiting.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        // Every sender is gone: the server is shutting down.
                        let Ok(job) = job else { return };
                        if job.answer.is_closed() {
                            continue;
                        }
                        let phc = job.phc.as_deref().unwrap_or_else(|| dummy_hash());
                        let _ = job.answer.send(verify_password(&job.password, phc));
                    }
                });
            if let Err(e) = spawned {
                log::error!("server: cannot start a password-hashing thread: {e}");
            }
        }
        Hashing { jobs }
    }

    /// One hashing thread fewer than the cores (at least one), and eight
    /// sign-ins queued per thread: a queued sign-in waits well under a
    /// second.
    pub fn for_this_machine() -> Hashing {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = cores.saturating_sub(1).max(1);
        Hashing::new(threads, 8 * threads)
    }

    /// Checks `password` against `phc` (`None`: the [`dummy_hash`], for a
    /// user that does not exist) on a hashing thread; [`Busy`] at once when
    /// the queue is full.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, Busy> {
        let busy = Busy {
            retry_after: BUSY_RETRY,
        };
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(HashJob {
                password,
                phc,
                answer,
            })
            .map_err(|_| busy)?;
        answered.await.map_err(|_| busy)
    }
}

/// Hashing threads yield to the threads that answer requests (Linux: a
/// thread's own nice value).
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only changes the scheduling of this thread (its
    // id from gettid, which cannot fail).
    unsafe {
        let thread = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, 10);
    }
}

/// Failed sign-ins that cost nothing; from the next one on, each failure
/// doubles the wait before another attempt ([`delay_after`]).
pub const FREE_FAILURES: u32 = 3;
/// The wait after the first failure beyond [`FREE_FAILURES`].
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest wait, however many failures.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Failed sign-ins on one account, from all addresses together, before
/// every attempt on it waits — from an address that has not failed too —
/// unless it brings a device ticket (issue 23, item 3): one guess per new
/// address no longer scales with the attacker's address count.
pub const ACCOUNT_BUDGET: u32 = 10;
/// How long a device ticket lets its device past an account's budget.
pub const TICKET_DAYS: i64 = 365;
/// Failures are forgotten this long after the last one.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Accounts and addresses followed at most, together; beyond it the oldest
/// are forgotten first (random logins from many addresses must not grow
/// the database without end).
pub const MAX_TRACKED: i64 = 100_000;

/// How long after the last of `failures` failed sign-ins the next attempt
/// waits: nothing for the first [`FREE_FAILURES`], then 1 s, 2 s, 4 s …
/// up to [`MAX_DELAY`].
pub fn delay_after(failures: u32) -> Duration {
    match failures.checked_sub(FREE_FAILURES) {
        None => Duration::ZERO,
        Some(doublings) => FIRST_DELAY
            .checked_mul(1 << doublings.min(20))
            .unwrap_or(MAX_DELAY)
            .min(MAX_DELAY),
    }
}

/// Who a sign-in is for: the account (its user id, so that its login and
/// its e-mail count together) or, for a name no account has, that name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AccountKey {
    User(i64),
    Unknown(String),
}

impl AccountKey {
    /// A name no account has, as typed: only its first 128 characters are
    /// kept (a 60 kB login must not be kept 50,000 times).
    pub fn unknown(name: &str) -> AccountKey {
        // NUL as U+FFFD: every database can keep the key.
        let short: String = name
            .trim()
            .chars()
            .take(128)
            .map(|c| if c == '\0' { '\u{fffd}' } else { c })
            .collect();
        AccountKey::Unknown(short.to_lowercase())
    }
}

/// Where a sign-in comes from, as the limiter counts it: an IPv4 address,
/// or the /64 network of an IPv6 one (one machine usually holds a whole
/// /64).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let net = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(net))
            }
        },
        v4 => v4,
    }
}

/// How long an attempt at `now` still has to wait after `f`.
fn wait(f: &Failures, now: DateTime<Utc>) -> Duration {
    let since = (now - f.last).to_std().unwrap_or_default();
    delay_after(f.count).saturating_sub(since)
}

/// A device ticket for `user` issued at `now` (OWASP's "device cookie"):
/// `v1.USER.ISSUED.MAC`, the MAC an HMAC-SHA256 keyed with the user's
/// stored password hash — nothing to store, every replica can check it,
/// and a new password ends every ticket.
pub fn device_ticket(user_id: i64, password_hash: &str, now: DateTime<Utc>) -> String {
    use hmac::Mac;
    let issued = now.timestamp();
    format!(
        "v1.{user_id}.{issued}.{}",
        hex::encode(
            ticket_mac(user_id, password_hash, issued)
                .finalize()
                .into_bytes()
        )
    )
}

/// The failure key of `ticket` if it is a ticket of `user_id` (with this
/// `password_hash`) issued within [`TICKET_DAYS`] of `now`.
pub fn valid_ticket(
    ticket: &str,
    user_id: i64,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Option<String> {
    use hmac::Mac;
    let mut parts = ticket.splitn(4, '.');
    let (Some("v1"), Some(user), Some(issued), Some(mac)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let issued: i64 = issued.parse().ok()?;
    let age = now.timestamp().checked_sub(issued)?;
    if user.parse::<i64>().ok()? != user_id || !(0..TICKET_DAYS * 86_400).contains(&age) {
        return None;
    }
    let mac = hex::decode(mac).ok()?;
    ticket_mac(user_id, password_hash, issued)
        .verify_slice(&mac)
        .ok()
        .map(|()| format!("ticket:{user_id}:{issued}"))
}

fn ticket_mac(user_id: i64, password_hash: &str, issued: i64) -> hmac::Hmac<Sha256> {
    use hmac::Mac;
    let mut mac = <hmac::Hmac<Sha256> as Mac>::new_from_slice(password_hash.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"timecard device ticket v1");
    mac.update(&user_id.to_be_bytes());
    mac.update(&issued.to_be_bytes());
    mac
}

/// Why a sign-in must wait, and how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delay {
    pub wait: Duration,
    /// Whether the account (not only this address) is what is held back.
    pub account: bool,
}

/// Counts failed sign-ins (Y6, issue 11 item 8) per account — login and
/// e-mail together — and per client address, and turns them into an
/// exponential delay rather than a hard lock:
///
/// - an address that keeps failing waits longer and longer, whatever
///   accounts it tries (random logins included);
/// - an account that keeps failing makes the addresses that have been
///   failing wait; past [`ACCOUNT_BUDGET`] failures from all addresses
///   together, every address waits, so guesses do not grow with the
///   attacker's address count;
/// - a device that signed in to the account before brings its device
///   ticket ([`device_ticket`]) and is not held back by the account's
///   count: its owner is not locked out by someone guessing elsewhere. A
///   ticket with [`FREE_FAILURES`] failures of its own no longer counts.
///
/// The counts live in the store, so every replica of a server sees the
/// same ones.
pub struct SignInLimiter<'a>(pub &'a dyn Store);

impl SignInLimiter<'_> {
    /// `Some` while an attempt on `account` from `ip` has to wait.
    /// `ticket`: the failure key of a valid device ticket of the account
    /// ([`valid_ticket`]), if the attempt brings one.
    pub fn delay(
        &self,
        account: &AccountKey,
        ip: IpAddr,
        ticket: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Delay>, StoreError> {
        let (address_key, account_key) = (address_key(ip).to_key(), account.to_key());
        let ticket_key = ticket.unwrap_or("ticket:none");
        let found = self.0.sign_in_failures(
            &[&address_key, &account_key, ticket_key],
            forget_before(now),
        )?;
        let address_wait = found[0].map_or(Duration::ZERO, |f| wait(&f, now));
        let trusted_device = ticket.is_some() && found[2].is_none_or(|f| f.count < FREE_FAILURES);
        let account_wait = match (found[0], found[1]) {
            (Some(_), Some(f)) => wait(&f, now),
            (None, Some(f)) if f.count >= ACCOUNT_BUDGET && !trusted_device => wait(&f, now),
            _ => Duration::ZERO,
        };
        Ok(held_back(address_wait, account_wait))
    }

    /// Counts a failure; returns the delay it starts, if any (to log).
    pub fn failed(
        &self,
        account: &AccountKey,
        ip: IpAddr,
        ticket: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Delay>, StoreError> {
        let (address_key, account_key) = (address_key(ip).to_key(), account.to_key());
        let mut keys = vec![address_key.as_str(), account_key.as_str()];
        keys.extend(ticket);
        let counts = self
            .0
            .add_sign_in_failure(&keys, now, forget_before(now), MAX_TRACKED)?;
        Ok(held_back(
            delay_after(counts[0].count),
            delay_after(counts[1].count),
        ))
    }

    /// The right password: the account's failures are forgotten (the
    /// address's are not: signing in to one's own account must not reset
    /// the count of guesses at others).
    pub fn succeeded(&self, account: &AccountKey) -> Result<(), StoreError> {
        self.0.clear_sign_in_failures(&account.to_key())
    }
}

fn held_back(address_wait: Duration, account_wait: Duration) -> Option<Delay> {
    let wait = address_wait.max(account_wait);
    (!wait.is_zero()).then_some(Delay {
        wait,
        account: account_wait >= address_wait,
    })
}

/// Failures before this are forgotten.
fn forget_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::from_std(WINDOW).unwrap_or_default()
}

trait FailureKey {
    fn to_key(&self) -> String;
}

impl FailureKey for IpAddr {
    fn to_key(&self) -> String {
        format!("address:{self}")
    }
}

impl FailureKey for AccountKey {
    fn to_key(&self) -> String {
        match self {
            AccountKey::User(id) => format!("user:{id}"),
            AccountKey::Unknown(name) => format!("name:{name}"),
        }
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn store() -> (tempfile::TempDir, crate::store::SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        (dir, store)
    }

    fn t0() -> DateTime<Utc> {
        "2026-11-25T10:00:00Z".parse().unwrap()
    }

    // Issue 11, item 8: failures count per account — login and e-mail
    // together, as the same user id — and per address; the owner signing
    // in from an address that has not been failing is not held back.
    #[test]
    fn a_guessed_account_holds_back_the_guesser_not_its_owner() {
        let (_dir, store) = store();
        let limiter = SignInLimiter(&store);
        let ann = AccountKey::User(1);
        let (attacker, owner) = (ip("203.0.113.9"), ip("198.51.100.7"));
        let mut now = t0();
        let mut last = None;
        for _ in 0..FREE_FAILURES + 4 {
            // The guesser waits out each delay, then fails again.
            if let Some(delay) = limiter.delay(&ann, attacker, None, now).unwrap() {
                now += delay.wait;
            }
            assert!(limiter.delay(&ann, attacker, None, now).unwrap().is_none());
            last = limiter.failed(&ann, attacker, None, now).unwrap();
        }
        let started = last.expect("a delay started");
        assert_eq!(started.wait, FIRST_DELAY * 16);
        assert_eq!(
            limiter.delay(&ann, attacker, None, now).unwrap(),
            Some(started)
        );
        // The owner, from elsewhere, is not delayed.
        assert_eq!(limiter.delay(&ann, owner, None, now).unwrap(), None);
        // Another address that has failed (on another account) is held
        // back on this account too: guesses spread over addresses gain
        // one try each, not five.
        let other = ip("192.0.2.1");
        limiter
            .failed(&AccountKey::User(2), other, None, now)
            .unwrap();
        assert!(
            limiter
                .delay(&ann, other, None, now)
                .unwrap()
                .unwrap()
                .account
        );
        // The delay runs out: not a 15-minute lock.
        assert!(
            limiter
                .delay(&ann, attacker, None, now + started.wait)
                .unwrap()
                .is_none()
        );
        // Everything is forgotten after the window.
        let later = now + WINDOW + Duration::from_secs(1);
        assert!(
            limiter
                .delay(&ann, attacker, None, later)
                .unwrap()
                .is_none()
        );
        limiter
            .failed(&AccountKey::User(3), ip("192.0.2.2"), None, later)
            .unwrap();
        assert_eq!(
            store
                .sign_in_failures(&["user:1", "address:203.0.113.9"], now - WINDOW)
                .unwrap(),
            vec![None, None],
            "old counts are deleted"
        );
    }

    // Issue 23, item 3: one guess from each of many addresses stops at the
    // account's budget — every address waits then, a fresh one too — but
    // a device that signed in before brings its ticket and gets in; a
    // ticket that fails itself stops counting; a new password ends it.
    #[test]
    fn an_account_guessed_from_many_addresses_waits_except_for_its_devices() {
        let (_dir, store) = store();
        let limiter = SignInLimiter(&store);
        let ann = AccountKey::User(1);
        let now = t0();
        let phc = hash_password("right");
        let ticket = device_ticket(1, &phc, now - chrono::Duration::days(30));
        let key = valid_ticket(&ticket, 1, &phc, now).expect("a valid ticket");
        let mut guesses = 0;
        for n in 0..60u8 {
            let from = IpAddr::from([10, 0, 0, n]);
            if limiter.delay(&ann, from, None, now).unwrap().is_none() {
                guesses += 1;
                limiter.failed(&ann, from, None, now).unwrap();
            }
        }
        assert_eq!(guesses, ACCOUNT_BUDGET, "guesses from 60 addresses");
        let fresh = ip("198.51.100.7");
        assert!(
            limiter
                .delay(&ann, fresh, None, now)
                .unwrap()
                .unwrap()
                .account
        );
        // The owner's device, from a clean address, with its ticket.
        assert_eq!(limiter.delay(&ann, fresh, Some(&key), now).unwrap(), None);
        // A ticket is the account's and its password's only, and not old.
        assert!(valid_ticket(&ticket, 2, &phc, now).is_none());
        assert!(valid_ticket(&ticket, 1, &hash_password("new"), now).is_none());
        assert!(
            valid_ticket(&ticket, 1, &phc, now + chrono::Duration::days(TICKET_DAYS)).is_none()
        );
        assert!(valid_ticket(&ticket.replace("v1.1.", "v1.2."), 2, &phc, now).is_none());
        assert!(valid_ticket("v1.1.0.00", 1, &phc, now).is_none());
        // A stolen ticket guessing from elsewhere stops counting.
        for n in 0..FREE_FAILURES {
            let from = IpAddr::from([10, 1, 0, n as u8]);
            limiter.failed(&ann, from, Some(&key), now).unwrap();
        }
        assert!(
            limiter
                .delay(&ann, ip("198.51.100.8"), Some(&key), now)
                .unwrap()
                .is_some()
        );
    }

    // Random logins from one address: the address waits, whatever the name.
    #[test]
    fn an_address_trying_random_logins_waits() {
        let (_dir, store) = store();
        let limiter = SignInLimiter(&store);
        let from = ip("2001:db8::1");
        for i in 0..FREE_FAILURES {
            let who = AccountKey::unknown(&format!("random-{i}"));
            assert!(limiter.delay(&who, from, None, t0()).unwrap().is_none());
            limiter.failed(&who, from, None, t0()).unwrap();
        }
        let fresh = AccountKey::unknown("never-tried");
        let delay = limiter.delay(&fresh, from, None, t0()).unwrap().unwrap();
        assert!(!delay.account);
        // The same /64 is the same address; another network is not.
        assert!(
            limiter
                .delay(&fresh, ip("2001:db8::ffff"), None, t0())
                .unwrap()
                .is_some()
        );
        assert!(
            limiter
                .delay(&fresh, ip("2001:db8:1::1"), None, t0())
                .unwrap()
                .is_none()
        );
        // Success on an account clears that account, not the address.
        limiter.succeeded(&fresh).unwrap();
        assert!(limiter.delay(&fresh, from, None, t0()).unwrap().is_some());
    }

    #[test]
    fn the_store_keeps_a_bounded_number_of_keys() {
        let (_dir, store) = store();
        let now = t0();
        for i in 0..30 {
            let key = format!("address:{i}");
            store
                .add_sign_in_failure(&[&key], now + chrono::Duration::seconds(i), now, 20)
                .unwrap();
        }
        let kept = (0..30).map(|i| format!("address:{i}")).collect::<Vec<_>>();
        let refs: Vec<&str> = kept.iter().map(String::as_str).collect();
        let found = store.sign_in_failures(&refs, now).unwrap();
        // The newest 20 stay.
        assert!(found[..10].iter().all(Option::is_none), "{found:?}");
        assert!(found[10..].iter().all(Option::is_some), "{found:?}");
    }

    // Issue 11, item 3 and issue 23, item 2: at most a short queue of
    // sign-ins waits for the hashing threads; the rest are refused at once,
    // before anything is hashed; those taken get the right answer.
    #[test]
    fn hashing_is_bounded_and_a_full_queue_refuses_at_once() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let hashing = Hashing::new(1, 2);
            let phc = hash_password("right");
            let attempts = (0..20).map(|n| {
                let password = if n % 2 == 0 { "right" } else { "wrong" };
                hashing.verify(password.into(), Some(phc.clone()))
            });
            let answers = futures_util::future::join_all(attempts).await;
            let busy = answers.iter().filter(|a| a.is_err()).count();
            assert!(busy >= 15, "{answers:?}");
            for (n, answer) in answers.iter().enumerate() {
                match answer {
                    Ok(ok) => assert_eq!(*ok, n % 2 == 0, "attempt {n}"),
                    Err(b) => assert!(b.retry_after >= Duration::from_secs(1)),
                }
            }
            // Once the queue is empty, sign-ins are checked again.
            assert_eq!(hashing.verify("right".into(), Some(phc)).await, Ok(true));
            assert_eq!(hashing.verify("x".into(), None).await, Ok(false));
        });
    }

    #[test]
    fn tokens_are_long_and_hashed() {
        let t = new_token();
        assert_eq!(t.len(), 64);
        assert_ne!(token_hash(&t), t);
        assert_eq!(token_hash(&t).len(), 64);
    }
}
