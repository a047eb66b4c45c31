//! I2: webhooks. Events are queued in the store's outbox by the use case
//! that makes them, one delivery per webhook (a unique event id, so
//! queuing again changes nothing), and a task beside the requests delivers
//! them: an HTTPS POST of a signed JSON body, again with a backoff until
//! the receiver answers 2xx, across restarts. A request never waits for a
//! receiver.

pub mod deliver;
pub mod events;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hmac::Mac;
use sha2::Sha256;

use crate::store::{Role, User};

pub use self::deliver::{DeliveryTask, run_deliveries};
pub use self::events::{Event, queue};

/// The events a webhook can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    SegmentsAccepted,
    ManualTimeAdded,
    DisputeOpened,
    DisputeAnswered,
    DisputeDecided,
    WeekApproved,
    WeekAutoApproved,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        EventKind::SegmentsAccepted,
        EventKind::ManualTimeAdded,
        EventKind::DisputeOpened,
        EventKind::DisputeAnswered,
        EventKind::DisputeDecided,
        EventKind::WeekApproved,
        EventKind::WeekAutoApproved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SegmentsAccepted => "segments.accepted",
            EventKind::ManualTimeAdded => "manual_time.added",
            EventKind::DisputeOpened => "dispute.opened",
            EventKind::DisputeAnswered => "dispute.answered",
            EventKind::DisputeDecided => "dispute.decided",
            EventKind::WeekApproved => "week.approved",
            EventKind::WeekAutoApproved => "week.auto_approved",
        }
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// What it tells, as the settings page says it.
    pub fn words(self) -> &'static str {
        match self {
            EventKind::SegmentsAccepted => "tracked time uploaded (per upload and contract)",
            EventKind::ManualTimeAdded => "manual time added",
            EventKind::DisputeOpened => "a segment disputed",
            EventKind::DisputeAnswered => "a dispute answered by the freelancer",
            EventKind::DisputeDecided => "a dispute decided (time kept or rejected)",
            EventKind::WeekApproved => "a week approved",
            EventKind::WeekAutoApproved => "a week approved automatically (nobody did in time)",
        }
    }
}

/// The page where webhooks are registered and their deliveries shown.
pub const WEBHOOKS_PATH: &str = "/settings/webhooks";

/// The request headers of a delivery.
pub const SIGNATURE_HEADER: &str = "Timecard-Signature";
pub const EVENT_ID_HEADER: &str = "Timecard-Event-Id";
pub const EVENT_HEADER: &str = "Timecard-Event";
/// Receivers should refuse a signature older than this (replays).
pub const REPLAY_WINDOW_SECS: i64 = 300;

/// `t=UNIX_SECONDS,v1=HEX`: HMAC-SHA256 with the webhook's secret over
/// `UNIX_SECONDS.BODY`.
pub fn signature(secret: &str, at: DateTime<Utc>, body: &str) -> String {
    let t = at.timestamp();
    format!("t={t},v1={}", sign(secret, t, body))
}

fn sign(secret: &str, t: i64, body: &str) -> String {
    let mut mac = <hmac::Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `header` signs `body` with `secret` within the replay window of
/// `now` (what a receiver does; used by the tests and the README example).
pub fn verify(secret: &str, header: &str, body: &str, now: DateTime<Utc>) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (now.timestamp() - t).abs() > REPLAY_WINDOW_SECS {
        return false;
    }
    let Ok(given) = hex::decode(v1) else {
        return false;
    };
    let mut mac = <hmac::Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// A new webhook secret: `whsec_` and 32 random bytes in hex.
pub fn new_secret() -> String {
    format!("whsec_{}", crate::auth::new_link_token())
}

/// The longest address taken.
pub const MAX_URL_CHARS: usize = 2000;

/// Why `url` cannot be `owner`'s webhook address, in words: it must be
/// `https://`, except `http://` to this machine (loopback) for an admin;
/// a client's may not point at this machine or a private network.
pub fn url_problem(url: &str, owner: &User) -> Option<String> {
    let url = url.trim();
    if url.chars().count() > MAX_URL_CHARS || url.chars().any(|c| c.is_control() || c == ' ') {
        return Some(format!(
            "the address must be one URL of at most {MAX_URL_CHARS} characters"
        ));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some("the address must start with https://".into());
    };
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host_port.contains('@') {
        return Some("the address may not carry a user name or password".into());
    }
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    if host.is_empty() {
        return Some("the address has no host".into());
    }
    let ip = host.parse::<std::net::IpAddr>().ok();
    let loopback = host.eq_ignore_ascii_case("localhost") || ip.is_some_and(|ip| ip.is_loopback());
    let private = loopback
        || ip.is_some_and(|ip| match ip {
            std::net::IpAddr::V4(v4) => {
                v4.is_private() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast()
            }
            std::net::IpAddr::V6(v6) => {
                v6.is_unspecified()
                    || (v6.segments()[0] & 0xfe00) == 0xfc00
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        });
    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" if loopback && owner.role == Role::Admin => {}
        "http" => {
            return Some(
                "the address must start with https:// (plain http only to this machine, for an admin's tests)"
                    .into(),
            );
        }
        _ => return Some("the address must start with https://".into()),
    }
    if private && owner.role != Role::Admin {
        return Some("a client's webhook cannot point at this machine or a private network".into());
    }
    None
}

/// What the web pages share with the delivery task: its wake-up.
#[derive(Clone, Default)]
pub struct WebhookState {
    pub wake: Arc<tokio::sync::Notify>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role) -> User {
        User {
            id: 1,
            login: "x".into(),
            email: None,
            password_hash: String::new(),
            disabled: false,
            role,
        }
    }

    // I2: a signature verifies with its secret only, over its body only,
    // within the replay window only.
    #[test]
    fn signatures_verify_with_their_secret_body_and_time() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let header = signature("whsec_a", at, "{\"id\":1}");
        assert!(header.starts_with("t=1800000000,v1="));
        assert!(verify("whsec_a", &header, "{\"id\":1}", at));
        assert!(!verify("whsec_b", &header, "{\"id\":1}", at));
        assert!(!verify("whsec_a", &header, "{\"id\":2}", at));
        let late = at + chrono::Duration::seconds(REPLAY_WINDOW_SECS + 1);
        assert!(!verify("whsec_a", &header, "{\"id\":1}", late));
        assert!(!verify("whsec_a", "t=x,v1=zz", "{}", at));
    }

    // I2: which addresses an admin and a client may register.
    #[test]
    fn webhook_addresses_are_https_and_clients_stay_off_private_networks() {
        let (admin, client) = (user(Role::Admin), user(Role::Client));
        assert_eq!(
            url_problem("https://hooks.example.com/timecard", &client),
            None
        );
        assert_eq!(url_problem("http://127.0.0.1:9000/hook", &admin), None);
        assert_eq!(url_problem("https://[::1]:9000/hook", &admin), None);
        assert!(url_problem("http://127.0.0.1:9000/hook", &client).is_some());
        assert!(url_problem("https://10.0.0.5/hook", &client).is_some());
        assert!(url_problem("https://169.254.169.254/latest", &client).is_some());
        assert!(url_problem("https://localhost/x", &client).is_some());
        assert!(url_problem("http://hooks.example.com/", &admin).is_some());
        assert!(url_problem("ftp://x/", &admin).is_some());
        assert!(url_problem("https://user:pw@x/", &admin).is_some());
        assert!(url_problem("https:///x", &admin).is_some());
        assert!(url_problem("not a url", &admin).is_some());
    }
}
