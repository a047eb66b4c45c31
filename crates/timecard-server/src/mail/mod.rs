//! The server's e-mail (M1–M5): where it is sent from (`serve --smtp
//! --mail-from --public-url`, [`MailOptions`]), the durable outbox's sender
//! ([`run_sender`]), what the mails say ([`compose`]) and which events
//! make one ([`notices`]). Requests never send mail: they queue it in the
//! store's outbox (a committed row) and wake the sender, which runs on the
//! server's runtime beside the requests.
//!
//! When is a mail done? It is queued once its row commits
//! ([`crate::store::Store::queue_mail`]); it is sent once the SMTP server
//! accepted it, and marked sent right after. A crash between the two is
//! the one window where a mail can go twice (M2); a crash at any other
//! moment loses none and repeats none.

pub mod compose;
pub mod notices;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::store::{self, QueuedMail, Store};
use timecard_core::clock::Clock;

/// The first wait after a failed attempt; each further failure doubles it.
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
/// The longest wait between attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);
/// Attempts after which a mail is given up (about half a day of trying).
pub const MAX_ATTEMPTS: u32 = 20;
/// How long a sender holds a mail it claimed before another may try it:
/// longer than an SMTP exchange may take ([`SMTP_TIMEOUT`]).
pub const CLAIM: Duration = Duration::from_secs(300);
/// How long one SMTP command may take.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the sender looks for due mail without being woken.
pub const TICK: Duration = Duration::from_secs(5);
/// How often it looks for events that make a notice (M5).
pub const NOTICE_EVERY: Duration = Duration::from_secs(15);

/// M2: the wait after the `attempts`-th failed attempt: 5 s, 10 s, 20 s …
/// up to an hour.
pub fn retry_after(attempts: u32) -> Duration {
    FIRST_RETRY
        .checked_mul(1 << attempts.saturating_sub(1).min(20))
        .unwrap_or(MAX_RETRY)
        .min(MAX_RETRY)
}

/// Where a server sends mail from, and the address its links point to.
#[derive(Clone, Debug, Default)]
pub struct MailOptions {
    /// `--smtp`; `None`: the server sends no mail (M1).
    pub smtp: Option<SmtpAddress>,
    /// The SMTP password (`--smtp-password-file`, `TIMECARD_SMTP_PASSWORD`).
    pub password: Option<String>,
    /// `--mail-from`.
    pub from: Option<Mailbox>,
    /// `--public-url`, without a trailing slash; `None`: the listen address.
    pub public_url: Option<String>,
}

/// `smtp[s]://[user@]host[:port]`, read by [`SmtpAddress::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpAddress {
    /// `smtps://`: TLS from the first byte; `smtp://`: STARTTLS.
    pub implicit_tls: bool,
    pub user: Option<String>,
    pub host: String,
    pub port: u16,
}

impl SmtpAddress {
    /// M1: reads `smtp://[user@]host[:port]` (STARTTLS, port 587 by
    /// default) or `smtps://…` (implicit TLS, port 465). A password in
    /// the address is refused: it would show in `ps`.
    pub fn parse(text: &str) -> Result<SmtpAddress, String> {
        let (implicit_tls, rest) = if let Some(rest) = text.strip_prefix("smtps://") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix("smtp://") {
            (false, rest)
        } else {
            return Err(format!(
                "{text:?} is not an SMTP address: give smtp://USER@HOST:PORT (STARTTLS) or smtps://USER@HOST:PORT (TLS)"
            ));
        };
        let rest = rest.trim_end_matches('/');
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, hostport)) => (Some(user), hostport),
            None => (None, rest),
        };
        if user.is_some_and(|u| u.contains(':')) {
            return Err(
                "put the SMTP password in --smtp-password-file or TIMECARD_SMTP_PASSWORD, not in the address"
                    .into(),
            );
        }
        let user = user.map(percent_decode).transpose()?;
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{hostport:?}: an IPv6 address needs its closing ]"))?;
            (host, after.strip_prefix(':'))
        } else {
            match hostport.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            }
        };
        if host.is_empty() || host.contains(['/', '?', '#']) {
            return Err(format!("{text:?} has no host name"));
        }
        let port = match port {
            None => {
                if implicit_tls {
                    465
                } else {
                    587
                }
            }
            Some(port) => port
                .parse()
                .map_err(|_| format!("{port:?} is not a port number"))?,
        };
        Ok(SmtpAddress {
            implicit_tls,
            user: user.filter(|u| !u.is_empty()),
            host: host.to_owned(),
            port,
        })
    }

    /// Whether the host is this machine, where plain SMTP is allowed.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl std::fmt::Display for SmtpAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.implicit_tls { "smtps" } else { "smtp" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match &self.user {
            Some(user) => write!(f, "{scheme}://{user}@{host}:{}", self.port),
            None => write!(f, "{scheme}://{host}:{}", self.port),
        }
    }
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("{text:?}: a % must be followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} is not UTF-8"))
}

