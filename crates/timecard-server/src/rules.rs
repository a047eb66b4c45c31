//! What the server accepts and allows, as pure functions of the facts the
//! store looked up and the time passed in: a verdict on one segment (K7,
//! K8, W2, W4, C2, C5), when a week stops taking changes (W4, R7), who may
//! see a contract (R3) and which review step is allowed (R7). No I/O here.

use chrono::{DateTime, Duration, Utc};

use timecard_core::domain::text::{Lines, text_problem};
use timecard_core::domain::{
    BillingWeek, Contract, ContractStatus, PendingLimit, ReviewMark, Segment, SegmentId,
};
use timecard_core::protocol::{RejectReason, ServerConfig};

/// A contract as the server stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredContract {
    pub contract: Contract,
    pub user_id: i64,
    /// When the status last changed: time before a pause or end still counts.
    pub status_changed_at: Option<DateTime<Utc>>,
    pub terms: ContractTerms,
}

/// What a contract says beyond what the app tracks against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractTerms {
    /// The client's account, who reviews the time; `None`: no one but the
    /// freelancer and the admins sees it.
    pub client_user_id: Option<i64>,
    pub rate: Option<Rate>,
    /// The freelancer may add time by hand (marked manual everywhere).
    pub manual_time: bool,
}

impl Default for ContractTerms {
    fn default() -> Self {
        ContractTerms {
            client_user_id: None,
            rate: None,
            manual_time: true,
        }
    }
}

/// An hourly rate in a currency's smallest unit (cents).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rate {
    pub cents: i64,
    /// An ISO 4217 code, e.g. `USD`.
    pub currency: String,
}

/// Who may see a contract's time, Work Diary, screenshots and exports: its
/// freelancer, its client account, and admins.
pub fn may_view(viewer_id: i64, viewer_is_admin: bool, contract: &StoredContract) -> bool {
    viewer_is_admin
        || contract.user_id == viewer_id
        || contract.terms.client_user_id == Some(viewer_id)
}

/// What the store knows about a segment's surroundings.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The contract, if it exists and belongs to the uploading user.
    pub contract: Option<StoredContract>,
    /// The uploading user already has a segment with this id (K7). Ids are
    /// unique per user: another user's segment with the same id is not
    /// looked at.
    pub already_stored: bool,
    /// A segment of the same user overlapping this one: (its device).
    pub overlap_device: Option<String>,
    /// Seconds already stored on this contract in the segment's billing week.
    pub week_logged_secs: i64,
    /// When the client approved the segment's billing week on this
    /// contract, if they did (R7): the week takes no more changes.
    pub week_approved_at: Option<DateTime<Utc>>,
}

/// The server's answer for one segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// The segment runs past the moment its contract was paused or ended:
    /// the part before that moment is accepted (same id, ending there), the
    /// rest is not counted; the message says so.
    AcceptUntil(DateTime<Utc>, String),
    Duplicate,
    Reject(RejectReason, String),
}

/// The longest segment accepted: tolerant of a grid that changed since a
/// segment was cached, any length up to an hour (or the grid) is taken.
pub fn max_segment_secs(config: ServerConfig) -> i64 {
    config.segment_secs.max(3600)
}

/// Decides about `segment`, uploaded at `now` by the user `facts` are about.
pub fn judge(
    segment: &Segment,
    facts: &Facts,
    now: DateTime<Utc>,
    config: ServerConfig,
) -> Verdict {
    use RejectReason::*;
    if facts.already_stored {
        return Verdict::Duplicate;
    }
    if let Some(problem) = segment.field_problem() {
        return Verdict::Reject(Invalid, problem);
    }
    if let Some(problem) = segment.dates_problem() {
        return Verdict::Reject(Invalid, problem);
    }
    let max_len = max_segment_secs(config);
    let len = segment.duration_secs();
    if len <= 0 || len > max_len {
        return Verdict::Reject(
            Invalid,
            format!("a segment must last between 1 s and {max_len} s; this one lasts {len} s"),
        );
    }
    if segment.end > now + Duration::minutes(5) {
        return Verdict::Reject(
            Invalid,
            "the segment ends in the future: check this computer's clock".into(),
        );
    }
    let week = BillingWeek::containing(segment.start);
    if let Some(closed) = week_closed(week, now, config.lock_grace_secs, facts.week_approved_at) {
        return Verdict::Reject(WeekLocked, closed.message());
    }
    let Some(stored) = &facts.contract else {
        return Verdict::Reject(
            ContractNotTrackable,
            "no such contract for this account".into(),
        );
    };
    let contract = &stored.contract;
    if segment.start < contract.starts_at() {
        return Verdict::Reject(
            ContractNotTrackable,
            format!(
                "the contract starts on {}",
                contract.start_date.format("%-d %b %Y")
            ),
        );
    }
    // C5: time before a pause or an end still counts; a segment across that
    // moment is cut there, not refused whole.
    let mut until = None;
    if contract.status != ContractStatus::Active {
        let changed = stored.status_changed_at.unwrap_or(DateTime::<Utc>::MIN_UTC);
        let status = contract.status.as_str();
        let when = changed.format("%-d %b %Y %H:%M:%S UTC");
        if segment.start >= changed {
            return Verdict::Reject(
                ContractNotTrackable,
                format!("the contract was {status} on {when}"),
            );
        }
        if segment.end > changed {
            until = Some((
                changed,
                format!(
                    "the contract was {status} on {when}: this segment counts up to then, the {} after it do not",
                    timecard_core::fmt::hms((segment.end - changed).num_seconds())
                ),
            ));
        }
    }
    let len = until
        .as_ref()
        .map_or(len, |(end, _)| (*end - segment.start).num_seconds());
    if let Some(device) = &facts.overlap_device {
        let which = if *device == segment.device_id {
            "this device"
        } else {
            "another device"
        };
        return Verdict::Reject(
            Overlap,
            format!("this time is already logged from {which} (device {device})"),
        );
    }
    if let Some(limit) = contract.limit_at(segment.start)
        && facts.week_logged_secs + len > limit
    {
        return Verdict::Reject(
            OverLimit,
            format!(
                "the weekly limit of {} would be exceeded",
                timecard_core::fmt::format_hours(limit)
            ),
        );
    }
    match until {
        Some((end, message)) => Verdict::AcceptUntil(end, message),
        None => Verdict::Accept,
    }
}

