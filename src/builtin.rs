//! The built-in local server (docs/SPEC.md, *The built-in server*): with no
//! server configured, the app and the command line keep their time in
//! `timecard-server`'s store in the data folder's `local-server/`, with the
//! demo account and contracts of `timecard_server::demo::seed_local`. The
//! client calls it through the same [`Api`] as a server over HTTPS, but in
//! this process: the same use cases and views the server's HTTP rooms
//! call, with no listener, TLS or HTTP in between (nothing to reach from
//! outside, and less memory and fewer threads than a server on loopback).
//! Built without the `builtin-server` feature, there is none.

use timecard_client::connect::LocalServer;

/// The local server this build provides: the real one, or none.
pub fn local_server() -> &'static dyn LocalServer {
    #[cfg(feature = "builtin-server")]
    {
        &local::Builtin
    }
    #[cfg(not(feature = "builtin-server"))]
    {
        &timecard_client::connect::NoLocalServer
    }
}

#[cfg(feature = "builtin-server")]
mod local {
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use anyhow::Context;
    use chrono::NaiveDate;

    use timecard_client::connect::{LocalServer, RunningLocal, StartedLocal};
    use timecard_client::sync::{Api, SyncError};
    use timecard_core::clock::Clock;
    use timecard_core::domain::{LocalDay, SegmentId};
    use timecard_core::protocol::{
        ContractsResponse, DiaryResponse, ErrorBody, Health, ManualTime, ManualTimeAdded,
        ProblemReport, ReportReceipt, ServerConfig, UploadResponse,
    };
    use timecard_server::store::{Picture, Store, User};
    use timecard_server::usecases::{self, Refusal};
    use timecard_server::views;

    /// What the status line calls it.
    const NAME: &str = "the built-in local server";

    /// `timecard-server`'s store and rules, in this process.
    pub struct Builtin;

    impl LocalServer for Builtin {
        fn start(&self, dir: &Path, clock: Arc<dyn Clock>) -> anyhow::Result<StartedLocal> {
            let store: Arc<dyn Store> = Arc::new(
                timecard_server::open_store(dir).context("cannot open the built-in server")?,
            );
            timecard_server::demo::seed_local(store.as_ref(), dir, clock.now())
                .context("cannot prepare the built-in server")?;
            let user = store
                .find_user(timecard_server::demo::LOCAL_LOGIN)?
                .context("the built-in server's account is gone")?;
            let stopped = Arc::new(AtomicBool::new(false));
            Ok(StartedLocal {
                login: user.login.clone(),
                api: Arc::new(LocalApi {
                    store,
                    user,
                    clock,
                    config: timecard_server::ServerOptions::new(dir).config,
                    stopped: stopped.clone(),
                }),
                running: Box::new(Running(stopped)),
            })
        }
    }

    struct Running(Arc<AtomicBool>);

