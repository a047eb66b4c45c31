//! Wire types of the HTTP API (v1), shared by the client and the server.
//!
//! JSON everywhere except segment uploads: a batch is a MessagePack
//! [`UploadBatch`] whose entries are cache-file bodies, byte for byte.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Activity, Billable, Contract, ReviewMark, SegmentId, Totals};

/// Path prefix of every API route.
pub const API_PREFIX: &str = "/api/v1";
/// Content type of segment batches.
pub const MSGPACK: &str = "application/msgpack";
/// The largest segment batch the server reads, in bytes: a few dozen
/// segments with screenshots. No single segment can be larger.
pub const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// Every error answer: `{"error": "<code>", "message": "<plain words>"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

/// `GET /health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok`.
    pub status: String,
    pub version: String,
    pub server_time: DateTime<Utc>,
}

/// `GET /config`: the rules the server enforces that the client must know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerConfig {
    /// S1: the segment grid, in seconds.
    pub segment_secs: i64,
    /// W4: how long after a billing week ends its Work Diary locks.
    pub lock_grace_secs: i64,
}

/// `POST /session`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignIn {
    /// Username or e-mail.
    pub login: String,
    pub password: String,
    /// The device ticket this device got at its last sign-in to this
    /// account (Y6): while the account is under attack from elsewhere, it
    /// lets its owner in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_ticket: Option<String>,
}

/// The answer to a sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub token: String,
    pub login: String,
    pub expires_at: DateTime<Utc>,
    /// A device ticket for the next sign-in of this device (Y6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_ticket: Option<String>,
}

/// One contract with this week's totals, as `GET /contracts` returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContractInfo {
    #[serde(flatten)]
    pub contract: Contract,
    /// Seconds the server holds for this billing week.
    pub week_logged_secs: i64,
    /// Seconds the server holds for today in the zone asked for (`tz`).
    #[serde(default)]
    pub today_logged_secs: i64,
    /// Segments the client disputed in the last weeks, with where each
    /// dispute stands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disputes: Vec<DisputeInfo>,
    /// R8: whether the freelancer may add time by hand (`POST /manual`).
    #[serde(default)]
    pub manual_time: bool,
}

/// A segment the contract's client disputed in the weekly review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisputeInfo {
    pub segment_id: SegmentId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The client's reason.
    pub reason: String,
    /// The freelancer's answer, if any.
    #[serde(default)]
    pub answer: Option<String>,
    /// `open` until the client decides, then `kept` or `rejected` (rejected
    /// time is not billed).
    pub state: String,
}

/// `GET /contracts[?tz=Area/City]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContractsResponse {
    pub server_time: DateTime<Utc>,
    /// Monday 00:00 UTC of the week the totals belong to.
    pub week_start: DateTime<Utc>,
    pub contracts: Vec<ContractInfo>,
}

/// Segments in one batch, at most.
pub const MAX_BATCH_SEGMENTS: usize = 1000;

/// `POST /segments` (MessagePack): cache-file bodies, oldest first. The
/// server reads it with [`decode_batch`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadBatch {
    /// Each a cache-file body (MessagePack binary), byte for byte.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<u8>>))]
    pub segments: Vec<serde_bytes::ByteBuf>,
}

/// Why an upload is not a batch the server reads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error(
        "the batch holds {0} segments; at most {MAX_BATCH_SEGMENTS} go in one batch (send the rest in another)"
    )]
    TooMany(u64),
    #[error("the upload is not a MessagePack segment batch: {0}")]
    Malformed(String),
}

/// Reads an [`UploadBatch`] without copying its bodies, and refuses one
/// that holds more than [`MAX_BATCH_SEGMENTS`] from its declared length,
/// before anything is allocated for its entries: a 64 MiB array of 1-byte
/// entries would otherwise become 67 million buffers (issue 11, item 4).
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<&[u8]>, BatchError> {
    #[derive(Deserialize)]
    struct Batch<'a> {
        #[serde(borrow, deserialize_with = "bounded_bodies")]
        segments: Vec<&'a [u8]>,
    }
    TOO_MANY.set(None);
    let decoded = rmp_serde::from_slice::<Batch<'_>>(bytes);
    match (TOO_MANY.take(), decoded) {
        (Some(n), _) => Err(BatchError::TooMany(n)),
        (None, Ok(batch)) => Ok(batch.segments),
        (None, Err(e)) => Err(BatchError::Malformed(e.to_string())),
    }
}