/// W3: how a new weekly limit is applied: a higher one (or removing the
/// limit) at once, a lower one (or a limit where there was none) from the
/// next billing week, announced until then as the pending limit.
pub fn change_limit(contract: &mut Contract, new_limit_secs: Option<i64>, now: DateTime<Utc>) {
    let current = contract.limit_at(now);
    let is_increase = match (current, new_limit_secs) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(old), Some(new)) => new >= old,
    };
    if is_increase {
        contract.weekly_limit_secs = new_limit_secs;
        contract.pending_limit = None;
    } else {
        contract.weekly_limit_secs = current;
        contract.pending_limit = Some(PendingLimit {
            limit_secs: new_limit_secs,
            effective_at: BillingWeek::containing(now).end(),
        });
    }
}

/// The contract as it stands at `now`: a pending limit whose moment has
/// come is the limit, and no longer pending. What is stored stays as it was
/// (reading the contract list writes nothing); the next change folds it in.
pub fn as_of(mut contract: Contract, now: DateTime<Utc>) -> Contract {
    if let Some(p) = &contract.pending_limit
        && p.effective_at <= now
    {
        contract.weekly_limit_secs = p.limit_secs;
        contract.pending_limit = None;
    }
    contract
}

/// Why a billing week takes no more changes: no upload, no manual time, no
/// deletion (W4, R7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// The week's Work Diary locked at this moment (its end plus the grace).
    Locked(BillingWeek, DateTime<Utc>),
    /// The client approved the week at this moment, before the lock: the
    /// grace ends at approval.
    Approved(BillingWeek, DateTime<Utc>),
}

impl Closed {
    /// In words, for the answer that refuses a change.
    pub fn message(self) -> String {
        match self {
            Closed::Locked(week, at) => format!(
                "the Work Diary of the week of {} locked on {}",
                week.start().format("%-d %b %Y"),
                at.format("%-d %b %Y %H:%M UTC")
            ),
            Closed::Approved(week, at) => format!(
                "the week of {} was approved by the client on {}; it takes no more changes",
                week.start().format("%-d %b %Y"),
                at.format("%-d %b %Y %H:%M UTC")
            ),
        }
    }
}

/// W4, R7: whether `week` has closed at `now`: its lock (`grace_secs` after
/// it ends), or its approval if that came first. The review window is at
/// least as long as the grace ([`check_windows`]), so a week approved by
/// itself (the window closed) has locked already.
pub fn week_closed(
    week: BillingWeek,
    now: DateTime<Utc>,
    grace_secs: i64,
    approved_at: Option<DateTime<Utc>>,
) -> Option<Closed> {
    if let Some(at) = approved_at
        && at <= now
        && at < week.locks_at(grace_secs)
    {
        return Some(Closed::Approved(week, at));
    }
    week.is_locked(now, grace_secs)
        .then(|| Closed::Locked(week, week.locks_at(grace_secs)))
}

/// S4: a segment can be deleted until its billing week closes
/// ([`week_closed`]); after that, why not.
pub fn may_delete(
    segment_start: DateTime<Utc>,
    now: DateTime<Utc>,
    grace_secs: i64,
    approved_at: Option<DateTime<Utc>>,
) -> Result<(), Closed> {
    match week_closed(
        BillingWeek::containing(segment_start),
        now,
        grace_secs,
        approved_at,
    ) {
        Some(closed) => Err(closed),
        None => Ok(()),
    }
}

/// W4 and R7 together: the lock's grace may not outlast the review window,
/// or a week approved by itself would still take changes.
pub fn check_windows(lock_grace_secs: i64, review_secs: i64) -> Result<(), String> {
    if lock_grace_secs > review_secs {
        return Err(format!(
            "the lock's grace ({lock_grace_secs} s) is longer than the review window ({review_secs} s): \
             a week would be approved by itself while it still takes changes; give --lock-grace-secs \
             at most --review-days × 86400"
        ));
    }
    Ok(())
}

/// The device id of time added by hand (R8).
pub const MANUAL_DEVICE: &str = "manual";

/// The longest stretch of time added by hand at once.
pub const MAX_MANUAL_SECS: i64 = 24 * 3600;

/// R8: time added by hand is judged like tracked time (limits, locks,
/// overlaps, the contract's dates), and refused on a contract whose terms do
/// not allow it.
pub fn judge_manual(
    segment: &Segment,
    facts: &Facts,
    now: DateTime<Utc>,
    config: ServerConfig,
) -> Verdict {
    if let Some(stored) = &facts.contract
        && !stored.terms.manual_time
    {
        return Verdict::Reject(
            RejectReason::ManualTimeNotAllowed,
            "this contract does not allow manual time".into(),
        );
    }
    judge(segment, facts, now, config)
}

/// Cuts `[start, end)` of manual time into segments on the grid (each
/// within one grid cell), with `memo`; or says what is wrong with it.
pub fn manual_segments(
    contract_id: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    memo: &str,
    now: DateTime<Utc>,
    config: ServerConfig,
) -> Result<Vec<Segment>, String> {
    if end <= start {
        return Err("the end must come after the start".into());
    }
    if (end - start).num_seconds() > MAX_MANUAL_SECS {
        return Err("add at most 24 hours at once".into());
    }
    if end > now {
        return Err("manual time cannot end in the future".into());
    }
    let grid = timecard_core::domain::SegmentGrid::new(config.segment_secs).unwrap_or_default();
    let mut out = Vec::new();
    let mut from = start;
    while from < end {
        let to = grid.cell_end(from).min(end);
        out.push(Segment {
            id: SegmentId::random(),
            contract_id: contract_id.to_owned(),
            device_id: MANUAL_DEVICE.to_owned(),
            start: from,
            end: to,
            memo: memo.to_owned(),
            activity: Default::default(),
            screenshot: None,
            capture_note: None,
        });
        from = to;
    }
    Ok(out)
}

/// The client's review of a billing week: what was done, by whom, when.
/// Stored as an append-only log; the state of a week and of each disputed
/// segment is worked out from it ([`week_review`], [`disputes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewEvent {
    pub week_start: DateTime<Utc>,
    /// The segment it is about; `None` for the week as a whole.
    pub segment_id: Option<SegmentId>,
    pub action: ReviewAction,
    /// The reason of a dispute, the freelancer's answer.
    pub note: String,
    pub by_user_id: i64,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewAction {
    /// The client approves the week.
    Approve,
    /// The client disputes a segment, with a reason.
    Dispute,
    /// The freelancer answers a dispute.
    Answer,
    /// The client keeps the disputed time after all.
    Keep,
    /// The client rejects the disputed time: it drops out of totals and
    /// exports.
    Reject,
}

