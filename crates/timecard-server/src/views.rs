//! The server's read side: what each face shows, built once from the store
//! in a bounded number of queries (never one per contract or per row) and
//! computed with the one definition of worked and billed time in
//! [`timecard_core::domain::billing`] (B1, B2). The API's diary, the web
//! diary, the timesheet, the CSV, the statement and the contract lists all
//! render these; none adds segments up itself.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::rules::{
    self, Dispute, ReviewAction, ReviewEvent, Reviewer, StoredContract, WeekReview,
};
use crate::store::{LoggedDay, Result, Store, User};
use timecard_core::domain::billing::{self, Totals};
use timecard_core::domain::{BillingWeek, LocalDay, ReviewMark, SegmentId};
use timecard_core::protocol::{
    ContractInfo, ContractTotal, ContractsResponse, DiaryResponse, DiarySegment, DisputeInfo,
    ServerConfig,
};

/// A contract's weekly review (R7) as one person sees it: every event, the
/// disputes, and what that person is to the contract.
#[derive(Clone, Debug)]
pub struct ReviewView {
    pub events: Vec<ReviewEvent>,
    pub disputes: Vec<Dispute>,
    pub who: Reviewer,
    now: DateTime<Utc>,
    review_secs: i64,
}

impl ReviewView {
    /// The review of `contract` for `viewer` at `now` (one query).
    pub fn load(
        store: &dyn Store,
        contract: &StoredContract,
        viewer: &User,
        now: DateTime<Utc>,
        review_secs: i64,
    ) -> Result<ReviewView> {
        let events = store.reviews(&contract.contract.id)?;
        Ok(ReviewView::of(
            events,
            rules::reviewer(viewer.id, viewer.role.is_admin(), contract),
            now,
            review_secs,
        ))
    }

    fn of(events: Vec<ReviewEvent>, who: Reviewer, now: DateTime<Utc>, review_secs: i64) -> Self {
        ReviewView {
            disputes: rules::disputes(&events),
            events,
            who,
            now,
            review_secs,
        }
    }

    pub fn dispute(&self, id: SegmentId) -> Option<&Dispute> {
        self.disputes.iter().find(|d| d.segment_id == id)
    }

    /// Where a segment stands in the review (B1).
    pub fn mark(&self, id: SegmentId) -> ReviewMark {
        self.dispute(id).map_or(ReviewMark::None, Dispute::mark)
    }

    /// Where `week` stands in the review now.
    pub fn week(&self, week: BillingWeek) -> WeekReview {
        rules::week_review(week, self.now, self.review_secs, &self.events)
    }

    /// Whether the viewer may take `action` on `segment` now (the forms a
    /// page shows); the store checks again when the step is taken.
    pub fn may(&self, action: ReviewAction, segment: &DiarySegment) -> bool {
        let week = self.week(BillingWeek::containing(segment.start));
        rules::may_review(self.who, action, week, self.dispute(segment.id)).is_ok()
    }

    /// Whether the viewer may approve `week` now: in review, and every
    /// dispute of its segments decided.
    pub fn may_approve(&self, week: BillingWeek) -> bool {
        rules::may_review(self.who, ReviewAction::Approve, self.week(week), None).is_ok()
            && self.open_disputes(week) == 0
    }

    /// The events of `week`, oldest first.
    pub fn log(&self, week: BillingWeek) -> Vec<&ReviewEvent> {
        self.events
            .iter()
            .filter(|e| e.week_start == week.start())
            .collect()
    }

    /// Disputes of `week`'s segments the client has not decided.
    pub fn open_disputes(&self, week: BillingWeek) -> usize {
        self.disputes
            .iter()
            .filter(|d| {
                d.decision.is_none()
                    && self
                        .events
                        .iter()
                        .any(|e| e.week_start == week.start() && e.segment_id == Some(d.segment_id))
            })
            .count()
    }