/// What the rooms know of mail: whether it is sent, where links point,
/// and how to wake the sender.
#[derive(Clone, Debug)]
pub struct MailState {
    /// Whether the server sends mail (`--smtp` given).
    pub sending: bool,
    /// `https://…` without a trailing slash, for links in mails and pages.
    pub public_url: String,
    /// Wakes the sender after a mail was queued.
    pub wake: Arc<tokio::sync::Notify>,
}

impl MailState {
    /// A link to `path` (which starts with `/`) on this server.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// Queues `mail` (if the server sends mail) and wakes the sender;
    /// returns whether it was queued.
    pub fn queue(
        &self,
        store: &dyn Store,
        mail: &store::NewMail,
        now: DateTime<Utc>,
    ) -> store::Result<bool> {
        if !self.sending {
            return Ok(false);
        }
        let queued = store.queue_mail(mail, now)?;
        self.wake.notify_one();
        Ok(queued)
    }
}

/// The page where a user turns the weekly summary on or off.
pub const SETTINGS_PATH: &str = "/settings/email";

/// Settings kept in the shared `settings` table, so that the admin
/// commands (`user invite`) know what the server does.
pub const PUBLIC_URL_SETTING: &str = "mail.public_url";
pub const SENDING_SETTING: &str = "mail.sending";

/// The SMTP client the sender uses.
pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Sender {
    /// M1: STARTTLS for `smtp://` (plain only on loopback, for tests),
    /// TLS from the start for `smtps://`; certificates checked against the
    /// system's trust store, with rustls.
    pub fn new(options: &MailOptions) -> Result<Option<Sender>, String> {
        let Some(address) = &options.smtp else {
            return Ok(None);
        };
        let from = options
            .from
            .clone()
            .ok_or("--smtp needs --mail-from: the address mails come from")?;
        let tls = TlsParameters::builder(address.host.clone())
            .build_rustls()
            .map_err(|e| format!("cannot set up TLS for {}: {e}", address.host))?;
        let tls = if address.implicit_tls {
            Tls::Wrapper(tls)
        } else if address.is_loopback() {
            Tls::Opportunistic(tls)
        } else {
            Tls::Required(tls)
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&address.host)
            .port(address.port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        if let Some(user) = &address.user {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                options.password.clone().unwrap_or_default(),
            ));
        }
        Ok(Some(Sender {
            transport: builder.build(),
            from,
        }))
    }

    /// Hands one mail to the SMTP server. `Err((permanent, words))`.
    async fn send(&self, mail: &QueuedMail) -> Result<(), (bool, String)> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| (true, format!("{:?} is not an e-mail address: {e}", mail.to)))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| (true, format!("the mail cannot be built: {e}")))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| (e.is_permanent(), e.to_string()))
    }
}

/// What the sender needs besides the store.
pub struct SenderTask {
    pub store: Arc<dyn Store>,
    pub sender: Sender,
    pub state: MailState,
    pub clock: Arc<dyn Clock>,
    pub review_secs: i64,
}