impl ReviewAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewAction::Approve => "approve",
            ReviewAction::Dispute => "dispute",
            ReviewAction::Answer => "answer",
            ReviewAction::Keep => "keep",
            ReviewAction::Reject => "reject",
        }
    }

    pub fn from_stored(text: &str) -> Option<ReviewAction> {
        Some(match text {
            "approve" => ReviewAction::Approve,
            "dispute" => ReviewAction::Dispute,
            "answer" => ReviewAction::Answer,
            "keep" => ReviewAction::Keep,
            "reject" => ReviewAction::Reject,
            _ => return None,
        })
    }
}

/// Where a billing week stands in the client's review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeekReview {
    /// The week has not ended.
    Open,
    /// Ended: the client may approve it or dispute its segments until then.
    InReview { until: DateTime<Utc> },
    /// Approved by the client (or an admin).
    Approved { by_user_id: i64, at: DateTime<Utc> },
    /// Nobody approved it before the review window closed.
    ApprovedAutomatically { at: DateTime<Utc> },
}

/// The state of `week` at `now`, given its review events and how long the
/// client has after the week ends (`review_secs`).
pub fn week_review(
    week: BillingWeek,
    now: DateTime<Utc>,
    review_secs: i64,
    events: &[ReviewEvent],
) -> WeekReview {
    let until = week.end() + Duration::seconds(review_secs);
    if let Some(approved) = events
        .iter()
        .find(|e| e.week_start == week.start() && e.action == ReviewAction::Approve)
    {
        return WeekReview::Approved {
            by_user_id: approved.by_user_id,
            at: approved.at,
        };
    }
    if now < week.end() {
        WeekReview::Open
    } else if now < until {
        WeekReview::InReview { until }
    } else {
        WeekReview::ApprovedAutomatically { at: until }
    }
}

/// A disputed segment and where its dispute stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispute {
    pub segment_id: SegmentId,
    pub reason: String,
    pub disputed_by: i64,
    pub disputed_at: DateTime<Utc>,
    pub answer: Option<String>,
    /// How many times the freelancer answered (the last answer stands).
    pub answers: usize,
    /// `None` while the client has not decided: the time still counts.
    pub decision: Option<ReviewAction>,
}

impl Dispute {
    /// Where the dispute stands, for the freelancer: "Disputed by the
    /// client: <reason>", then the decision.
    pub fn in_words(&self) -> String {
        let what = match self.decision {
            None => "Disputed by the client",
            Some(ReviewAction::Reject) => "Rejected by the client",
            Some(_) => "Kept by the client after a dispute",
        };
        format!("{what}: {}", self.reason)
    }

    /// Whether the segment's time counts: until the client rejects it.
    pub fn counts(&self) -> bool {
        self.decision != Some(ReviewAction::Reject)
    }

    /// Where the disputed time stands (B1).
    pub fn mark(&self) -> ReviewMark {
        match self.decision {
            None => ReviewMark::Disputed,
            Some(ReviewAction::Reject) => ReviewMark::Rejected,
            Some(_) => ReviewMark::Kept,
        }
    }
}

/// Every segment disputed in `events`, in the order they were disputed.
pub fn disputes(events: &[ReviewEvent]) -> Vec<Dispute> {
    let mut out: Vec<Dispute> = Vec::new();
    for e in events {
        let Some(id) = e.segment_id else { continue };
        let open = out.iter_mut().find(|d| d.segment_id == id);
        match (e.action, open) {
            (ReviewAction::Dispute, None) => out.push(Dispute {
                segment_id: id,
                reason: e.note.clone(),
                disputed_by: e.by_user_id,
                disputed_at: e.at,
                answer: None,
                answers: 0,
                decision: None,
            }),
            (ReviewAction::Answer, Some(d)) => {
                d.answer = Some(e.note.clone());
                d.answers += 1;
            }
            (action @ (ReviewAction::Keep | ReviewAction::Reject), Some(d)) => {
                d.decision = Some(action)
            }
            _ => {}
        }
    }
    out
}

/// Who is asking to act on a contract's review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reviewer {
    /// The contract's client account, or an admin.
    Client,
    /// The contract's freelancer.
    Freelancer,
    Other,
}

/// What `viewer_id` is to a contract's review. Nobody reviews their own
/// time: the contract's freelancer is the freelancer even when an admin.
pub fn reviewer(viewer_id: i64, viewer_is_admin: bool, contract: &StoredContract) -> Reviewer {
    if contract.user_id == viewer_id {
        Reviewer::Freelancer
    } else if viewer_is_admin || contract.terms.client_user_id == Some(viewer_id) {
        Reviewer::Client
    } else {
        Reviewer::Other
    }
}

/// The longest login, in characters.
pub const MAX_LOGIN_CHARS: usize = 64;
/// The longest e-mail address, in characters.
pub const MAX_EMAIL_CHARS: usize = 200;
/// The longest contract title, client name or contract id, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// Why a user with `login` and `email` cannot be added (X5): a login is
/// one word of at most [`MAX_LOGIN_CHARS`]; an e-mail address one line.
pub fn user_problem(login: &str, email: Option<&str>) -> Option<String> {
    if login.is_empty() || login.chars().any(char::is_whitespace) {
        return Some("a login is one word, without spaces".into());
    }
    text_problem("login", login, MAX_LOGIN_CHARS, Lines::One).or_else(|| {
        email.and_then(|e| text_problem("e-mail address", e, MAX_EMAIL_CHARS, Lines::One))
    })
}

/// Why a contract's id, title and client name cannot be stored (X5).
pub fn contract_text_problem(contract: &Contract) -> Option<String> {
    text_problem("contract id", &contract.id, MAX_TITLE_CHARS, Lines::One)
        .or_else(|| text_problem("title", &contract.title, MAX_TITLE_CHARS, Lines::One))
        .or_else(|| {
            text_problem(
                "client's name",
                &contract.client,
                MAX_TITLE_CHARS,
                Lines::One,
            )
        })
}