    impl RunningLocal for Running {
        fn stop(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// The API v1, answered here for the built-in account.
    struct LocalApi {
        store: Arc<dyn Store>,
        user: User,
        clock: Arc<dyn Clock>,
        config: ServerConfig,
        /// Stopped: every call fails as an unreachable server's would.
        stopped: Arc<AtomicBool>,
    }

    impl LocalApi {
        /// Runs a use case unless stopped; its refusal in the words and
        /// kinds an HTTPS answer would have (`sync::error::from_status`).
        fn answer<T>(
            &self,
            f: impl FnOnce(&dyn Store) -> Result<T, Refusal>,
        ) -> Result<T, SyncError> {
            if self.stopped.load(Ordering::SeqCst) {
                return Err(SyncError::Unreachable {
                    host: NAME.to_owned(),
                    detail: "it was stopped".to_owned(),
                });
            }
            f(self.store.as_ref()).map_err(|refusal| {
                let (status, code) = refusal.status_and_code();
                let body = serde_json::to_vec(&ErrorBody {
                    error: code.to_owned(),
                    message: refusal.to_string(),
                })
                .unwrap_or_default();
                timecard_client::sync::error::from_status(NAME, status, &body, None)
            })
        }
    }

    fn zone(tz: &str) -> Result<chrono_tz::Tz, Refusal> {
        tz.parse().map_err(|_| {
            Refusal::Malformed(format!(
                "unknown time zone {tz:?}; use an IANA name such as Europe/Berlin"
            ))
        })
    }

    impl Api for LocalApi {
        fn name(&self) -> &str {
            NAME
        }

        fn token(&self) -> Option<String> {
            // Signed in for as long as it runs: nothing to sign in with.
            Some(self.user.login.clone())
        }

        fn clock_skew_secs(&self) -> Option<i64> {
            Some(0)
        }

        fn health(&self) -> Result<Health, SyncError> {
            self.answer(|_| {
                Ok(Health {
                    status: "ok".into(),
                    version: timecard_core::release::version().into(),
                    server_time: self.clock.now(),
                })
            })
        }

        fn config(&self) -> Result<ServerConfig, SyncError> {
            self.answer(|_| Ok(self.config))
        }

        fn sign_out(&self) -> Result<(), SyncError> {
            Ok(())
        }

        fn contracts(&self, tz: &str) -> Result<ContractsResponse, SyncError> {
            self.answer(|s| {
                let now = self.clock.now();
                let today = LocalDay::containing(now, zone(tz)?);
                Ok(views::app_contracts(s, self.user.id, now, today)?)
            })
        }

        /// As the server's `ETag` (R14): an unchanged list is no new
        /// snapshot, so an idle window draws nothing once a minute.
        fn contracts_if_changed(
            &self,
            tz: &str,
            etag: Option<&str>,
        ) -> Result<Option<(ContractsResponse, Option<String>)>, SyncError> {
            self.answer(|s| {
                let now = self.clock.now();
                let zone = zone(tz)?;
                let today = LocalDay::containing(now, zone);
                let answer = views::app_contracts(s, self.user.id, now, today)?;
                let tag = views::contracts_etag(&answer, today, zone);
                Ok((etag != Some(tag.as_str())).then_some((answer, Some(tag))))
            })
        }

        fn upload(&self, bodies: Vec<Vec<u8>>) -> Result<UploadResponse, SyncError> {
            self.answer(|s| {
                let bodies: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
                let results = usecases::upload::judge(
                    s,
                    self.user.id,
                    &bodies,
                    self.clock.now(),
                    self.config,
                )?;
                Ok(UploadResponse { results })
            })
        }

        fn add_manual(&self, request: &ManualTime) -> Result<ManualTimeAdded, SyncError> {
            self.answer(|s| {
                usecases::manual::add(
                    s,
                    &self.user,
                    request.clone(),
                    self.clock.now(),
                    self.config,
                )
            })
        }

        fn delete_segment(&self, id: SegmentId) -> Result<(), SyncError> {
            self.answer(|s| {
                s.delete_segment(
                    self.user.id,
                    id,
                    self.clock.now(),
                    self.config.lock_grace_secs,
                )?
                .map_err(|closed| {
                    Refusal::Locked(format!(
                        "{}: its segments can no longer be deleted",
                        closed.message()
                    ))
                })
            })
        }

        fn diary(&self, date: Option<NaiveDate>, tz: &str) -> Result<DiaryResponse, SyncError> {
            self.answer(|s| {
                let zone = zone(tz)?;
                let now = self.clock.now();
                let date = date.unwrap_or_else(|| LocalDay::containing(now, zone).date);
                if !timecard_core::domain::segment::is_plausible_day(date) {
                    return Err(Refusal::Malformed(format!(
                        "{date} is outside the days the Work Diary can show"
                    )));
                }
                let day = LocalDay::new(date, zone);
                Ok(
                    views::DayView::of_user(s, self.user.id, day, now, self.config)?
                        .into_response(),
                )
            })
        }

        fn screenshot(&self, id: SegmentId) -> Result<Vec<u8>, SyncError> {
            self.answer(|s| picture(s, self.user.id, id, Picture::Full))
        }

        fn thumbnail(&self, id: SegmentId) -> Result<Vec<u8>, SyncError> {
            self.answer(|s| picture(s, self.user.id, id, Picture::Thumbnail))
        }

        fn report(&self, report: &ProblemReport) -> Result<ReportReceipt, SyncError> {
            self.answer(|s| {
                let logs = report.logs_zip().map_err(Refusal::Malformed)?;
                s.add_report(self.user.id, report, logs.as_deref(), self.clock.now())?;
                Ok(ReportReceipt {
                    id: report.id.to_string(),
                })
            })
        }
    }

    fn picture(
        store: &dyn Store,
        user_id: i64,
        id: SegmentId,
        size: Picture,
    ) -> Result<Vec<u8>, Refusal> {
        store
            .screenshot(user_id, id, size)?
            .ok_or_else(|| Refusal::NotFound("screenshot not found".into()))
    }
}