/// M2: sends due mail until the server stops: claims what is due, sends
/// each, marks it sent (or due again after [`retry_after`]); every
/// [`NOTICE_EVERY`] it queues the notices events call for (M5). Woken by
/// [`MailState::queue`], otherwise every [`TICK`].
pub async fn run_sender(task: SenderTask) {
    let mut last_notices: Option<std::time::Instant> = None;
    loop {
        if last_notices.is_none_or(|t| t.elapsed() >= NOTICE_EVERY) {
            last_notices = Some(std::time::Instant::now());
            let (state, now, review_secs) =
                (task.state.clone(), task.clock.now(), task.review_secs);
            let queued = store::blocking(&task.store, move |s| {
                notices::queue_notices(s, &state, now, review_secs)
            })
            .await;
            if let Err(e) = queued {
                log::warn!("mail: notices not queued this time: {e}");
            }
        }
        let sent_any = send_due(&task).await;
        if !sent_any {
            tokio::select! {
                _ = task.state.wake.notified() => {}
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }
}

/// Claims and sends what is due; whether it claimed anything.
async fn send_due(task: &SenderTask) -> bool {
    let now = task.clock.now();
    let until = now + chrono::Duration::from_std(CLAIM).unwrap_or_default();
    let claimed = store::blocking(&task.store, move |s| {
        s.claim_mail(now, until, MAX_ATTEMPTS, 20)
    })
    .await;
    let claimed = match claimed {
        Ok(claimed) => claimed,
        Err(e) => {
            log::warn!("mail: cannot read the outbox: {e}");
            return false;
        }
    };
    for mail in &claimed {
        let outcome = task.sender.send(mail).await;
        let (id, attempts, to) = (mail.id, mail.attempts, mail.to.clone());
        let now = task.clock.now();
        let marked = match outcome {
            Ok(()) => {
                log::info!("mail: sent {:?} to {to}", mail.dedupe_key);
                store::blocking(&task.store, move |s| s.mail_sent(id, now)).await
            }
            Err((permanent, error)) => {
                let attempts = if permanent { MAX_ATTEMPTS } else { attempts };
                let wait = chrono::Duration::from_std(retry_after(attempts)).unwrap_or_default();
                if permanent || attempts >= MAX_ATTEMPTS {
                    log::error!("mail: gave up {:?} to {to}: {error}", mail.dedupe_key);
                } else {
                    log::warn!(
                        "mail: {:?} to {to} not sent (attempt {attempts}), trying again in {} s: {error}",
                        mail.dedupe_key,
                        wait.num_seconds()
                    );
                }
                let retry_at = if permanent {
                    now + chrono::Duration::days(3650)
                } else {
                    now + wait
                };
                store::blocking(&task.store, move |s| s.mail_failed(id, &error, retry_at)).await
            }
        };
        if let Err(e) = marked {
            log::error!("mail: the outcome of mail {id} was not recorded: {e}");
        }
    }
    !claimed.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    // M2: the outbox's backoff.
    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(retry_after(1), Duration::from_secs(5));
        assert_eq!(retry_after(2), Duration::from_secs(10));
        assert_eq!(retry_after(4), Duration::from_secs(40));
        assert_eq!(retry_after(12), MAX_RETRY);
        assert_eq!(retry_after(u32::MAX), MAX_RETRY);
    }

    // M1: what --smtp reads.
    #[test]
    fn smtp_addresses_are_read_with_their_defaults() {
        let a = SmtpAddress::parse("smtp://mailer%40example.com@mail.example.com").unwrap();
        assert_eq!(
            (a.implicit_tls, a.user.as_deref(), a.host.as_str(), a.port),
            (false, Some("mailer@example.com"), "mail.example.com", 587)
        );
        assert!(!a.is_loopback());
        let a = SmtpAddress::parse("smtps://relay:2465").unwrap();
        assert_eq!((a.implicit_tls, a.user, a.port), (true, None, 2465));
        let a = SmtpAddress::parse("smtp://[::1]:2525").unwrap();
        assert!(a.is_loopback());
        assert_eq!(a.to_string(), "smtp://[::1]:2525");
        assert!(
            SmtpAddress::parse("smtp://127.0.0.1:25")
                .unwrap()
                .is_loopback()
        );
        assert!(SmtpAddress::parse("http://x").is_err());
        assert!(SmtpAddress::parse("smtp://u:secret@x").is_err());
        assert!(SmtpAddress::parse("smtp://x:port").is_err());
        assert!(SmtpAddress::parse("smtp://").is_err());
    }
}
