//! One store contract, two back-ends: every test body here runs against a
//! fresh SQLite file and a fresh PostgreSQL database (the shared throwaway
//! cluster), and both must answer alike — the same results, the same
//! typed errors (`NotFound`, `Conflict`, `Invalid`). The review steps are
//! raced from many threads on each (B3): one approval however many ask at
//! once, never an approved week with an open dispute, and an approved week
//! takes no more time.

use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, Utc};

use crate::common::{self, at, hourly, segment_at};
use timecard_core::domain::{BillingWeek, ReviewMark, SegmentId};
use timecard_core::protocol::{Outcome, RejectReason, ServerConfig};
use timecard_server::rules::{
    self, Closed, ReviewAction, ReviewRefusal, ReviewRequest, ReviewTarget,
};
use timecard_server::store::{LoggedDay, PgStore, Role, SqliteStore, Store, StoreError};

const CONFIG: ServerConfig = ServerConfig {
    segment_secs: 600,
    lock_grace_secs: 0,
};
const REVIEW_SECS: i64 = 5 * 86_400;

/// A fresh store of each kind (PostgreSQL only where it is installed; CI
/// requires it), with the folder the SQLite file lives in.
fn backends() -> Vec<(&'static str, Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
    let mut all: Vec<(&'static str, Arc<dyn Store>, tempfile::TempDir)> =
        vec![("sqlite", Arc::new(sqlite), dir)];
    if let Some(cluster) = common::postgres::shared() {
        let store = PgStore::open(&cluster.new_database(), None).unwrap();
        all.push(("postgres", Arc::new(store), tempfile::tempdir().unwrap()));
    }
    all
}

/// Runs `body` against each back-end, naming it in any failure.
fn each(body: impl Fn(&str, Arc<dyn Store>)) {
    for (name, store, _dir) in backends() {
        body(name, store);
    }
}

/// ann (freelancer, id 1) with `ann-c` whose client account is carl
/// (id 2); root is an admin (id 3).
fn people(store: &dyn Store) -> (i64, i64, i64) {
    let ann = store.add_user("ann", Some("ann@example.com"), "h").unwrap();
    let carl = store.add_user("carl", None, "h").unwrap();
    store.set_role("carl", Role::Client).unwrap();
    let root = store.add_user("root", None, "h").unwrap();
    store.set_role("root", Role::Admin).unwrap();
    store
        .add_contract("ann", &hourly("ann-c", None), at("2026-11-01T00:00:00Z"))
        .unwrap();
    let mut contract = store.contract("ann-c").unwrap().unwrap();
    contract.terms.client_user_id = Some(carl);
    store.save_contract(&contract).unwrap();
    (ann, carl, root)
}

fn ask(by: i64, target: ReviewTarget, action: ReviewAction, note: &str) -> ReviewRequest {
    ReviewRequest {
        contract_id: "ann-c".into(),
        by_user_id: by,
        by_admin: false,
        target,
        action,
        note: note.into(),
    }
}

/// Wednesday 25 Nov 2026, 09:00 UTC; its week ends Monday 30 Nov.
fn wednesday() -> DateTime<Utc> {
    at("2026-11-25T09:00:00Z")
}

/// A moment inside the week's review window.
fn in_review() -> DateTime<Utc> {
    at("2026-12-01T10:00:00Z")
}

fn store_segments(store: &dyn Store, ann: i64, n: i64) -> Vec<SegmentId> {
    let segments: Vec<_> = (0..n)
        .map(|i| segment_at("ann-c", "laptop", wednesday() + Duration::minutes(10 * i)))
        .collect();
    let results = store
        .ingest(ann, &segments, wednesday() + Duration::hours(12), CONFIG)
        .unwrap();
    assert!(
        results.iter().all(|r| r.outcome == Outcome::Accepted),
        "{results:?}"
    );
    segments.iter().map(|s| s.id).collect()
}

#[test]
fn users_sessions_and_missing_ones_answer_alike() {
    each(|name, store| {
        let ann = store.add_user("ann", Some("ann@example.com"), "h").unwrap();
        for clash in [
            ("ann", None),
            ("other", Some("ann@example.com")),
            ("ann@example.com", None),
        ] {
            assert!(
                matches!(
                    store.add_user(clash.0, clash.1, "h"),
                    Err(StoreError::Conflict(_))
                ),
                "{name}: {clash:?}"
            );
        }
        assert_eq!(
            store.find_user("ann@example.com").unwrap().unwrap().id,
            ann,
            "{name}"
        );
        assert!(store.find_user("nobody").unwrap().is_none(), "{name}");
        // A missing user is NotFound everywhere, on every back-end.
        for missing in [
            store.set_role("nobody", Role::Admin).map(|_| ()),
            store.set_password("nobody", "h"),
            store.set_disabled("nobody", Some(wednesday())),
            store.revoke_sessions("nobody").map(|_| ()),
            store.login_of(999).map(|_| ()),
        ] {
            assert!(
                matches!(missing, Err(StoreError::NotFound(_))),
                "{name}: {missing:?}"
            );
        }
        assert_eq!(store.login_of(ann).unwrap(), "ann", "{name}");
        let logins = store.logins(&[ann, 999]).unwrap();
        assert_eq!(logins.len(), 1, "{name}");
        assert_eq!(logins[&ann], "ann", "{name}");

        let now = wednesday();
        store
            .add_token(ann, "tok", now + Duration::days(1))
            .unwrap();
        assert_eq!(
            store.token_user("tok", now).unwrap().unwrap().login,
            "ann",
            "{name}"
        );
        assert!(
            store
                .token_user("tok", now + Duration::days(2))
                .unwrap()
                .is_none(),
            "{name}"
        );
        assert_eq!(store.sessions(Some("ann"), now).unwrap().len(), 1, "{name}");
        store.set_disabled("ann", Some(now)).unwrap();
        assert!(
            store.token_user("tok", now).unwrap().is_none(),
            "{name}: disabling ends sessions"
        );
        store.set_disabled("ann", None).unwrap();
        store
            .add_token(ann, "tok2", now + Duration::days(1))
            .unwrap();
        assert_eq!(store.revoke_sessions("ann").unwrap(), 1, "{name}");
        store.remove_token("tok2").unwrap();
    });
}

#[test]
fn contracts_and_their_terms_answer_alike() {
    each(|name, store| {
        let (ann, carl, _) = people(store.as_ref());
        let now = wednesday();
        assert!(
            matches!(
                store.add_contract("ann", &hourly("ann-c", None), now),
                Err(StoreError::Conflict(_))
            ),
            "{name}"
        );
        assert!(
            matches!(
                store.add_contract("nobody", &hourly("x", None), now),
                Err(StoreError::NotFound(_))
            ),
            "{name}"
        );
        let mut ghost = store.contract("ann-c").unwrap().unwrap();
        ghost.contract.id = "ghost".into();
        assert!(
            matches!(store.save_contract(&ghost), Err(StoreError::NotFound(_))),
            "{name}"
        );
        // R2: the freelancer can never be the contract's client account.
        let mut own = store.contract("ann-c").unwrap().unwrap();
        own.terms.client_user_id = Some(ann);
        assert!(
            matches!(store.save_contract(&own), Err(StoreError::Invalid(_))),
            "{name}"
        );
        let stored = store.contract("ann-c").unwrap().unwrap();
        assert_eq!(
            stored.terms.client_user_id,
            Some(carl),
            "{name}: nothing was saved"
        );
        assert_eq!(store.contracts(Some(ann)).unwrap().len(), 1, "{name}");
        assert_eq!(store.contracts(Some(carl)).unwrap().len(), 0, "{name}");
    });
}

#[test]
fn time_is_read_back_the_same_way() {
    each(|name, store| {
        let (ann, _, _) = people(store.as_ref());
        let ids = store_segments(store.as_ref(), ann, 3);
        // K7 and K8: again is a duplicate; other ids on the same time overlap.
        let again = segment_at("ann-c", "laptop", wednesday());
        let results = store
            .ingest(ann, &[again], wednesday() + Duration::hours(12), CONFIG)
            .unwrap();
        assert_eq!(results[0].reason, Some(RejectReason::Overlap), "{name}");
        let week = BillingWeek::containing(wednesday());
        let ids_of = |c: &str| vec![c.to_owned()];
        assert_eq!(
            store
                .logged_by_contract(&ids_of("ann-c"), week.start(), week.end())
                .unwrap()["ann-c"],
            1800,
            "{name}"
        );
        // Clipped to the span.
        let from = wednesday() + Duration::minutes(5);
        assert_eq!(
            store
                .logged_secs("ann-c", from, from + Duration::minutes(10))
                .unwrap(),
            600,
            "{name}"
        );
        assert_eq!(
            store
                .logged_by_week(
                    &ids_of("ann-c"),
                    week.start() - Duration::weeks(2),
                    week.end()
                )
                .unwrap(),
            vec![("ann-c".to_owned(), week.start(), 1800)],
            "{name}"
        );
        assert_eq!(
            store.last_activity(&ids_of("ann-c")).unwrap()["ann-c"],
            wednesday() + Duration::minutes(30),
            "{name}"
        );
        let day = (
            wednesday() - Duration::hours(9),
            wednesday() + Duration::hours(15),
        );
        let by_user = store.segments_between(ann, day.0, day.1).unwrap();
        let by_contract = store.contract_segments("ann-c", day.0, day.1).unwrap();
        assert_eq!(by_user, by_contract, "{name}");
        let of_several = store
            .contracts_segments(&["nobody".into(), "ann-c".into()], day.0, day.1)
            .unwrap();
        assert_eq!(of_several, by_contract, "{name}: the reports' query");
        assert_eq!(
            by_user.iter().map(|s| s.id).collect::<Vec<_>>(),
            ids,
            "{name}: oldest first"
        );
        let some = store
            .segments_by_ids(ann, &[ids[2], ids[0], SegmentId::random()])
            .unwrap();
        assert_eq!(
            some.iter().map(|s| s.id).collect::<Vec<_>>(),
            vec![ids[0], ids[2]],
            "{name}"
        );
        assert!(
            store.segments_by_ids(ann + 1, &ids).unwrap().is_empty(),
            "{name}: ann's only"
        );
        assert!(
            store
                .contract_segments("ann-c", day.1, day.1 + Duration::days(1))
                .unwrap()
                .is_empty()
        );
    });
}

// R12: the reports' sums per day of 24 hours from `from`, clipped to the
// span, a segment across midnight in both its days, manual time apart; and
// the disputed segments read by id, of the given contracts only.
#[test]
fn sums_per_day_answer_alike() {
    each(|name, store| {
        let (ann, _, _) = people(store.as_ref());
        let midnight = at("2026-11-26T00:00:00Z");
        let tracked: Vec<_> = [-30, -5, 60]
            .iter()
            .map(|m| segment_at("ann-c", "laptop", midnight + Duration::minutes(*m)))
            .collect();
        let now = midnight + Duration::hours(4);
        let results = store.ingest(ann, &tracked, now, CONFIG).unwrap();
        assert!(
            results.iter().all(|r| r.outcome == Outcome::Accepted),
            "{name}: {results:?}"
        );
        let manual = timecard_core::domain::Segment {
            device_id: rules::MANUAL_DEVICE.into(),
            screenshot: None,
            ..segment_at("ann-c", "laptop", midnight + Duration::hours(2))
        };
        assert_eq!(
            store.add_manual(ann, &[manual], now, CONFIG).unwrap(),
            Ok(()),
            "{name}"
        );
        let day = |contract: &str, day: DateTime<Utc>, manual: bool, secs: i64| LoggedDay {
            contract_id: contract.into(),
            day,
            manual,
            secs,
        };
        let ids = vec!["nobody".to_owned(), "ann-c".to_owned()];
        let (from, to) = (midnight - Duration::days(1), midnight + Duration::days(1));
        assert_eq!(
            store.logged_by_day(&ids, from, to).unwrap(),
            vec![
                day("ann-c", from, false, 600 + 300),
                day("ann-c", midnight, false, 300 + 600),
                day("ann-c", midnight, true, 600),
            ],
            "{name}"
        );
        // Days counted from `from`, and the span's end clips.
        let from = midnight - Duration::minutes(25);
        assert_eq!(
            store
                .logged_by_day(&ids, from, midnight + Duration::minutes(2))
                .unwrap(),
            vec![day("ann-c", from, false, 300 + 420)],
            "{name}"
        );
        assert!(
            store
                .logged_by_day(&ids, midnight + Duration::hours(3), now)
                .unwrap()
                .is_empty(),
            "{name}"
        );
        let wanted = [tracked[2].id, tracked[0].id, SegmentId::random()];
        let found = store.contracts_segments_by_ids(&ids, &wanted).unwrap();
        assert_eq!(
            found.iter().map(|s| s.id).collect::<Vec<_>>(),
            vec![tracked[0].id, tracked[2].id],
            "{name}: oldest first"
        );
        assert!(
            store
                .contracts_segments_by_ids(&["nobody".into()], &wanted)
                .unwrap()
                .is_empty(),
            "{name}: of the given contracts only"
        );
    });
}

// R7, B3: the steps of a review, their refusals, and the week closing at
// approval: no upload, manual time or deletion after it.
#[test]
fn a_review_runs_the_same_on_both_stores() {
    each(|name, store| {
        let (ann, carl, root) = people(store.as_ref());
        let ids = store_segments(store.as_ref(), ann, 2);
        let week = BillingWeek::containing(wednesday());
        let step = |request: ReviewRequest, now| store.review(&request, now, REVIEW_SECS).unwrap();
        use ReviewAction as A;
        use ReviewTarget as T;
        assert_eq!(
            step(ask(carl, T::Week(week), A::Approve, ""), wednesday()),
            Err(ReviewRefusal::NotAllowed("the week has not ended yet")),
            "{name}"
        );
        // Nobody reviews their own time, admin or not.
        let mut own = ask(ann, T::Segment(ids[0]), A::Dispute, "mine");
        own.by_admin = true;
        assert!(
            matches!(step(own, in_review()), Err(ReviewRefusal::NotAllowed(_))),
            "{name}"
        );
        assert_eq!(
            step(
                ask(carl, T::Segment(SegmentId::random()), A::Dispute, "x"),
                in_review()
            ),
            Err(ReviewRefusal::NoSuchSegment),
            "{name}"
        );
        let missing = ReviewRequest {
            contract_id: "nope".into(),
            ..ask(carl, T::Week(week), A::Approve, "")
        };
        assert!(
            matches!(
                store.review(&missing, in_review(), REVIEW_SECS),
                Err(StoreError::NotFound(_))
            ),
            "{name}"
        );
        step(
            ask(carl, T::Segment(ids[0]), A::Dispute, "a meeting"),
            in_review(),
        )
        .unwrap();
        step(
            ask(ann, T::Segment(ids[0]), A::Answer, "pairing"),
            in_review(),
        )
        .unwrap();
        let mut admin = ask(root, T::Segment(ids[0]), A::Reject, "");
        admin.by_admin = true;
        step(admin, in_review()).unwrap();
        let approved_at = in_review() + Duration::hours(1);
        step(ask(carl, T::Week(week), A::Approve, ""), approved_at).unwrap();
        let events = store.reviews("ann-c").unwrap();
        assert_eq!(
            events.iter().map(|e| e.action).collect::<Vec<_>>(),
            vec![A::Dispute, A::Answer, A::Reject, A::Approve],
            "{name}"
        );
        assert_eq!(
            rules::disputes(&events)[0].mark(),
            ReviewMark::Rejected,
            "{name}"
        );
        assert_eq!(
            store
                .reviews_of(&["ann-c".into()], Some(week.start() + Duration::weeks(1)))
                .unwrap(),
            vec![],
            "{name}: since a later week"
        );

        // The week is closed: even with a long grace, nothing changes.
        let grace = ServerConfig {
            lock_grace_secs: 4 * 86_400,
            ..CONFIG
        };
        let later = approved_at + Duration::hours(1);
        let late = segment_at("ann-c", "laptop", wednesday() + Duration::hours(5));
        let results = store
            .ingest(ann, std::slice::from_ref(&late), later, grace)
            .unwrap();
        assert_eq!(
            results[0].reason,
            Some(RejectReason::WeekLocked),
            "{name}: {results:?}"
        );
        assert!(
            matches!(
                store.add_manual(ann, &[late], later, grace).unwrap(),
                Err((RejectReason::WeekLocked, _))
            ),
            "{name}"
        );
        assert_eq!(
            store
                .delete_segment(ann, ids[1], later, grace.lock_grace_secs)
                .unwrap(),
            Err(Closed::Approved(week, approved_at)),
            "{name}"
        );
        assert!(
            matches!(
                store.delete_segment(ann, SegmentId::random(), later, 0),
                Err(StoreError::NotFound(_))
            ),
            "{name}"
        );
        assert_eq!(
            store
                .contract_segments("ann-c", week.start(), week.end())
                .unwrap()
                .len(),
            2
        );
    });
}

// B3: 50 approvals at once store one.
#[test]
fn fifty_parallel_approvals_store_one() {
    each(|name, store| {
        let (ann, carl, _) = people(store.as_ref());
        store_segments(store.as_ref(), ann, 1);
        let week = BillingWeek::containing(wednesday());
        let start = Arc::new(Barrier::new(50));
        let threads: Vec<_> = (0..50)
            .map(|_| {
                let (store, start) = (store.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    store.review(
                        &ask(carl, ReviewTarget::Week(week), ReviewAction::Approve, ""),
                        in_review(),
                        REVIEW_SECS,
                    )
                })
            })
            .collect();
        let taken = threads
            .into_iter()
            .map(|t| t.join().unwrap().unwrap())
            .filter(Result::is_ok)
            .count();
        assert_eq!(taken, 1, "{name}");
        let approvals = store
            .reviews("ann-c")
            .unwrap()
            .into_iter()
            .filter(|e| e.action == ReviewAction::Approve)
            .count();
        assert_eq!(approvals, 1, "{name}");
    });
}

