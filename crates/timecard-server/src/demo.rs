//! Demo data, in one place for both its uses:
//!
//! - `serve --demo` ([`seed`]): a dashboard to look around a minute after
//!   building. On a folder with no users it adds an admin, a client and a
//!   freelancer with random passwords (printed once), a contract between
//!   the last two, and last week's and today's time with screenshots,
//!   through the same store and rules as real uploads.
//! - The app's built-in local server ([`seed_local`]): the account
//!   [`LOCAL_LOGIN`] with the demo contracts ([`local_contracts`]), and
//!   its password kept owner-only beside the database.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveTime, Utc};

use crate::auth;
use crate::rules::{ContractTerms, Rate};
use crate::store::{Role, Store};
use timecard_core::domain::{
    Activity, BillingWeek, Contract, ContractKind, ContractStatus, Screenshot, Segment, SegmentId,
};
use timecard_core::protocol::ServerConfig;

/// A real screen (1920×1080) and its thumbnail, for the demo's time.
const SCREEN: &[u8] = include_bytes!("../../../fixtures/screens/desktop-1920x1080.jpg");
const THUMBNAIL: &[u8] = include_bytes!("../../../fixtures/screens/desktop-thumbnail.jpg");

const MEMOS: [&str; 5] = [
    "Invoice export API",
    "Time zone bug in the weekly report",
    "Code review: sync retries",
    "Customer call and notes",
    "Dashboard layout on phones",
];

