//! `serve --demo`: a dashboard to look around a minute after building. On
//! a folder with no users it adds an admin, a client and a freelancer with
//! random passwords (printed once), a contract between the last two, and
//! last week's and today's time with screenshots, through the same store
//! and rules as real uploads.

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
        let password = auth::new_token()[..16].to_owned();
        store.add_user(login, None, &auth::hash_password(&password))?;
        store.set_role(login, role)?;
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
    }
    lines.push(format!(
        "  contract demo-web: {n} segments of last week and today; sign in at /login"
    ));
    Ok(lines)
}