    /// The disputes waiting for the viewer, with their week: for the
    /// freelancer those not answered yet, for the client those answered
    /// and not decided; only in weeks still in review (R7), oldest first.
    pub fn needing_action(&self) -> Vec<(&Dispute, BillingWeek)> {
        let mut needing: Vec<(&Dispute, BillingWeek)> = self
            .disputes
            .iter()
            .filter(|d| {
                d.decision.is_none()
                    && match self.who {
                        Reviewer::Freelancer => d.answer.is_none(),
                        Reviewer::Client => d.answer.is_some(),
                        Reviewer::Other => false,
                    }
            })
            .filter_map(|d| {
                let event = self.events.iter().find(|e| {
                    e.segment_id == Some(d.segment_id) && e.action == ReviewAction::Dispute
                })?;
                let week = BillingWeek::containing(event.week_start);
                matches!(self.week(week), WeekReview::InReview { .. }).then_some((d, week))
            })
            .collect();
        needing.sort_by_key(|(d, _)| d.disputed_at);
        needing
    }

    /// Marks each segment with its dispute, in words and as a mark.
    pub fn mark_all(&self, segments: &mut [DiarySegment]) {
        for segment in segments {
            if let Some(d) = self.dispute(segment.id) {
                segment.dispute = Some(d.in_words());
                segment.review = d.mark();
            }
        }
    }
}

/// One local day of time (the API's diary, the web diary): every segment
/// with its review mark, each contract's totals and the day's (B1).
#[derive(Clone, Debug)]
pub struct DayView {
    pub day: LocalDay,
    pub segments: Vec<DiarySegment>,
    pub totals: Vec<ContractTotal>,
    pub total: Totals,
    /// W4: the day's billing week has locked.
    pub locked: bool,
    /// S1: the server's grid.
    pub segment_secs: i64,
}

impl DayView {
    /// A user's day over all their contracts (the API's diary): three
    /// queries, whatever the number of contracts.
    pub fn of_user(
        store: &dyn Store,
        user_id: i64,
        day: LocalDay,
        now: DateTime<Utc>,
        config: ServerConfig,
    ) -> Result<DayView> {
        let mut segments = store.segments_between(user_id, day.start(), day.end())?;
        let mut contract_ids: Vec<String> =
            segments.iter().map(|s| s.contract_id.clone()).collect();
        contract_ids.sort();
        contract_ids.dedup();
        let mut events: HashMap<String, Vec<ReviewEvent>> = HashMap::new();
        for (contract_id, event) in store.reviews_of(&contract_ids, None)? {
            events.entry(contract_id).or_default().push(event);
        }
        // Marks only: nobody acts on them here, so who is asking is moot.
        for (contract_id, events) in events {
            let review = ReviewView::of(events, Reviewer::Freelancer, now, 0);
            let mine: Vec<&mut DiarySegment> = segments
                .iter_mut()
                .filter(|s| s.contract_id == contract_id)
                .collect();
            for segment in mine {
                if let Some(d) = review.dispute(segment.id) {
                    segment.dispute = Some(d.in_words());
                    segment.review = d.mark();
                }
            }
        }
        Ok(DayView::of(day, segments, now, config))
    }

    /// One contract's day (the web diary), marked with `review`: one query.
    pub fn of_contract(
        store: &dyn Store,
        contract: &StoredContract,
        review: &ReviewView,
        day: LocalDay,
        now: DateTime<Utc>,
        config: ServerConfig,
    ) -> Result<DayView> {
        let mut segments =
            store.contract_segments(&contract.contract.id, day.start(), day.end())?;
        review.mark_all(&mut segments);
        Ok(DayView::of(day, segments, now, config))
    }

    fn of(
        day: LocalDay,
        segments: Vec<DiarySegment>,
        now: DateTime<Utc>,
        config: ServerConfig,
    ) -> DayView {
        let (from, to) = (day.start(), day.end());
        DayView {
            totals: Totals::per_contract(&segments, from, to)
                .into_iter()
                .map(|(id, totals)| ContractTotal::new(id, totals))
                .collect(),
            total: Totals::of(&segments, from, to),
            locked: BillingWeek::containing(from).is_locked(now, config.lock_grace_secs),
            segment_secs: config.segment_secs,
            day,
            segments,
        }
    }