/// The longest reason or answer in a review, in characters.
pub const MAX_REVIEW_NOTE_CHARS: usize = 500;

/// How many times the freelancer may answer one dispute: the first answer
/// and two corrections; the last one stands.
pub const MAX_ANSWERS: usize = 3;

/// Whether `who` may do `action` (on `segment`, for the segment actions) in
/// a week that stands at `state`; the error says why not, in words.
pub fn may_review(
    who: Reviewer,
    action: ReviewAction,
    state: WeekReview,
    dispute: Option<&Dispute>,
) -> Result<(), &'static str> {
    let in_review = matches!(state, WeekReview::InReview { .. });
    match (action, who) {
        (_, Reviewer::Other) => Err("only the contract's client and freelancer review its time"),
        (ReviewAction::Answer, Reviewer::Freelancer) => match dispute {
            Some(d) if d.decision.is_none() && in_review && d.answers >= MAX_ANSWERS => {
                Err("this dispute has been answered as often as it can be; the last answer stands")
            }
            Some(d) if d.decision.is_none() && in_review => Ok(()),
            Some(_) => Err("this dispute is closed"),
            None => Err("this segment is not disputed"),
        },
        (_, Reviewer::Freelancer) => Err("only the client reviews the time"),
        (ReviewAction::Answer, Reviewer::Client) => Err("the freelancer answers a dispute"),
        _ if !in_review => Err(match state {
            WeekReview::Open => "the week has not ended yet",
            _ => "the week is approved",
        }),
        (ReviewAction::Approve, Reviewer::Client) => {
            if dispute.is_some_and(|d| d.decision.is_none()) {
                Err("decide the disputed segments first")
            } else {
                Ok(())
            }
        }
        (ReviewAction::Dispute, Reviewer::Client) => match dispute {
            None => Ok(()),
            Some(_) => Err("this segment is already disputed"),
        },
        (ReviewAction::Keep | ReviewAction::Reject, Reviewer::Client) => match dispute {
            Some(d) if d.decision.is_none() => Ok(()),
            Some(_) => Err("this dispute is already decided"),
            None => Err("this segment is not disputed"),
        },
    }
}

/// What a review step is about: a whole week (approval) or one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewTarget {
    Week(BillingWeek),
    Segment(SegmentId),
}

/// A review step someone asks for (R7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewRequest {
    pub contract_id: String,
    pub by_user_id: i64,
    pub by_admin: bool,
    pub target: ReviewTarget,
    pub action: ReviewAction,
    /// The reason of a dispute or the freelancer's answer; ignored otherwise.
    pub note: String,
}

/// Why a review step is not taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReviewRefusal {
    /// The segment is not the contract's (or does not exist).
    NoSuchSegment,
    /// The note is empty or too long.
    Invalid(String),
    /// The rules do not allow it now (who, when, in which state).
    NotAllowed(&'static str),
}

impl std::fmt::Display for ReviewRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReviewRefusal::NoSuchSegment => f.write_str("no such segment on this contract"),
            ReviewRefusal::Invalid(why) => f.write_str(why),
            ReviewRefusal::NotAllowed(why) => f.write_str(why),
        }
    }
}

/// R7: decides a review step on `contract`, given every review event of
/// the contract so far (oldest first) and, for a segment step, when the
/// segment starts (`None`: it is not the contract's). The store calls this
/// inside the transaction that then appends the event, holding the lock
/// that uploads and other steps of the contract take: no two steps
/// interleave between this check and that write (B3).
pub fn review_step(
    contract: &StoredContract,
    request: &ReviewRequest,
    segment_start: Option<DateTime<Utc>>,
    events: &[ReviewEvent],
    now: DateTime<Utc>,
    review_secs: i64,
) -> Result<ReviewEvent, ReviewRefusal> {
    let (week, segment) = match request.target {
        ReviewTarget::Week(week) => (week, None),
        ReviewTarget::Segment(id) => {
            let start = segment_start.ok_or(ReviewRefusal::NoSuchSegment)?;
            (BillingWeek::containing(start), Some(id))
        }
    };
    let note = match request.action {
        ReviewAction::Dispute | ReviewAction::Answer => {
            let note = request.note.trim();
            if note.is_empty() {
                return Err(ReviewRefusal::Invalid("say why, in a few words".into()));
            }
            if note.chars().count() > MAX_REVIEW_NOTE_CHARS {
                return Err(ReviewRefusal::Invalid(format!(
                    "say it in at most {MAX_REVIEW_NOTE_CHARS} characters"
                )));
            }
            if let Some(problem) = text_problem("note", note, MAX_REVIEW_NOTE_CHARS, Lines::Many) {
                return Err(ReviewRefusal::Invalid(problem));
            }
            note.to_owned()
        }
        _ => String::new(),
    };
    let disputes = disputes(events);
    let dispute = match segment {
        Some(id) => disputes.iter().find(|d| d.segment_id == id),
        // A week is approved only once the disputes of its segments are
        // decided.
        None => disputes.iter().find(|d| {
            d.decision.is_none()
                && events
                    .iter()
                    .any(|e| e.segment_id == Some(d.segment_id) && e.week_start == week.start())
        }),
    };
    let who = reviewer(request.by_user_id, request.by_admin, contract);
    let state = week_review(week, now, review_secs, events);
    may_review(who, request.action, state, dispute).map_err(ReviewRefusal::NotAllowed)?;
    Ok(ReviewEvent {
        week_start: week.start(),
        segment_id: segment,
        action: request.action,
        note,
        by_user_id: request.by_user_id,
        at: now,
    })
}

/// R2: what is wrong with a contract's terms, if anything: a client
/// account that is the contract's own freelancer would approve their own
/// time.
pub fn terms_problem(stored: &StoredContract) -> Option<String> {
    if stored.terms.client_user_id == Some(stored.user_id) {
        return Some(
            "the client account cannot be the contract's own freelancer: nobody approves their own time"
                .into(),
        );
    }
    if let Some(rate) = &stored.terms.rate {
        if rate.cents < 0 {
            return Some("a rate cannot be negative".into());
        }
        if rate.currency.len() != 3 || !rate.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Some(format!(
                "{:?} is not a currency code; use three letters such as USD or EUR",
                rate.currency
            ));
        }
    }
    None
}

