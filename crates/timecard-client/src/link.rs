//! What the worker and the sync thread tell each other, below both: the
//! commands to the sync thread, the events it reports, its status, and the
//! values they carry (upload actions, contract lists, diary pictures). The
//! engine creates both channels and wires them; neither thread's module
//! names the other.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cache::Refusal;
use timecard_core::domain::{BillingWeek, Contract, SegmentId};
use timecard_core::protocol::{DiaryResponse, ProblemReport, ServerConfig};

/// What the sync thread reports to the worker; the engine turns each event
/// into a worker command.
#[derive(Debug)]
pub enum SyncEvent {
    /// The sync thread's status (K5).
    Status(SyncStatus),
    /// The server's answers to an upload.
    UploadResults(Vec<(SegmentId, UploadAction)>),
    /// The contract list from the server.
    Contracts(ContractList),
    /// The server's grid and lock grace (`GET /config`).
    ServerConfig(ServerConfig),
    /// A message for the user.
    Notice(String),
}

/// Where the sync thread stands (K5). "Cache full" is added by the snapshot,
/// which knows the cache.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncState {
    /// Not tried yet.
    #[default]
    Connecting,
    Online,
    /// Uploading: `left` of `total` segments still to send.
    Uploading {
        left: usize,
        total: usize,
    },
    /// Offline: time is cached. Since when, the last error in plain words,
    /// and when the next try is.
    Caching {
        since: DateTime<Utc>,
        last_error: String,
        next_retry: DateTime<Utc>,
    },
    /// No valid session: sign in again (nothing in the cache is lost).
    SignedOut {
        reason: String,
    },
}

/// What the sync thread reports to the worker.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    pub server: String,
    pub state: SyncState,
    /// Server clock minus local clock, seconds (Y4).
    pub clock_skew_secs: Option<i64>,
    pub contracts_refreshed_at: Option<DateTime<Utc>>,
    /// Segments uploaded since the app started.
    pub uploaded_segments: u64,
    /// Problem reports waiting to be sent (D3).
    pub reports_waiting: usize,
    /// No server is configured: the built-in one runs in-process and the
    /// time stays on this computer.
    pub local_only: bool,
}

/// Commands to the sync thread.
#[derive(Debug)]
pub enum SyncCommand {
    /// New segments were cached: upload when the backoff allows.
    Wake,
    /// Upload now, ignoring the backoff (*Upload now*).
    UploadNow,
    /// Refresh the contract list now (the Refresh button).
    Refresh,
    /// Load a day of the Work Diary and send it, its thumbnails, and the
    /// day again whenever it changes (an upload or a deletion of its
    /// segments), to `reply`, until another day is asked for.
    LoadDiary {
        date: chrono::NaiveDate,
        tz: String,
        reply: DiaryReply,
    },
    /// Delete an uploaded segment on the server (S4).
    DeleteSegment(SegmentId),
    /// R8: add time worked away from the tracker, judged by the server.
    AddManual(timecard_core::protocol::ManualTime),
    /// Read a segment's full screenshot (from the cache file, else the
    /// server), decode it and hand it to `reply`.
    LoadScreenshot {
        id: SegmentId,
        reply: PictureReply,
    },
    /// Send a problem report (D3).
    SendReport(Box<ProblemReport>),
    Shutdown,
}

/// Where a segment's full screenshot goes once it is read and decoded: the
/// window's inbox, which also wakes the window.
pub struct PictureReply(Box<dyn FnOnce(Result<CellPicture, String>) + Send>);

impl PictureReply {
    pub fn new(reply: impl FnOnce(Result<CellPicture, String>) + Send + 'static) -> Self {
        PictureReply(Box::new(reply))
    }

    pub(crate) fn send(self, picture: Result<CellPicture, String>) {
        (self.0)(picture)
    }
}

impl std::fmt::Debug for PictureReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PictureReply")
    }
}

/// What the sync thread sends the Work Diary that asked for a day.
#[derive(Debug)]
pub enum DiaryUpdate {
    /// The day as the server has it, or why it could not be loaded.
    Day {
        date: chrono::NaiveDate,
        tz: String,
        result: Result<DiaryResponse, String>,
    },
    /// Thumbnails of the day's segments (uploaded or cached), decoded.
    Pictures(Vec<(SegmentId, CellPicture)>),
}

/// Where a diary's updates go: the window's inbox, which also wakes the
/// window. The sync thread keeps the last one and sends the day again
/// when it changes.
#[derive(Clone)]
pub struct DiaryReply(Arc<dyn Fn(DiaryUpdate) + Send + Sync>);

impl DiaryReply {
    pub fn new(reply: impl Fn(DiaryUpdate) + Send + Sync + 'static) -> Self {
        DiaryReply(Arc::new(reply))
    }

    pub(crate) fn send(&self, update: DiaryUpdate) {
        (self.0)(update)
    }
}

impl std::fmt::Debug for DiaryReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiaryReply")
    }
}

/// What to do with a cached segment after the server answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadAction {
    /// Accepted or already there (K7): it leaves the cache.
    Acknowledged,
    /// Accepted up to `end` only, when its contract was paused or ended
    /// (C5): it leaves the cache, and the time after `end` is not counted.
    AcknowledgedUntil { end: DateTime<Utc>, message: String },
    /// Refused: it moves to the *Not uploaded* list (K6).
    Refused(Refusal),
}

/// The contract list with what the server already has this week (C5).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContractList {
    pub contracts: Vec<Contract>,
    /// The billing week the server totals belong to.
    pub week: Option<BillingWeek>,
    /// Seconds the server holds per contract id for that week (uploaded time).
    pub server_week_secs: HashMap<String, i64>,
    /// The UTC span of the local day the "today" totals belong to.
    pub today: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Seconds the server holds per contract id for that day.
    pub server_today_secs: HashMap<String, i64>,
    /// What the clients disputed, per contract id.
    pub disputes: HashMap<String, Vec<timecard_core::protocol::DisputeInfo>>,
    /// R8: the contract ids whose terms let the freelancer add time by hand.
    pub manual_time: std::collections::HashSet<String>,
}

/// A Work Diary thumbnail, decoded and scaled to fit a cell (RGBA, off
/// the UI thread), with the server's JPEG for a larger view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellPicture {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
    pub jpeg: Arc<Vec<u8>>,
}

impl CellPicture {
    /// Decodes `jpeg` and scales it to fit `max_width`×`max_height`.
    pub fn from_jpeg(jpeg: Vec<u8>, max_width: u32, max_height: u32) -> Option<CellPicture> {
        let image = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).ok()?;
        let small = image.thumbnail(max_width, max_height).to_rgba8();
        Some(CellPicture {
            width: small.width(),
            height: small.height(),
            rgba: small.into_raw(),
            jpeg: Arc::new(jpeg),
        })
    }
}

/// Clock difference with the server above which a warning shows (Y4).
pub const CLOCK_SKEW_WARN_SECS: i64 = 120;
