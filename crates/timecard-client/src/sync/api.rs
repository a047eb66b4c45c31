//! What the client asks of a server, whichever it is: a server over HTTPS
//! ([`super::ApiClient`]) or the built-in server in this process, which the
//! app provides without a network in between (`connect::LocalServer`).
//! The sync thread, the command line and sign-out use only this.

use chrono::NaiveDate;

use super::SyncError;
use timecard_core::domain::SegmentId;
use timecard_core::protocol::{
    ContractsResponse, DiaryResponse, Health, ManualTime, ManualTimeAdded, ProblemReport,
    ReportReceipt, ServerConfig, UploadResponse,
};

/// The HTTP API v1 as calls (docs/SPEC.md, *HTTP API v1*); every failure
/// is a [`SyncError`] in plain words.
pub trait Api: Send + Sync {
    /// What to call the server in the status line and messages:
    /// `https://host:port`, or the built-in server's name.
    fn name(&self) -> &str;
    /// The session's token, if signed in (the built-in server needs none
    /// and gives a placeholder).
    fn token(&self) -> Option<String>;
    /// Server time minus local time, in seconds, from the last answer (Y4).
    fn clock_skew_secs(&self) -> Option<i64>;
    fn health(&self) -> Result<Health, SyncError>;
    fn config(&self) -> Result<ServerConfig, SyncError>;
    /// Ends the session (best effort).
    fn sign_out(&self) -> Result<(), SyncError>;
    /// The contract list, "today" in the zone `tz`.
    fn contracts(&self, tz: &str) -> Result<ContractsResponse, SyncError>;
    /// The contract list unless it is still the one tagged `etag` (R14):
    /// `None` when unchanged, else the list and its tag. A server without
    /// tags answers in full every time.
    #[allow(clippy::type_complexity)]
    fn contracts_if_changed(
        &self,
        tz: &str,
        _etag: Option<&str>,
    ) -> Result<Option<(ContractsResponse, Option<String>)>, SyncError> {
        self.contracts(tz).map(|answer| Some((answer, None)))
    }
    /// Uploads cache-file bodies; one result per body, in order.
    fn upload(&self, bodies: Vec<Vec<u8>>) -> Result<UploadResponse, SyncError>;
    fn add_manual(&self, request: &ManualTime) -> Result<ManualTimeAdded, SyncError>;
    fn delete_segment(&self, id: SegmentId) -> Result<(), SyncError>;
    /// One local day of the Work Diary (T1).
    fn diary(&self, date: Option<NaiveDate>, tz: &str) -> Result<DiaryResponse, SyncError>;
    fn screenshot(&self, id: SegmentId) -> Result<Vec<u8>, SyncError>;
    fn thumbnail(&self, id: SegmentId) -> Result<Vec<u8>, SyncError>;
    fn report(&self, report: &ProblemReport) -> Result<ReportReceipt, SyncError>;
}

impl Api for super::ApiClient {
    fn name(&self) -> &str {
        self.address().as_str()
    }
    fn token(&self) -> Option<String> {
        super::ApiClient::token(self)
    }
    fn clock_skew_secs(&self) -> Option<i64> {
        super::ApiClient::clock_skew_secs(self)
    }
    fn health(&self) -> Result<Health, SyncError> {
        super::ApiClient::health(self)
    }
    fn config(&self) -> Result<ServerConfig, SyncError> {
        super::ApiClient::config(self)
    }
    fn sign_out(&self) -> Result<(), SyncError> {
        super::ApiClient::sign_out(self)
    }
    fn contracts(&self, tz: &str) -> Result<ContractsResponse, SyncError> {
        super::ApiClient::contracts(self, tz)
    }
    fn contracts_if_changed(
        &self,
        tz: &str,
        etag: Option<&str>,
    ) -> Result<Option<(ContractsResponse, Option<String>)>, SyncError> {
        super::ApiClient::contracts_if_changed(self, tz, etag)
    }
    fn upload(&self, bodies: Vec<Vec<u8>>) -> Result<UploadResponse, SyncError> {
        super::ApiClient::upload(self, bodies)
    }
    fn add_manual(&self, request: &ManualTime) -> Result<ManualTimeAdded, SyncError> {
        super::ApiClient::add_manual(self, request)
    }
    fn delete_segment(&self, id: SegmentId) -> Result<(), SyncError> {
        super::ApiClient::delete_segment(self, id)
    }
    fn diary(&self, date: Option<NaiveDate>, tz: &str) -> Result<DiaryResponse, SyncError> {
        super::ApiClient::diary(self, date, tz)
    }
    fn screenshot(&self, id: SegmentId) -> Result<Vec<u8>, SyncError> {
        super::ApiClient::screenshot(self, id)
    }
    fn thumbnail(&self, id: SegmentId) -> Result<Vec<u8>, SyncError> {
        super::ApiClient::thumbnail(self, id)
    }
    fn report(&self, report: &ProblemReport) -> Result<ReportReceipt, SyncError> {
        super::ApiClient::report(self, report)
    }
}