thread_local! {
    /// Set by [`bounded_bodies`] when a batch holds too many entries, so
    /// that [`decode_batch`] can tell that from a malformed batch.
    static TOO_MANY: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

fn bounded_bodies<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<&'de [u8]>, D::Error> {
    struct Bodies;
    impl<'de> serde::de::Visitor<'de> for Bodies {
        type Value = Vec<&'de [u8]>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "an array of at most {MAX_BATCH_SEGMENTS} segment bodies")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let too_many = |n: usize| {
                TOO_MANY.set(Some(n as u64));
                serde::de::Error::invalid_length(n, &self)
            };
            let declared = seq.size_hint().unwrap_or(0);
            if declared > MAX_BATCH_SEGMENTS {
                return Err(too_many(declared));
            }
            let mut bodies = Vec::with_capacity(declared);
            while let Some(body) = seq.next_element::<&'de [u8]>()? {
                if bodies.len() == MAX_BATCH_SEGMENTS {
                    return Err(too_many(bodies.len() + 1));
                }
                bodies.push(body);
            }
            Ok(bodies)
        }
    }
    de.deserialize_seq(Bodies)
}

/// What became of one uploaded segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Outcome {
    Accepted,
    /// K7: the server already had it; counts as success.
    Duplicate,
    Rejected,
}

/// Why the server refused a segment (K6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RejectReason {
    /// W4: the week's Work Diary is locked.
    WeekLocked,
    /// K8: time already logged from another device.
    Overlap,
    /// Not this user's contract, ended or paused before the segment, or not started.
    ContractNotTrackable,
    /// W2: the weekly limit would be exceeded.
    OverLimit,
    /// The segment itself is malformed (end before start, wrong length, dated
    /// outside 2000–2100 or in the server's future …).
    Invalid,
    /// Time added by hand on a contract that does not allow it (R8).
    ManualTimeNotAllowed,
}

impl RejectReason {
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::WeekLocked => "week_locked",
            RejectReason::Overlap => "overlap",
            RejectReason::ContractNotTrackable => "contract_not_trackable",
            RejectReason::OverLimit => "over_limit",
            RejectReason::Invalid => "invalid",
            RejectReason::ManualTimeNotAllowed => "manual_time_not_allowed",
        }
    }
}

/// The outcome for one segment of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SegmentResult {
    pub id: SegmentId,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RejectReason>,
    /// Plain words, e.g. which device holds the overlapping time (K8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Accepted only up to this moment, when the contract was paused or
    /// ended (C5); `message` says so. The segment keeps its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_until: Option<DateTime<Utc>>,
}

/// The answer to `POST /segments`, one result per segment in batch order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadResponse {
    pub results: Vec<SegmentResult>,
}

/// One segment in the Work Diary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiarySegment {
    pub id: SegmentId,
    pub contract_id: String,
    pub device_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub memo: String,
    pub activity: Activity,
    pub has_screenshot: bool,
    pub capture_note: Option<String>,
    /// Added by hand (no screenshot, no activity), not tracked (R8).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual: bool,
    /// The client's dispute of this segment, in words (R9), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute: Option<String>,
    /// Where the segment stands in the client's review (B1): rejected time
    /// is not billed.
    #[serde(default, skip_serializing_if = "ReviewMark::is_none")]
    pub review: ReviewMark,
}

impl Billable for DiarySegment {
    fn contract_id(&self) -> &str {
        &self.contract_id
    }
    fn start(&self) -> DateTime<Utc> {
        self.start
    }
    fn end(&self) -> DateTime<Utc> {
        self.end
    }
    fn is_manual(&self) -> bool {
        self.manual
    }
    fn review(&self) -> ReviewMark {
        self.review
    }
}

/// One contract's time on the day (B1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContractTotal {
    pub contract_id: String,
    /// The billable seconds (what older apps read).
    pub secs: i64,
    /// Tracked, manual, disputed, rejected and billable seconds.
    #[serde(flatten, default)]
    pub totals: Totals,
}

impl ContractTotal {
    pub fn new(contract_id: String, totals: Totals) -> Self {
        ContractTotal {
            contract_id,
            secs: totals.billable_secs,
            totals,
        }
    }
}

/// `POST /manual`: time worked away from the tracker, added by hand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManualTime {
    pub contract_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub memo: String,
}