/// An amount of money as typed (`45`, `45.5`, `45.50`, or with a decimal
/// comma `45,50`), in cents. A comma followed by three digits (`1,000`)
/// could be either mark, so it is refused with words saying so.
pub fn parse_amount(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not an amount; write it like 45 or 45.50");
    if let Some((_, after)) = text.split_once(',')
        && !text.contains('.')
        && after.len() == 3
    {
        return Err(format!(
            "{text:?} is ambiguous: write thousands without a separator and cents \
             after a point or a comma, like 1000 or 45.50"
        ));
    }
    let decimal = if text.contains('.') { '.' } else { ',' };
    let (whole, fraction) = match text.split_once(decimal) {
        Some((_, "")) => return Err(bad()),
        Some(parts) => parts,
        None => (text, ""),
    };
    if whole.is_empty()
        || whole.len() > 9
        || fraction.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{fraction:0<2}").parse().map_err(|_| bad())?;
    Ok(whole * 100 + cents)
}

/// A weekly limit typed in hours (`37.5` or `37,5`): `None` for "0",
/// "none" or nothing (no limit), else between 0 and 168 hours.
pub fn parse_weekly_limit(text: &str) -> Result<Option<i64>, String> {
    match text.trim() {
        "" | "0" | "none" => Ok(None),
        h => {
            let hours: f64 = h
                .replacen(',', ".", 1)
                .parse()
                .map_err(|_| format!("{h:?} is not a number of hours"))?;
            hours_to_secs(hours).map(Some)
        }
    }
}

/// A weekly limit in hours as seconds: more than 0, at most 168.
pub fn hours_to_secs(hours: f64) -> Result<i64, String> {
    if !(hours.is_finite() && hours > 0.0 && hours <= 168.0) {
        return Err(format!(
            "a weekly limit must be more than 0 and at most 168 hours, not {hours}"
        ));
    }
    Ok((hours * 3600.0).round() as i64)
}