// B3: 25 disputes racing 25 approvals never leave an approved week with a
// dispute that nobody can answer or decide.
#[test]
fn disputes_racing_approvals_never_leave_an_open_dispute_in_an_approved_week() {
    each(|name, store| {
        let (ann, carl, _) = people(store.as_ref());
        let ids = store_segments(store.as_ref(), ann, 25);
        let week = BillingWeek::containing(wednesday());
        let start = Arc::new(Barrier::new(50));
        let threads: Vec<_> = (0..50)
            .map(|i| {
                let (store, start) = (store.clone(), start.clone());
                let request = if i % 2 == 0 {
                    ask(
                        carl,
                        ReviewTarget::Segment(ids[i / 2]),
                        ReviewAction::Dispute,
                        "why?",
                    )
                } else {
                    ask(carl, ReviewTarget::Week(week), ReviewAction::Approve, "")
                };
                std::thread::spawn(move || {
                    start.wait();
                    store.review(&request, in_review(), REVIEW_SECS).unwrap()
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().ok();
        }
        let events = store.reviews("ann-c").unwrap();
        let approved = events.iter().any(|e| e.action == ReviewAction::Approve);
        let open = rules::disputes(&events)
            .iter()
            .filter(|d| d.decision.is_none())
            .count();
        assert!(
            !(approved && open > 0),
            "{name}: approved with {open} open dispute(s)"
        );
        if approved {
            // Whatever was disputed came before the approval.
            let at = events
                .iter()
                .position(|e| e.action == ReviewAction::Approve)
                .unwrap();
            assert!(
                events[at..]
                    .iter()
                    .all(|e| e.action != ReviewAction::Dispute),
                "{name}"
            );
        }
    });
}

#[test]
fn shared_state_answers_alike() {
    each(|name, store| {
        assert_eq!(store.maintenance().unwrap(), None, "{name}");
        store.set_maintenance(Some(30)).unwrap();
        assert_eq!(store.maintenance().unwrap(), Some(30), "{name}");
        store.set_maintenance(None).unwrap();
        assert_eq!(store.maintenance().unwrap(), None, "{name}");
        let (now, since) = (wednesday(), wednesday() - Duration::minutes(15));
        let counts = store
            .add_sign_in_failure(&["a", "b"], now, since, 10)
            .unwrap();
        assert_eq!(
            counts.iter().map(|f| f.count).collect::<Vec<_>>(),
            vec![1, 1],
            "{name}"
        );
        store.add_sign_in_failure(&["a"], now, since, 10).unwrap();
        let seen = store.sign_in_failures(&["a", "b", "c"], since).unwrap();
        assert_eq!(
            seen.iter().map(|f| f.map(|f| f.count)).collect::<Vec<_>>(),
            vec![Some(2), Some(1), None],
            "{name}"
        );
        store.clear_sign_in_failures("a").unwrap();
        assert!(
            store.sign_in_failures(&["a"], since).unwrap()[0].is_none(),
            "{name}"
        );
    });
}

// M2, M3, M4: the outbox and one-time links answer alike: a dedupe key
// queues once, a claimed mail is not claimed again before its claim ends,
// a sent one never again; a link works once, before it expires, and
// using it sets the password and ends the sessions in one step.
#[test]
fn mail_and_one_time_links_answer_alike() {
    use timecard_server::store::{LinkPurpose, NewLink, NewMail};
    each(|name, store| {
        let (ann, _, _) = people(store.as_ref());
        let now = at("2026-11-25T10:00:00Z");
        let mail = |key: &str| NewMail {
            dedupe_key: key.into(),
            to: "ann@example.com".into(),
            subject: "Subject".into(),
            body: "Body\n".into(),
        };
        assert!(store.queue_mail(&mail("a"), now).unwrap(), "{name}");
        assert!(!store.queue_mail(&mail("a"), now).unwrap(), "{name}: once");
        assert!(store.queue_mail(&mail("b"), now).unwrap(), "{name}");
        let queued = store
            .mails_queued(&["a".into(), "b".into(), "c".into()])
            .unwrap();
        assert_eq!(queued.len(), 2, "{name}");

        let until = now + Duration::minutes(5);
        let claimed = store.claim_mail(now, until, 20, 10).unwrap();
        assert_eq!(
            claimed
                .iter()
                .map(|m| m.dedupe_key.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"],
            "{name}"
        );
        assert_eq!(claimed[0].attempts, 1, "{name}");
        assert!(
            store.claim_mail(now, until, 20, 10).unwrap().is_empty(),
            "{name}: claimed ones wait"
        );
        store.mail_sent(claimed[0].id, now).unwrap();
        store
            .mail_failed(claimed[1].id, "refused", now + Duration::seconds(5))
            .unwrap();
        let later = now + Duration::minutes(10);
        let again = store.claim_mail(later, later, 20, 10).unwrap();
        assert_eq!(again.len(), 1, "{name}: only the failed one again");
        assert_eq!((again[0].dedupe_key.as_str(), again[0].attempts), ("b", 2));
        assert!(store.claim_mail(later, later, 2, 10).unwrap().is_empty());
        let listed = store.outbox(10).unwrap();
        assert_eq!(listed[1].sent_at, Some(now), "{name}");
        assert_eq!(listed[0].last_error.as_deref(), Some("refused"), "{name}");

        store
            .add_token(ann, "session", now + Duration::days(1))
            .unwrap();
        store
            .add_link(&NewLink {
                hash: "h".into(),
                purpose: LinkPurpose::Reset,
                user_id: ann,
                created_at: now,
                expires_at: now + Duration::hours(1),
            })
            .unwrap();
        assert!(
            store
                .link_user("h", LinkPurpose::Invitation, now)
                .unwrap()
                .is_none(),
            "{name}: a link is for one purpose"
        );
        assert_eq!(
            store
                .link_user("h", LinkPurpose::Reset, now)
                .unwrap()
                .unwrap()
                .id,
            ann
        );
        let late = now + Duration::hours(2);
        assert!(
            store
                .use_link("h", LinkPurpose::Reset, late, "new")
                .unwrap()
                .is_none()
        );
        let user = store
            .use_link("h", LinkPurpose::Reset, now, "new")
            .unwrap()
            .unwrap();
        assert_eq!(
            (user.id, user.password_hash.as_str()),
            (ann, "new"),
            "{name}"
        );
        assert!(
            store.token_user("session", now).unwrap().is_none(),
            "{name}: sessions end"
        );
        assert!(
            store
                .use_link("h", LinkPurpose::Reset, now, "x")
                .unwrap()
                .is_none(),
            "{name}: once"
        );

        assert!(matches!(
            store.set_email("carl", Some("ann@example.com")),
            Err(StoreError::Conflict(_))
        ));
        store.set_email("carl", Some("carl@example.com")).unwrap();
        store.set_weekly_summary(ann, false).unwrap();
        let people = store.recipients(&[ann, 999]).unwrap();
        assert_eq!(people.len(), 1, "{name}");
        assert!(!people[&ann].weekly_summary, "{name}");
        assert_eq!(store.setting("mail.x").unwrap(), None);
        store.set_setting("mail.x", Some("1")).unwrap();
        assert_eq!(store.setting("mail.x").unwrap().as_deref(), Some("1"));
    });
}

// I1, I2: API tokens and the webhooks' outbox answer alike: a token's
// scope and expiry, revocation by owner only; an event queued twice is one
// delivery, a claim holds it, a failure run turns the webhook off, and a
// webhook turned on again gets what waited.
#[test]
fn api_tokens_and_webhook_deliveries_answer_alike() {
    use timecard_server::store::{Attempt, NewApiToken, NewEvent, NewWebhook, Scope};
    each(|name, store| {
        let (ann, carl, root) = people(store.as_ref());
        let now = at("2026-11-25T12:00:00Z");
        let token = NewApiToken {
            user_id: ann,
            name: "export".into(),
            hash: "h1".into(),
            scope: Scope::Read,
            created_at: now,
            expires_at: now + Duration::days(1),
        };
        let id = store.add_api_token(&token).unwrap();
        let (user, scope) = store.api_token_user("h1", now).unwrap().unwrap();
        assert_eq!((user.id, scope), (ann, Scope::Read), "{name}");
        let listed = store.api_tokens(Some(ann)).unwrap();
        assert_eq!(listed[0].last_used_at, Some(now), "{name}");
        assert!(
            store
                .api_token_user("h1", now + Duration::days(1))
                .unwrap()
                .is_none()
        );
        assert_eq!(store.api_token_id("h1").unwrap(), Some(id));
        assert!(!store.revoke_api_token(id, Some(carl)).unwrap(), "{name}");
        assert!(store.revoke_api_token(id, Some(ann)).unwrap(), "{name}");
        assert!(store.api_token_user("h1", now).unwrap().is_none(), "{name}");

        let hook = store
            .add_webhook(&NewWebhook {
                owner_id: root,
                all_contracts: true,
                url: "https://hooks.example.com/x".into(),
                secret: "whsec_x".into(),
                events: vec!["week.approved".into()],
                created_at: now,
            })
            .unwrap();
        let event = NewEvent {
            event_id: "evt_1".into(),
            kind: "week.approved".into(),
            body: "{}".into(),
        };
        assert_eq!(
            store.queue_event(&event, &[hook], now).unwrap(),
            1,
            "{name}"
        );
        assert_eq!(
            store.queue_event(&event, &[hook], now).unwrap(),
            0,
            "{name}"
        );
        let until = now + Duration::minutes(1);
        let claimed = store.claim_deliveries(now, until, 10).unwrap();
        assert_eq!(claimed.len(), 1, "{name}");
        assert_eq!(
            (claimed[0].attempts, claimed[0].secret.as_str()),
            (1, "whsec_x"),
            "{name}"
        );
        assert!(
            store.claim_deliveries(now, until, 10).unwrap().is_empty(),
            "{name}: held"
        );
        let failed = |at: DateTime<Utc>| Attempt {
            delivery_id: claimed[0].id,
            webhook_id: hook,
            at,
            delivered: false,
            status: Some(500),
            response: "down".into(),
            retry_at: at,
            disable_after: 2,
        };
        assert!(!store.record_attempt(&failed(now)).unwrap(), "{name}");
        assert!(
            store.record_attempt(&failed(now)).unwrap(),
            "{name}: turned off"
        );
        let off = &store.webhooks(None).unwrap()[0];
        assert!(
            off.disabled_reason.as_deref().unwrap().contains("2 failed"),
            "{name}"
        );
        assert!(
            store.claim_deliveries(until, until, 10).unwrap().is_empty(),
            "{name}: off"
        );
        assert!(
            store
                .set_webhook_enabled(hook, Some(root), true, now)
                .unwrap()
        );
        let again = store.claim_deliveries(until, until, 10).unwrap();
        assert_eq!(again.len(), 1, "{name}: waited while off");
        let mut done = failed(until);
        done.delivered = true;
        done.status = Some(200);
        assert!(!store.record_attempt(&done).unwrap());
        let log = store.deliveries(hook, 10).unwrap();
        assert_eq!(
            (log[0].delivered_at, log[0].last_status),
            (Some(until), Some(200)),
            "{name}"
        );
        assert_eq!(
            store
                .prune_deliveries(until + Duration::seconds(1))
                .unwrap(),
            1
        );
        assert!(!store.delete_webhook(hook, Some(carl)).unwrap(), "{name}");
        assert!(store.delete_webhook(hook, None).unwrap(), "{name}");
        assert!(store.webhooks(None).unwrap().is_empty());
    });
}