/// Seeds the demo once; returns what to print (the accounts and their
/// passwords), or nothing when the folder already has users.
pub fn seed(
    store: &dyn Store,
    config: ServerConfig,
    review_secs: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<String>> {
    if !store.users(now)?.is_empty() {
        return Ok(vec![
            "--demo: the folder already has users; nothing added".into(),
        ]);
    }
    let mut lines = vec!["demo accounts (the passwords are shown only now):".to_owned()];
    for (login, role) in [
        ("admin", Role::Admin),
        ("client", Role::Client),
        ("freelancer", Role::Freelancer),
    ] {
        let password = add_account(store, login, None, role)?;
        lines.push(format!("  {login:<10} {password}   ({})", role.as_str()));
    }
    let this_week = BillingWeek::containing(now);
    let last_week = BillingWeek::containing(this_week.start() - Duration::days(1));
    let contract = Contract {
        id: "demo-web".into(),
        title: "Web shop rebuild".into(),
        client: "Northwind Traders".into(),
        kind: ContractKind::Hourly,
        status: ContractStatus::Active,
        start_date: last_week.start().date_naive() - chrono::Days::new(30),
        weekly_limit_secs: Some(40 * 3600),
        pending_limit: None,
    };
    store.add_contract("freelancer", &contract, now)?;
    let mut stored = store
        .contract(&contract.id)?
        .ok_or_else(|| anyhow::anyhow!("the demo contract is gone"))?;
    stored.terms = ContractTerms {
        client_user_id: Some(store.find_user("client")?.map(|u| u.id).unwrap_or_default()),
        rate: Some(Rate {
            cents: 5000,
            currency: "USD".into(),
        }),
        manual_time: true,
    };
    store.save_contract(&stored)?;
    let user_id = stored.user_id;
    // Last week, Monday to Friday, 09:00–12:00 and 13:00–15:00 UTC; today
    // from 09:00 until now (at most until 12:00).
    let mut days: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for day in 0..5 {
        let date = last_week.start() + Duration::days(day);
        days.push((date + Duration::hours(9), date + Duration::hours(12)));
        days.push((date + Duration::hours(13), date + Duration::hours(15)));
    }
    let today = now.date_naive().and_time(NaiveTime::MIN).and_utc();
    let (from, to) = (
        today + Duration::hours(9),
        now.min(today + Duration::hours(12)),
    );
    if to > from {
        days.push((from, to));
    }
    let step = Duration::seconds(config.segment_secs);
    let mut n = 0u32;
    let mut last_weeks = Vec::new();
    for (from, to) in days {
        let mut segments = Vec::new();
        let mut start = from;
        while start + step <= to {
            n += 1;
            segments.push(Segment {
                id: SegmentId::random(),
                contract_id: contract.id.clone(),
                device_id: "demo-laptop".into(),
                start,
                end: start + step,
                memo: MEMOS[(n as usize / 4) % MEMOS.len()].into(),
                activity: Activity((0b11_1111_1111u16 >> (n % 4)) & !(1 << (n % 7))),
                screenshot: Some(Screenshot {
                    taken_at: start + step / 2,
                    jpeg: SCREEN.to_vec(),
                    thumbnail: THUMBNAIL.to_vec(),
                }),
                capture_note: None,
            });
            start += step;
        }
        // Judged as they would have been when uploaded.
        store.ingest(user_id, &segments, to, config)?;
        if from < this_week.start() {
            last_weeks.extend(segments.iter().map(|s| s.id));
        }
    }
    let disputes = dispute_last_week(store, &contract.id, &last_weeks, now, review_secs)?;
    lines.push(format!(
        "  contract demo-web: {n} segments of last week and today; sign in at /login"
    ));
    if disputes {
        lines.push(
            "  last week is in review: the client disputed two segments; one waits for the \
             freelancer's answer, the other for the client's decision"
                .into(),
        );
    }
    Ok(lines)
}

/// R7: last week in review as a team would find it on Monday: the client
/// disputed two segments; the freelancer answered one, the other waits
/// for an answer. Nothing when the review window has closed (a window
/// shorter than the days since Monday).
fn dispute_last_week(
    store: &dyn Store,
    contract_id: &str,
    segments: &[SegmentId],
    now: DateTime<Utc>,
    review_secs: i64,
) -> anyhow::Result<bool> {
    use crate::rules::{ReviewAction, ReviewRequest, ReviewTarget};
    let (Some(&answered), Some(&waiting)) = (segments.get(3), segments.get(segments.len() / 2))
    else {
        return Ok(false);
    };
    let week = BillingWeek::containing(now);
    if week.start() + Duration::seconds(review_secs) <= now {
        return Ok(false);
    }
    let client = store
        .find_user("client")?
        .ok_or_else(|| anyhow::anyhow!("the demo client is gone"))?;
    let freelancer = store
        .find_user("freelancer")?
        .ok_or_else(|| anyhow::anyhow!("the demo freelancer is gone"))?;
    let steps = [
        (
            &client,
            answered,
            ReviewAction::Dispute,
            "Was this the call with the supplier? It is not on our list.",
        ),
        (
            &freelancer,
            answered,
            ReviewAction::Answer,
            "Yes: the supplier call about the invoice export, agreed in Monday's stand-up.",
        ),
        (
            &client,
            waiting,
            ReviewAction::Dispute,
            "Two hours on the weekly report seems long; what was done here?",
        ),
    ];
    for (who, segment, action, note) in steps {
        let request = ReviewRequest {
            contract_id: contract_id.to_owned(),
            by_user_id: who.id,
            by_admin: false,
            target: ReviewTarget::Segment(segment),
            action,
            note: note.into(),
        };
        crate::usecases::review::step(store, &request, &who.login, now, review_secs)
            .map_err(|refusal| anyhow::anyhow!("the demo review: {refusal}"))?;
    }
    Ok(true)
}

/// Adds the account `login` with a random password, which it returns.
fn add_account(
    store: &dyn Store,
    login: &str,
    email: Option<&str>,
    role: Role,
) -> anyhow::Result<String> {
    let password = auth::new_token()[..16].to_owned();
    store.add_user(login, email, &auth::hash_password(&password))?;
    if role != Role::Freelancer {
        store.set_role(login, role)?;
    }
    Ok(password)
}

/// The login of the built-in local server's account.
pub const LOCAL_LOGIN: &str = "demo";
/// Where the built-in server keeps its account's password, in its folder.
const LOCAL_PASSWORD_FILE: &str = "demo-password";

/// The built-in local server's account, made once in the store of the
/// server folder `dir` with the demo contracts; returns its password
/// (kept owner-only in `dir`). A lost password file gives the account a
/// new password.
pub fn seed_local(store: &dyn Store, dir: &Path, now: DateTime<Utc>) -> anyhow::Result<String> {
    let password_file = dir.join(LOCAL_PASSWORD_FILE);
    let exists = store.find_user(LOCAL_LOGIN)?.is_some();
    // Through the safe reader: a named pipe in its place is refused, not
    // waited on, and the account gets a new password.
    if exists
        && let Ok(bytes) = timecard_core::fs::read::read_regular(&password_file, 1024)
        && let Ok(password) = String::from_utf8(bytes)
    {
        return Ok(password.trim().to_owned());
    }
    let password = if exists {
        let password = auth::new_token()[..16].to_owned();
        store.set_password(LOCAL_LOGIN, &auth::hash_password(&password))?;
        password
    } else {
        let password = add_account(store, LOCAL_LOGIN, Some("demo@localhost"), Role::Freelancer)?;
        for contract in local_contracts(now) {
            store.add_contract(LOCAL_LOGIN, &contract, now)?;
        }
        password
    };
    timecard_core::fs::durable::write_private(&password_file, password.as_bytes())
        .with_context(|| format!("cannot save {}", password_file.display()))?;
    Ok(password)
}

/// The built-in server's demo contracts: one hourly with a limit, one
/// without, one fixed-price, one paused, one starting in the future.
pub fn local_contracts(now: DateTime<Utc>) -> Vec<Contract> {
    let today = now.date_naive();
    let contract =
        |id: &str, title: &str, client: &str, kind, status, start, limit_h: Option<i64>| Contract {
            id: id.into(),
            title: title.into(),
            client: client.into(),
            kind,
            status,
            start_date: start,
            weekly_limit_secs: limit_h.map(|h| h * 3600),
            pending_limit: None,
        };
    use ContractKind::*;
    use ContractStatus::*;
    vec![
        contract(
            "demo-hourly",
            "Backend development",
            "Northwind Traders",
            Hourly,
            Active,
            today - Duration::days(60),
            Some(40),
        ),
        contract(
            "demo-open",
            "Support rota",
            "Contoso",
            Hourly,
            Active,
            today - Duration::days(30),
            None,
        ),
        contract(
            "demo-fixed",
            "Logo redesign",
            "Blue Yonder",
            FixedPrice,
            Active,
            today - Duration::days(14),
            None,
        ),
        contract(
            "demo-paused",
            "Data migration",
            "Fabrikam",
            Hourly,
            Paused,
            today - Duration::days(90),
            Some(20),
        ),
        contract(
            "demo-future",
            "Mobile app audit",
            "Tailspin Toys",
            Hourly,
            Active,
            today + Duration::days(3),
            Some(10),
        ),
    ]
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    // A named pipe in place of the password file is refused, not waited
    // on: the account gets a new password, kept in a regular file.
    #[test]
    fn a_named_pipe_as_the_password_file_hangs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::open_store(dir.path()).unwrap();
        let now = "2026-12-01T09:00:00Z".parse().unwrap();
        let first = seed_local(&store, dir.path(), now).unwrap();
        let file = dir.path().join(LOCAL_PASSWORD_FILE);
        std::fs::remove_file(&file).unwrap();
        let c = std::ffi::CString::new(file.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid, NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let second = seed_local(&store, dir.path(), now).unwrap();
        assert_ne!(first, second);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), second);
    }
}