/// What `POST /manual` added: the time, cut on the server's grid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManualTimeAdded {
    pub segments: Vec<SegmentId>,
    pub secs: i64,
}

/// `GET /diary?date=YYYY-MM-DD&tz=Area/City`: one local day (T1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiaryResponse {
    pub date: NaiveDate,
    pub tz: String,
    pub day_start: DateTime<Utc>,
    pub day_end: DateTime<Utc>,
    /// 24, or 23 / 25 across a daylight-saving change.
    pub hours: i64,
    pub segments: Vec<DiarySegment>,
    /// Each contract's time on the day, clipped to it (B1).
    pub totals: Vec<ContractTotal>,
    /// The day's time over all contracts (B1).
    #[serde(default)]
    pub total: Totals,
    /// W4: whether the billing week of this day is locked (or approved).
    pub locked: bool,
    /// S1: the server's grid, which the diary's cells follow (B2).
    #[serde(default = "default_segment_secs")]
    pub segment_secs: i64,
}

fn default_segment_secs() -> i64 {
    crate::domain::grid::DEFAULT_SEGMENT_SECS
}

/// `POST /reports`: a problem report (D3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProblemReport {
    /// Chosen by the app, so a report sent twice (a retry after a cut
    /// connection) is stored once.
    pub id: uuid::Uuid,
    pub description: String,
    #[serde(default)]
    pub contract_id: Option<String>,
    /// When the problem happened, as the user entered it (converted to UTC).
    pub incident_at: Option<DateTime<Utc>>,
    /// The zone the user entered the time in.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// When the user pressed *Send*.
    pub created_at: DateTime<Utc>,
    pub app_version: String,
    /// Operating system and architecture, e.g. `linux x86_64`.
    pub os: String,
    /// A zip of the logs, base64-encoded, if the user chose to attach them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_zip_base64: Option<String>,
}

/// What is wrong with a problem report as filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportFormError {
    /// Nothing says what happened.
    NoDescription,
    /// The time it happened does not read (the message says how to write it).
    BadTime(String),
}

impl ProblemReport {
    /// A report from this app, now, with no logs attached yet.
    pub fn new(description: &str, created_at: DateTime<Utc>) -> ProblemReport {
        ProblemReport {
            id: uuid::Uuid::new_v4(),
            description: description.trim().to_owned(),
            contract_id: None,
            incident_at: None,
            time_zone: None,
            created_at,
            app_version: crate::release::version().to_owned(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            logs_zip_base64: None,
        }
    }

    /// *Report a problem* as the user filled it in, in the window or with
    /// `timecard report`: what happened, the contract it is about, and when
    /// (`"YYYY-MM-DD HH:MM"` in `zone`; `None` is now).
    pub fn compose(
        description: &str,
        contract_id: Option<String>,
        when: Option<&str>,
        zone: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Result<ProblemReport, ReportFormError> {
        if description.trim().is_empty() {
            return Err(ReportFormError::NoDescription);
        }
        let incident_at = match when {
            None => now,
            Some(text) => {
                crate::domain::parse_local_minute(text, zone).map_err(ReportFormError::BadTime)?
            }
        };
        let mut report = ProblemReport::new(description, now);
        report.contract_id = contract_id;
        report.incident_at = Some(incident_at);
        report.time_zone = Some(zone.name().to_owned());
        Ok(report)
    }

    /// Attaches `zip` (the log folder, zipped).
    pub fn attach_logs(&mut self, zip: &[u8]) {
        use base64::Engine;
        self.logs_zip_base64 = Some(base64::engine::general_purpose::STANDARD.encode(zip));
    }

    /// The attached logs zip, decoded; an error says why it is unreadable.
    pub fn logs_zip(&self) -> Result<Option<Vec<u8>>, String> {
        use base64::Engine;
        self.logs_zip_base64
            .as_deref()
            .map(|text| {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| format!("the attached logs are not valid base64: {e}"))
            })
            .transpose()
    }
}

/// The answer to `POST /reports`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportReceipt {
    pub id: String,
}

/// `GET /api/v1/releases/latest`: the newest release of the app for a
/// system, processor and kind, and where to download it (U1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseOffer {
    #[serde(flatten)]
    pub release: crate::release::Release,
    /// The file's path on the server (`/download/VERSION/NAME`).
    pub url: String,
}