    /// B2: the day's hour rows with the cells a face draws, every segment
    /// in one of them.
    pub fn rows(&self) -> Vec<billing::HourRow> {
        billing::lay_out_day(
            self.day,
            &self.segments,
            billing::cell_secs(self.segment_secs),
        )
    }

    /// The API's answer.
    pub fn into_response(self) -> DiaryResponse {
        DiaryResponse {
            date: self.day.date,
            tz: self.day.tz.name().to_owned(),
            day_start: self.day.start(),
            day_end: self.day.end(),
            hours: self.day.len_secs() / 3600,
            segments: self.segments,
            totals: self.totals,
            total: self.total,
            locked: self.locked,
            segment_secs: self.segment_secs,
        }
    }
}

/// A contract's time over a span of UTC days (the timesheet's week, the
/// statement, the CSV): every segment with its mark, each day's totals and
/// the span's (B1), and the amount at the contract's rate.
#[derive(Clone, Debug)]
pub struct SpanView {
    pub contract: StoredContract,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub segments: Vec<DiarySegment>,
    pub total: Totals,
    /// The billable time at the contract's rate, in its currency's cents.
    pub amount_cents: Option<i64>,
}

impl SpanView {
    /// `[from, to)` of `contract`, marked with `review`: one query.
    pub fn load(
        store: &dyn Store,
        contract: &StoredContract,
        review: &ReviewView,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<SpanView> {
        let mut segments = store.contract_segments(&contract.contract.id, from, to)?;
        review.mark_all(&mut segments);
        Ok(SpanView::of(contract, segments, from, to))
    }

    /// The span of `segments` (already marked) of `contract`.
    fn of(
        contract: &StoredContract,
        segments: Vec<DiarySegment>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> SpanView {
        let total = Totals::of(&segments, from, to);
        SpanView {
            amount_cents: amount(contract, &total),
            contract: contract.clone(),
            from,
            to,
            segments,
            total,
        }
    }

    /// Each UTC day of the span with its totals.
    pub fn days(&self) -> Vec<(NaiveDate, Totals)> {
        let mut days = Vec::new();
        let mut day = self.from;
        while day < self.to {
            let next = (day + Duration::days(1)).min(self.to);
            days.push((day.date_naive(), Totals::of(&self.segments, day, next)));
            day = next;
        }
        days
    }

    /// Seconds of `segment` inside the span.
    pub fn secs_of(&self, segment: &DiarySegment) -> i64 {
        billing::secs_within(segment.start, segment.end, self.from, self.to)
    }
}

/// The billable time of `total` at `contract`'s rate, in its currency's
/// cents.
fn amount(contract: &StoredContract, total: &Totals) -> Option<i64> {
    contract
        .terms
        .rate
        .as_ref()
        .map(|rate| billing::amount_cents(total.billable_secs, rate.cents))
}

/// The people a page names, by id (one query).
pub fn names(store: &dyn Store, ids: impl IntoIterator<Item = i64>) -> Result<Names> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(Names(store.logins(&ids)?))
}

/// Logins by user id.
#[derive(Clone, Debug, Default)]
pub struct Names(HashMap<i64, String>);

impl Names {
    pub fn of(&self, id: i64) -> &str {
        self.0.get(&id).map_or("(deleted user)", String::as_str)
    }
}

/// One contract on the dashboard's list.
#[derive(Clone, Debug)]
pub struct ContractLine {
    /// As in force now (a pending limit that came due is the limit).
    pub stored: StoredContract,
    pub week_secs: i64,
    pub last_activity: Option<DateTime<Utc>>,
    /// Billing weeks that ended, have time, and wait for the client's review.
    pub waiting: Vec<BillingWeek>,
    /// The week of each dispute waiting for the viewer's answer or
    /// decision ([`ReviewView::needing_action`]).
    pub needing: Vec<BillingWeek>,
}

/// The dashboard's contract list: the contracts `viewer` may see (R3) with
/// this week's time, the last activity and the weeks waiting for review, in
/// five queries whatever their number.
pub fn contract_lines(
    store: &dyn Store,
    viewer: &User,
    now: DateTime<Utc>,
    review_secs: i64,
) -> Result<(Vec<ContractLine>, Names)> {
    let contracts: Vec<StoredContract> = store
        .contracts(None)?
        .into_iter()
        .filter(|c| rules::may_view(viewer.id, viewer.role.is_admin(), c))
        .collect();
    let ids: Vec<String> = contracts.iter().map(|c| c.contract.id.clone()).collect();
    let week = BillingWeek::containing(now);
    // The weeks still within their review window, and this one.
    let oldest =
        BillingWeek::containing(week.start() - Duration::seconds(review_secs) - Duration::weeks(1));
    let by_week = store.logged_by_week(&ids, oldest.start(), week.end())?;
    let last = store.last_activity(&ids)?;
    let mut events: HashMap<String, Vec<ReviewEvent>> = HashMap::new();
    for (id, event) in store.reviews_of(&ids, Some(oldest.start()))? {
        events.entry(id).or_default().push(event);
    }
    let names = names(
        store,
        contracts
            .iter()
            .flat_map(|c| [Some(c.user_id), c.terms.client_user_id])
            .flatten(),
    )?;
    let lines = contracts
        .into_iter()
        .map(|stored| {
            let id = &stored.contract.id;
            let weeks = by_week.iter().filter(|(c, _, _)| c == id);
            let week_secs = weeks
                .clone()
                .filter(|(_, w, _)| *w == week.start())
                .map(|(_, _, secs)| secs)
                .sum();
            let events = events.get(id).map_or(&[][..], Vec::as_slice);
            let waiting = weeks
                .filter(|(_, _, secs)| *secs > 0)
                .map(|(_, w, _)| BillingWeek::containing(*w))
                .filter(|w| {
                    matches!(
                        rules::week_review(*w, now, review_secs, events),
                        WeekReview::InReview { .. }
                    )
                })
                .collect::<Vec<_>>();
            let needing = ReviewView::of(
                events.to_vec(),
                rules::reviewer(viewer.id, viewer.role.is_admin(), &stored),
                now,
                review_secs,
            )
            .needing_action()
            .into_iter()
            .map(|(_, week)| week)
            .collect();
            ContractLine {
                needing,
                week_secs,
                last_activity: last.get(id).copied(),
                waiting: waiting.into_iter().rev().collect(),
                stored: StoredContract {
                    contract: rules::as_of(stored.contract.clone(), now),
                    ..stored
                },
            }
        })
        .collect();
    Ok((lines, names))
}

/// How many billing weeks back the app is told about disputes.
pub const DISPUTE_WEEKS: i64 = 8;

/// The contract answer's entity tag (R14): a hash of everything in it but
/// the server's time, with the day and zone it was counted for, so the tag
/// changes with a dispute, a decision, a total, a limit, a new day or week,
/// and stays while none of them does.
pub fn contracts_etag(answer: &ContractsResponse, today: LocalDay, zone: chrono_tz::Tz) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(zone.name().as_bytes());
    hash.update(today.date.to_string().as_bytes());
    hash.update(answer.week_start.to_rfc3339().as_bytes());
    hash.update(serde_json::to_vec(&answer.contracts).unwrap_or_default());
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// `GET /contracts`: the user's contracts as in force now, with this week's
/// and today's time and the disputes of the last weeks (R9), in five
/// queries whatever their number.
pub fn app_contracts(
    store: &dyn Store,
    user_id: i64,
    now: DateTime<Utc>,
    today: LocalDay,
) -> Result<ContractsResponse> {
    let week = BillingWeek::containing(now);
    let contracts = store.contracts(Some(user_id))?;
    let ids: Vec<String> = contracts.iter().map(|c| c.contract.id.clone()).collect();
    let week_secs = store.logged_by_contract(&ids, week.start(), week.end())?;
    let today_secs = store.logged_by_contract(&ids, today.start(), today.end())?;
    let since = week.start() - Duration::weeks(DISPUTE_WEEKS);
    let mut events: HashMap<String, Vec<ReviewEvent>> = HashMap::new();
    for (id, event) in store.reviews_of(&ids, Some(since))? {
        events.entry(id).or_default().push(event);
    }
    let disputes: HashMap<&String, Vec<Dispute>> = events
        .iter()
        .map(|(id, events)| (id, rules::disputes(events)))
        .collect();
    let disputed: Vec<SegmentId> = disputes.values().flatten().map(|d| d.segment_id).collect();
    let segments: HashMap<SegmentId, DiarySegment> = store
        .segments_by_ids(user_id, &disputed)?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let contracts = contracts
        .into_iter()
        .map(|stored| {
            let id = stored.contract.id.clone();
            let disputes = disputes
                .get(&id)
                .into_iter()
                .flatten()
                .filter_map(|d| {
                    let segment = segments.get(&d.segment_id)?;
                    Some(DisputeInfo {
                        segment_id: d.segment_id,
                        start: segment.start,
                        end: segment.end,
                        reason: d.reason.clone(),
                        answer: d.answer.clone(),
                        state: match d.mark() {
                            ReviewMark::Rejected => "rejected",
                            ReviewMark::Kept => "kept",
                            _ => "open",
                        }
                        .to_owned(),
                    })
                })
                .collect();
            ContractInfo {
                week_logged_secs: week_secs.get(&id).copied().unwrap_or(0),
                today_logged_secs: today_secs.get(&id).copied().unwrap_or(0),
                disputes,
                manual_time: stored.terms.manual_time,
                contract: rules::as_of(stored.contract, now),
            }
        })
        .collect();
    Ok(ContractsResponse {
        server_time: now,
        week_start: week.start(),
        contracts,
    })
}

/// The reports page (R12): every contract `viewer` may see over `[from,
/// to)` (UTC days) with the timesheet's numbers (B1) — each contract's
/// span is what its timesheets over those days show, so the report is
/// their sum — and who is working now, in seven queries whatever the
/// number of contracts. The time comes summed per contract, day and kind
/// from the store; only the disputed segments are read one by one (three
/// months of 50 contracts are 3,250 sums instead of 156,000 segments).
#[derive(Clone, Debug)]
pub struct Report {
    pub spans: Vec<SpanTotals>,
    pub names: Names,
    pub working: Vec<Working>,
}

/// A contract's time over a span of UTC days as the report shows it: what
/// its [`SpanView`] over those days totals (B1), each day's and the span's,
/// computed from the store's sums per day ([`Store::logged_by_day`]) and
/// the segments with a review mark, never from every segment.
#[derive(Clone, Debug)]
pub struct SpanTotals {
    pub contract: StoredContract,
    /// Each UTC day of the span with its totals.
    days: Vec<(NaiveDate, Totals)>,
    pub total: Totals,
    /// The billable time at the contract's rate, in its currency's cents.
    pub amount_cents: Option<i64>,
}

impl SpanTotals {
    /// `[from, to)` of `contract` from its sums per day (`logged`, days of
    /// 24 hours from `from`) and `marked`, its segments with a review mark.
    fn of(
        contract: &StoredContract,
        logged: &[LoggedDay],
        marked: &[DiarySegment],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> SpanTotals {
        let sums = |logged: &mut dyn Iterator<Item = &LoggedDay>| {
            logged.fold((0, 0), |(tracked, manual), l| {
                if l.manual {
                    (tracked, manual + l.secs)
                } else {
                    (tracked + l.secs, manual)
                }
            })
        };
        let mut days = Vec::new();
        let mut day = from;
        while day < to {
            let next = (day + Duration::days(1)).min(to);
            let (tracked, manual) = sums(&mut logged.iter().filter(|l| l.day == day));
            days.push((
                day.date_naive(),
                Totals::of_sums(tracked, manual, marked, day, next),
            ));
            day = next;
        }
        let (tracked, manual) = sums(&mut logged.iter());
        let total = Totals::of_sums(tracked, manual, marked, from, to);
        SpanTotals {
            amount_cents: amount(contract, &total),
            contract: contract.clone(),
            days,
            total,
        }
    }

    /// Each UTC day of the span with its totals, as [`SpanView::days`].
    pub fn days(&self) -> Vec<(NaiveDate, Totals)> {
        self.days.clone()
    }
}

/// A contract someone is tracking on now: its last segment ended less
/// than two segments ago.
#[derive(Clone, Debug)]
pub struct Working {
    pub contract: StoredContract,
    /// The start of the run of segments (no gap longer than a segment)
    /// that ends with the last one.
    pub since: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

impl Report {
    pub fn load(
        store: &dyn Store,
        viewer: &User,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
        review_secs: i64,
        segment_secs: i64,
    ) -> Result<Report> {
        let contracts: Vec<StoredContract> = store
            .contracts(None)?
            .into_iter()
            .filter(|c| rules::may_view(viewer.id, viewer.role.is_admin(), c))
            .collect();
        let ids: Vec<String> = contracts.iter().map(|c| c.contract.id.clone()).collect();
        // Steps on a segment come after the start of its week.
        let since = BillingWeek::containing(from).start();
        let mut events: HashMap<String, Vec<ReviewEvent>> = HashMap::new();
        for (id, event) in store.reviews_of(&ids, Some(since))? {
            events.entry(id).or_default().push(event);
        }
        // The sums per day, and the few segments a review step marked.
        let mut logged: HashMap<String, Vec<LoggedDay>> = HashMap::new();
        for day in store.logged_by_day(&ids, from, to)? {
            logged.entry(day.contract_id.clone()).or_default().push(day);
        }
        let disputed: Vec<SegmentId> = events
            .values()
            .flat_map(|events| rules::disputes(events))
            .map(|d| d.segment_id)
            .collect();
        let mut marked: HashMap<String, Vec<DiarySegment>> = HashMap::new();
        if !disputed.is_empty() {
            for segment in store.contracts_segments_by_ids(&ids, &disputed)? {
                marked
                    .entry(segment.contract_id.clone())
                    .or_default()
                    .push(segment);
            }
        }
        let spans: Vec<SpanTotals> = contracts
            .iter()
            .map(|stored| {
                let id = &stored.contract.id;
                let review = ReviewView::of(
                    events.remove(id).unwrap_or_default(),
                    rules::reviewer(viewer.id, viewer.role.is_admin(), stored),
                    now,
                    review_secs,
                );
                let mut marked = marked.remove(id).unwrap_or_default();
                review.mark_all(&mut marked);
                let logged = logged.remove(id).unwrap_or_default();
                SpanTotals::of(stored, &logged, &marked, from, to)
            })
            .collect();
        let recent = now - Duration::seconds(2 * segment_secs.max(60));
        let last = store.last_activity(&ids)?;
        let busy: Vec<&StoredContract> = contracts
            .iter()
            .filter(|c| last.get(&c.contract.id).is_some_and(|at| *at > recent))
            .collect();
        let busy_ids: Vec<String> = busy.iter().map(|c| c.contract.id.clone()).collect();
        let today = store.contracts_segments(&busy_ids, now - Duration::days(1), now)?;
        let working = busy
            .into_iter()
            .map(|stored| {
                let last = last[&stored.contract.id];
                let mut since = last;
                for s in today
                    .iter()
                    .rev()
                    .filter(|s| s.contract_id == stored.contract.id)
                {
                    if s.end < since - Duration::seconds(segment_secs.max(60)) {
                        break;
                    }
                    since = since.min(s.start);
                }
                Working {
                    contract: stored.clone(),
                    since,
                    last,
                }
            })
            .collect();
        let names = names(
            store,
            contracts
                .iter()
                .flat_map(|c| [Some(c.user_id), c.terms.client_user_id])
                .flatten(),
        )?;
        Ok(Report {
            spans,
            names,
            working,
        })
    }
}