/// A currency code as typed, upper-cased: three letters.
pub fn parse_currency(text: &str) -> Result<String, String> {
    let code = text.trim().to_ascii_uppercase();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "{code:?} is not a currency code; use three letters such as USD or EUR"
        ));
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use timecard_core::domain::{Activity, ContractKind, SegmentId};

    const CONFIG: ServerConfig = ServerConfig {
        segment_secs: 600,
        lock_grace_secs: 0,
    };

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn seg(start: &str, secs: i64) -> Segment {
        Segment {
            id: SegmentId::random(),
            contract_id: "c1".into(),
            device_id: "laptop".into(),
            start: at(start),
            end: at(start) + Duration::seconds(secs),
            memo: String::new(),
            activity: Activity::default(),
            screenshot: None,
            capture_note: None,
        }
    }

    fn hourly(weekly_limit_secs: Option<i64>) -> Contract {
        Contract {
            id: "c1".into(),
            title: "t".into(),
            client: "c".into(),
            kind: ContractKind::Hourly,
            status: ContractStatus::Active,
            start_date: "2026-01-01".parse().unwrap(),
            weekly_limit_secs,
            pending_limit: None,
        }
    }

    fn facts() -> Facts {
        Facts {
            contract: Some(StoredContract {
                contract: hourly(Some(3600)),
                user_id: 1,
                status_changed_at: None,
                terms: ContractTerms::default(),
            }),
            ..Facts::default()
        }
    }

    fn reason(v: Verdict) -> RejectReason {
        match v {
            Verdict::Reject(r, _) => r,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_normal_segment_and_knows_duplicates() {
        let now = at("2026-11-25T10:00:00Z");
        let s = seg("2026-11-25T09:00:00Z", 600);
        assert_eq!(judge(&s, &facts(), now, CONFIG), Verdict::Accept);
        let dup = Facts {
            already_stored: true,
            ..facts()
        };
        assert_eq!(judge(&s, &dup, now, CONFIG), Verdict::Duplicate);
    }

    // W4: after Monday 00:00 UTC (+ grace) last week's segments are refused.
    #[test]
    fn locked_week_is_refused() {
        let s = seg("2026-11-29T23:50:00Z", 600);
        assert_eq!(
            judge(
                &s,
                &facts(),
                at("2026-11-29T23:59:00Z") + Duration::minutes(1),
                CONFIG
            ),
            {
                Verdict::Reject(
                    RejectReason::WeekLocked,
                    "the Work Diary of the week of 23 Nov 2026 locked on 30 Nov 2026 00:00 UTC"
                        .into(),
                )
            }
        );
        let grace = ServerConfig {
            lock_grace_secs: 3600,
            ..CONFIG
        };
        assert_eq!(
            judge(&s, &facts(), at("2026-11-30T00:30:00Z"), grace),
            Verdict::Accept
        );
    }

    // C5: a pause at 11:54:48 keeps the 4 min 48 s before it of a segment
    // 11:50:00–11:54:54 (it used to refuse all of it); a segment that
    // starts after the pause is refused.
    #[test]
    fn a_pause_cuts_the_segment_at_its_moment() {
        let mut f = facts();
        let stored = f.contract.as_mut().unwrap();
        stored.contract.status = ContractStatus::Paused;
        stored.status_changed_at = Some(at("2026-11-25T11:54:48Z"));
        let now = at("2026-11-25T11:55:00Z");
        match judge(&seg("2026-11-25T11:50:00Z", 294), &f, now, CONFIG) {
            Verdict::AcceptUntil(end, message) => {
                assert_eq!(end, at("2026-11-25T11:54:48Z"));
                assert!(
                    message.contains("paused on 25 Nov 2026 11:54:48 UTC"),
                    "{message}"
                );
                assert!(message.contains("the 0:00:06 after it do not"), "{message}");
            }
            other => panic!("expected a cut, got {other:?}"),
        }
        assert_eq!(
            judge(&seg("2026-11-25T11:40:00Z", 600), &f, now, CONFIG),
            Verdict::Accept
        );
        assert_eq!(
            reason(judge(&seg("2026-11-25T11:54:50Z", 4), &f, now, CONFIG)),
            RejectReason::ContractNotTrackable
        );
    }

    #[test]
    fn overlap_names_the_device() {
        let f = Facts {
            overlap_device: Some("desktop".into()),
            ..facts()
        };
        match judge(
            &seg("2026-11-25T09:00:00Z", 600),
            &f,
            at("2026-11-25T10:00:00Z"),
            CONFIG,
        ) {
            Verdict::Reject(RejectReason::Overlap, msg) => {
                assert!(msg.contains("another device (device desktop)"), "{msg}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn limit_and_contract_state_are_enforced() {
        let now = at("2026-11-25T10:00:00Z");
        let near = Facts {
            week_logged_secs: 3300,
            ..facts()
        };
        assert_eq!(
            reason(judge(&seg("2026-11-25T09:00:00Z", 600), &near, now, CONFIG)),
            RejectReason::OverLimit
        );
        assert_eq!(
            judge(&seg("2026-11-25T09:00:00Z", 300), &near, now, CONFIG),
            Verdict::Accept
        );
        let none = Facts {
            contract: None,
            ..facts()
        };
        assert_eq!(
            reason(judge(&seg("2026-11-25T09:00:00Z", 60), &none, now, CONFIG)),
            RejectReason::ContractNotTrackable
        );
        // Paused at 09:30: time before the pause still counts, time after does not.
        let mut paused = facts();
        let c = paused.contract.as_mut().unwrap();
        c.contract.status = ContractStatus::Paused;
        c.status_changed_at = Some(at("2026-11-25T09:30:00Z"));
        assert_eq!(
            judge(&seg("2026-11-25T09:10:00Z", 600), &paused, now, CONFIG),
            Verdict::Accept
        );
        assert_eq!(
            reason(judge(
                &seg("2026-11-25T09:30:00Z", 60),
                &paused,
                now,
                CONFIG
            )),
            RejectReason::ContractNotTrackable
        );
    }

    // Dates outside 2000–2100 are refused as invalid, even the extremes a
    // `DateTime` can hold (they used to panic in the week arithmetic).
    #[test]
    fn implausible_dates_are_invalid() {
        let now = at("2026-11-25T10:00:00Z");
        for start in [
            DateTime::<Utc>::MIN_UTC,
            at("1999-12-31T23:00:00Z"),
            at("2100-01-01T00:00:00Z"),
            DateTime::<Utc>::MAX_UTC - Duration::seconds(600),
        ] {
            let mut s = seg("2026-11-25T09:00:00Z", 600);
            s.start = start;
            s.end = start + Duration::seconds(600);
            match judge(&s, &facts(), now, CONFIG) {
                Verdict::Reject(RejectReason::Invalid, msg) => {
                    assert!(msg.contains("1 Jan 2000 to 1 Jan 2100"), "{msg}")
                }
                other => panic!("{start}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_segments_are_invalid() {
        let now = at("2026-11-25T10:00:00Z");
        assert_eq!(
            reason(judge(
                &seg("2026-11-25T09:00:00Z", 0),
                &facts(),
                now,
                CONFIG
            )),
            RejectReason::Invalid
        );
        assert_eq!(
            reason(judge(
                &seg("2026-11-25T08:00:00Z", 3601),
                &facts(),
                now,
                CONFIG
            )),
            RejectReason::Invalid
        );
        assert_eq!(
            reason(judge(
                &seg("2026-11-25T11:00:00Z", 60),
                &facts(),
                now,
                CONFIG
            )),
            RejectReason::Invalid
        );
    }

    #[test]
    fn a_higher_limit_applies_at_once_a_lower_one_next_week() {
        let now = at("2026-11-25T10:00:00Z");
        let mut c = hourly(Some(10 * 3600));
        change_limit(&mut c, Some(20 * 3600), now);
        assert_eq!(c.limit_at(now), Some(20 * 3600));
        assert!(c.pending_limit.is_none());
        change_limit(&mut c, Some(5 * 3600), now);
        assert_eq!(c.limit_at(now), Some(20 * 3600), "this week keeps 20 h");
        let monday = at("2026-11-30T00:00:00Z");
        assert_eq!(c.pending_limit.as_ref().unwrap().effective_at, monday);
        assert_eq!(c.limit_at(monday), Some(5 * 3600));
        // Lifting the limit is an increase; putting one on is a decrease.
        change_limit(&mut c, None, now);
        assert_eq!((c.limit_at(now), c.limit_at(monday)), (None, None));
        change_limit(&mut c, Some(3600), now);
        assert_eq!((c.limit_at(now), c.limit_at(monday)), (None, Some(3600)));
    }

    #[test]
    fn a_pending_limit_is_in_force_from_its_monday_without_a_write() {
        let now = at("2026-11-25T10:00:00Z");
        let mut c = hourly(Some(10 * 3600));
        change_limit(&mut c, Some(5 * 3600), now);
        let before = as_of(c.clone(), at("2026-11-29T23:59:59Z"));
        assert_eq!(before, c, "not yet");
        let after = as_of(c.clone(), at("2026-11-30T00:00:00Z"));
        assert_eq!(after.weekly_limit_secs, Some(5 * 3600));
        assert!(after.pending_limit.is_none());
        assert!(
            c.pending_limit.is_some(),
            "the stored contract is untouched"
        );
    }

    #[test]
    fn segments_can_be_deleted_until_their_week_locks() {
        let start = at("2026-11-25T10:00:00Z");
        let week_end = at("2026-11-30T00:00:00Z");
        assert_eq!(
            may_delete(start, week_end - Duration::seconds(1), 0, None),
            Ok(())
        );
        let week = BillingWeek::containing(start);
        assert_eq!(
            may_delete(start, week_end, 0, None),
            Err(Closed::Locked(week, week_end))
        );
        let grace = 3 * 24 * 3600;
        assert_eq!(may_delete(start, week_end, grace, None), Ok(()));
        let locks = week_end + Duration::seconds(grace);
        assert_eq!(
            may_delete(start, locks, grace, None),
            Err(Closed::Locked(week, locks))
        );
        // R7: the grace ends at approval.
        let approved = week_end + Duration::hours(2);
        assert_eq!(
            may_delete(
                start,
                approved - Duration::seconds(1),
                grace,
                Some(approved)
            ),
            Ok(())
        );
        assert_eq!(
            may_delete(start, approved, grace, Some(approved)),
            Err(Closed::Approved(week, approved))
        );
    }

    // W4 + R7: an approved week refuses uploads and manual time whatever
    // the grace says; an unapproved one takes them until its lock.
    #[test]
    fn an_approved_week_takes_no_more_time() {
        let grace = ServerConfig {
            lock_grace_secs: 3 * 24 * 3600,
            ..CONFIG
        };
        let s = seg("2026-11-27T09:00:00Z", 600);
        let now = at("2026-11-30T10:00:00Z");
        assert_eq!(judge(&s, &facts(), now, grace), Verdict::Accept);
        let approved = Facts {
            week_approved_at: Some(at("2026-11-30T09:00:00Z")),
            ..facts()
        };
        match judge(&s, &approved, now, grace) {
            Verdict::Reject(RejectReason::WeekLocked, message) => {
                assert!(message.contains("approved by the client"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            reason(judge_manual(&s, &approved, now, grace)),
            RejectReason::WeekLocked
        );
    }

    #[test]
    fn the_grace_may_not_outlast_the_review_window() {
        assert!(check_windows(0, 0).is_ok());
        assert!(check_windows(3600, 5 * 86_400).is_ok());
        assert!(check_windows(86_401, 86_400).is_err());
    }

    #[test]
    fn a_contract_is_seen_by_its_freelancer_its_client_and_admins() {
        let mut stored = facts().contract.unwrap();
        stored.user_id = 1;
        stored.terms.client_user_id = Some(2);
        assert!(may_view(1, false, &stored), "the freelancer");
        assert!(may_view(2, false, &stored), "the client");
        assert!(!may_view(3, false, &stored), "another user");
        assert!(may_view(3, true, &stored), "an admin");
        stored.terms.client_user_id = None;
        assert!(!may_view(2, false, &stored), "a client no longer on it");
    }

    fn event(action: ReviewAction, segment: Option<SegmentId>, by: i64, at_: &str) -> ReviewEvent {
        ReviewEvent {
            week_start: at("2026-11-23T00:00:00Z"),
            segment_id: segment,
            action,
            note: format!("{} note", action.as_str()),
            by_user_id: by,
            at: at(at_),
        }
    }

    #[test]
    fn a_week_is_open_then_in_review_then_approved_by_hand_or_by_itself() {
        let week = BillingWeek::containing(at("2026-11-25T10:00:00Z"));
        let five_days = 5 * 24 * 3600;
        let review =
            |now: &str, events: &[ReviewEvent]| week_review(week, at(now), five_days, events);
        assert_eq!(review("2026-11-29T23:59:59Z", &[]), WeekReview::Open);
        let until = at("2026-12-05T00:00:00Z");
        assert_eq!(
            review("2026-11-30T00:00:00Z", &[]),
            WeekReview::InReview { until }
        );
        assert_eq!(
            review("2026-12-05T00:00:00Z", &[]),
            WeekReview::ApprovedAutomatically { at: until }
        );
        let approved = [event(
            ReviewAction::Approve,
            None,
            2,
            "2026-12-01T09:00:00Z",
        )];
        assert_eq!(
            review("2026-12-09T00:00:00Z", &approved),
            WeekReview::Approved {
                by_user_id: 2,
                at: at("2026-12-01T09:00:00Z")
            }
        );
    }

    #[test]
    fn a_dispute_is_answered_then_decided_and_rejected_time_stops_counting() {
        let id = SegmentId::random();
        let mut events = vec![event(
            ReviewAction::Dispute,
            Some(id),
            2,
            "2026-12-01T09:00:00Z",
        )];
        let d = &disputes(&events)[0];
        assert_eq!(
            (d.reason.as_str(), d.decision, d.counts()),
            ("dispute note", None, true)
        );
        events.push(event(
            ReviewAction::Answer,
            Some(id),
            1,
            "2026-12-01T10:00:00Z",
        ));
        events.push(event(
            ReviewAction::Reject,
            Some(id),
            2,
            "2026-12-01T11:00:00Z",
        ));
        let d = &disputes(&events)[0];
        assert_eq!(d.answer.as_deref(), Some("answer note"));
        assert_eq!(d.decision, Some(ReviewAction::Reject));
        assert!(!d.counts());
        // A second dispute of the same segment changes nothing.
        events.push(event(
            ReviewAction::Dispute,
            Some(id),
            2,
            "2026-12-01T12:00:00Z",
        ));
        assert_eq!(disputes(&events).len(), 1);
    }

    // Nobody approves their own time: an admin who is the contract's
    // freelancer reviews as the freelancer; terms that make the freelancer
    // the client account are refused.
    #[test]
    fn nobody_reviews_their_own_time() {
        let mut stored = facts().contract.unwrap();
        stored.user_id = 1;
        stored.terms.client_user_id = Some(2);
        assert_eq!(reviewer(1, true, &stored), Reviewer::Freelancer);
        assert_eq!(reviewer(2, false, &stored), Reviewer::Client);
        assert_eq!(reviewer(3, true, &stored), Reviewer::Client);
        assert_eq!(reviewer(3, false, &stored), Reviewer::Other);
        assert!(terms_problem(&stored).is_none());
        stored.terms.client_user_id = Some(1);
        assert!(terms_problem(&stored).unwrap().contains("own freelancer"));
    }

    // B3: the pure step the store takes under its lock: approvals once,
    // never with an open dispute, no dispute once approved, answers capped,
    // notes capped.
    #[test]
    fn review_steps_follow_the_log() {
        let mut stored = facts().contract.unwrap();
        stored.user_id = 1;
        stored.terms.client_user_id = Some(2);
        let week = BillingWeek::containing(at("2026-11-25T10:00:00Z"));
        let now = at("2026-12-01T09:00:00Z");
        let five_days = 5 * 86_400;
        let segment = SegmentId::random();
        let start = Some(at("2026-11-25T10:00:00Z"));
        let ask = |by: i64, target, action, note: &str| ReviewRequest {
            contract_id: "c1".into(),
            by_user_id: by,
            by_admin: false,
            target,
            action,
            note: note.into(),
        };
        let mut log: Vec<ReviewEvent> = Vec::new();
        let step = |log: &mut Vec<ReviewEvent>, request: ReviewRequest| {
            let result = review_step(&stored, &request, start, log, now, five_days);
            if let Ok(event) = &result {
                log.push(event.clone());
            }
            result
        };
        use ReviewAction as A;
        use ReviewTarget as T;
        let long = "x".repeat(MAX_REVIEW_NOTE_CHARS + 1);
        assert!(matches!(
            step(&mut log, ask(2, T::Segment(segment), A::Dispute, &long)),
            Err(ReviewRefusal::Invalid(_))
        ));
        assert!(matches!(
            step(&mut log, ask(2, T::Segment(segment), A::Dispute, "  ")),
            Err(ReviewRefusal::Invalid(_))
        ));
        step(
            &mut log,
            ask(2, T::Segment(segment), A::Dispute, "not our project"),
        )
        .unwrap();
        assert_eq!(
            step(&mut log, ask(2, T::Week(week), A::Approve, "")),
            Err(ReviewRefusal::NotAllowed(
                "decide the disputed segments first"
            ))
        );
        for _ in 0..MAX_ANSWERS {
            step(&mut log, ask(1, T::Segment(segment), A::Answer, "it was")).unwrap();
        }
        assert!(matches!(
            step(&mut log, ask(1, T::Segment(segment), A::Answer, "again")),
            Err(ReviewRefusal::NotAllowed(_))
        ));
        step(&mut log, ask(2, T::Segment(segment), A::Reject, "")).unwrap();
        step(&mut log, ask(2, T::Week(week), A::Approve, "")).unwrap();
        assert_eq!(
            step(&mut log, ask(2, T::Week(week), A::Approve, "")),
            Err(ReviewRefusal::NotAllowed("the week is approved"))
        );
        assert!(
            step(
                &mut log,
                ask(2, T::Segment(SegmentId::random()), A::Dispute, "late")
            )
            .is_err()
        );
        assert_eq!(log.len(), 6);
        let d = &disputes(&log)[0];
        assert_eq!((d.answers, d.mark()), (MAX_ANSWERS, ReviewMark::Rejected));
        // A segment that is not the contract's.
        assert_eq!(
            review_step(
                &stored,
                &ask(2, T::Segment(segment), A::Dispute, "x"),
                None,
                &[],
                now,
                five_days
            ),
            Err(ReviewRefusal::NoSuchSegment)
        );
    }

    #[test]
    fn amounts_limits_and_currencies_read_as_typed() {
        assert_eq!(parse_amount("45"), Ok(4500));
        assert_eq!(parse_amount("45.5"), Ok(4550));
        assert_eq!(parse_amount(" 45.50 "), Ok(4550));
        assert_eq!(parse_amount("45,50"), Ok(4550));
        assert_eq!(parse_amount("45,5"), Ok(4550));
        for bad in [
            "45.",
            "45,",
            "-3",
            "1.234",
            "",
            "1e3",
            "9999999999",
            "1,000",
            "1.000,50",
            "4,5,0",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
        assert!(parse_amount("1,000").unwrap_err().contains("ambiguous"));
        assert_eq!(parse_weekly_limit("37,5"), Ok(Some(37 * 3600 + 1800)));
        assert_eq!(parse_weekly_limit("none"), Ok(None));
        assert_eq!(parse_weekly_limit("40"), Ok(Some(40 * 3600)));
        assert!(parse_weekly_limit("169").is_err());
        assert!(parse_weekly_limit("NaN").is_err());
        assert_eq!(parse_currency(" usd "), Ok("USD".into()));
        assert!(parse_currency("US").is_err());
    }

    #[test]
    fn who_may_do_what_in_a_review() {
        let until = at("2026-12-05T00:00:00Z");
        let in_review = WeekReview::InReview { until };
        let open = Dispute {
            segment_id: SegmentId::random(),
            reason: "r".into(),
            disputed_by: 2,
            disputed_at: until,
            answer: None,
            answers: 0,
            decision: None,
        };
        use ReviewAction as A;
        use Reviewer as R;
        assert!(may_review(R::Client, A::Approve, in_review, None).is_ok());
        assert!(may_review(R::Client, A::Approve, WeekReview::Open, None).is_err());
        assert!(may_review(R::Client, A::Approve, in_review, Some(&open)).is_err());
        assert!(may_review(R::Freelancer, A::Approve, in_review, None).is_err());
        assert!(may_review(R::Other, A::Dispute, in_review, None).is_err());
        assert!(may_review(R::Client, A::Dispute, in_review, None).is_ok());
        assert!(may_review(R::Client, A::Dispute, in_review, Some(&open)).is_err());
        assert!(may_review(R::Freelancer, A::Answer, in_review, Some(&open)).is_ok());
        assert!(may_review(R::Freelancer, A::Answer, in_review, None).is_err());
        assert!(may_review(R::Client, A::Reject, in_review, Some(&open)).is_ok());
        let decided = Dispute {
            decision: Some(A::Keep),
            ..open.clone()
        };
        assert!(may_review(R::Client, A::Reject, in_review, Some(&decided)).is_err());
        let approved = WeekReview::ApprovedAutomatically { at: until };
        assert!(may_review(R::Client, A::Dispute, approved, None).is_err());
        assert!(may_review(R::Freelancer, A::Answer, approved, Some(&open)).is_err());
    }

    #[test]
    fn manual_time_is_cut_on_the_grid_and_refused_where_not_allowed() {
        let now = at("2026-11-25T18:00:00Z");
        let pieces = manual_segments(
            "c1",
            at("2026-11-25T09:05:00Z"),
            at("2026-11-25T09:35:00Z"),
            "call",
            now,
            CONFIG,
        )
        .unwrap();
        let spans: Vec<_> = pieces
            .iter()
            .map(|s| {
                (
                    s.start.format("%H:%M").to_string(),
                    s.end.format("%H:%M").to_string(),
                )
            })
            .collect();
        assert_eq!(
            spans,
            [
                ("09:05", "09:10"),
                ("09:10", "09:20"),
                ("09:20", "09:30"),
                ("09:30", "09:35")
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        assert!(
            pieces
                .iter()
                .all(|s| s.device_id == MANUAL_DEVICE && s.memo == "call")
        );
        let later = at("2026-11-25T19:00:00Z");
        assert!(
            manual_segments("c1", now, later, "", now, CONFIG).is_err(),
            "future"
        );
        assert!(
            manual_segments("c1", later, now, "", later, CONFIG).is_err(),
            "backwards"
        );
        let mut f = facts();
        assert_eq!(judge_manual(&pieces[0], &f, now, CONFIG), Verdict::Accept);
        f.contract.as_mut().unwrap().terms.manual_time = false;
        assert_eq!(
            reason(judge_manual(&pieces[0], &f, now, CONFIG)),
            RejectReason::ManualTimeNotAllowed
        );
    }
}
