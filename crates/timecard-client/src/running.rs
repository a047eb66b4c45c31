//! What another Timecard on this data folder is doing, for `timecard
//! status` (D1): the window answers over its instance socket (named pipe on
//! Windows) with a [`RunningState`] made from its latest snapshot. It owns
//! that small answer and its words; the socket itself is
//! [`crate::platform::instance`]'s.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::platform::DataDir;
use crate::platform::instance::{self, Holder};
use crate::worker::Snapshot;

/// What the running window says it is doing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningState {
    /// The session being tracked, if any.
    pub tracking: Option<RunningTracking>,
    /// K5 as the window sees it (`online`, `caching`, …), and in words:
    /// `timecard status` reports these instead of starting a connection
    /// (or a second built-in server) of its own beside the window's.
    #[serde(default)]
    pub sync_state: Option<String>,
    #[serde(default)]
    pub sync_summary: Option<String>,
}

/// The session the running window tracks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningTracking {
    pub contract_id: String,
    pub contract_title: String,
    pub started_at: DateTime<Utc>,
    /// Start of the segment in progress: time since then is in the window's
    /// memory only, not in the cache yet.
    pub segment_start: DateTime<Utc>,
}

impl RunningState {
    /// The state `snapshot` shows as of `now`.
    pub fn of(snapshot: &Snapshot, now: DateTime<Utc>, zone: chrono_tz::Tz) -> RunningState {
        RunningState {
            sync_state: Some(snapshot.sync_code().to_owned()),
            sync_summary: Some(snapshot.sync_summary(now, zone)),
            tracking: snapshot.tracking.as_ref().map(|t| RunningTracking {
                contract_id: t.contract_id.clone(),
                contract_title: t.contract_title.clone(),
                started_at: t.started_at,
                segment_start: t.segment_start,
            }),
        }
    }

    /// One line of JSON, as the window answers.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// Another Timecard holding the data folder, and what it said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Running {
    pub holder: Holder,
    /// The window's answer; `Err` in words when it could not be asked (a
    /// `timecard track`, which does not listen, is `Ok` with no state).
    pub state: Result<Option<RunningState>, String>,
}

/// Who else runs on `data` now and what it is doing; `None` when nothing
/// holds the data folder.
pub fn ask(data: &DataDir) -> Option<Running> {
    let holder = instance::holder(data)?;
    let state = if holder.socket.is_none() {
        Ok(None)
    } else {
        instance::ask_state(&holder)
            .map_err(|e| format!("it did not answer ({e})"))
            .and_then(|(_, line)| {
                serde_json::from_str(&line)
                    .map(Some)
                    .map_err(|e| format!("its answer could not be read ({e})"))
            })
    };
    Some(Running { holder, state })
}

impl Running {
    /// One line for people: "Tracking Backend (c1) in the window since
    /// 14:05 (this segment not cached yet: 7 minutes)".
    pub fn describe(&self, now: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
        let who = match self.holder.role.as_str() {
            "window" => "the window".to_owned(),
            "track" => "`timecard track`".to_owned(),
            role => format!("`timecard {role}`"),
        };
        match &self.state {
            Ok(Some(RunningState {
                tracking: Some(t), ..
            })) => {
                let since = t.started_at.with_timezone(&zone);
                let today = now.with_timezone(&zone).date_naive() == since.date_naive();
                let mins = (now - t.segment_start).num_minutes().max(0);
                format!(
                    "Tracking {} ({}) in {who} since {} (this segment not cached yet: {})",
                    timecard_core::fmt::printable(&t.contract_title, false),
                    timecard_core::fmt::printable(&t.contract_id, false),
                    if today {
                        since.format("%H:%M").to_string()
                    } else {
                        since.format("%a %-d %b %H:%M").to_string()
                    },
                    timecard_core::fmt::count(mins as u64, "minute", "minutes")
                )
            }
            // Answered before its snapshot was there to ask.
            Ok(Some(RunningState {
                sync_state: None, ..
            })) => format!("{who} is starting (pid {})", self.holder.pid),
            Ok(Some(_)) => format!("{who} is open (pid {}), not tracking", self.holder.pid),
            Ok(None) => format!("{who} is running (pid {})", self.holder.pid),
            Err(why) => format!("{who} is running (pid {}) but {why}", self.holder.pid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn window(state: Result<Option<RunningState>, String>) -> Running {
        Running {
            holder: Holder {
                pid: 42,
                version: "1.0.0".into(),
                role: "window".into(),
                socket: None,
            },
            state,
        }
    }

    #[test]
    fn tracking_in_the_window_reads_in_words() {
        let tracking = RunningState {
            sync_state: None,
            sync_summary: None,
            tracking: Some(RunningTracking {
                contract_id: "c1".into(),
                contract_title: "Backend".into(),
                started_at: at("2026-12-07T13:05:00Z"),
                segment_start: at("2026-12-07T14:00:00Z"),
            }),
        };
        let line = tracking.to_line();
        assert!(!line.contains('\n'));
        let back: RunningState = serde_json::from_str(&line).unwrap();
        assert_eq!(back, tracking);
        let zone = chrono_tz::Europe::Berlin;
        assert_eq!(
            window(Ok(Some(tracking.clone()))).describe(at("2026-12-07T14:07:30Z"), zone),
            "Tracking Backend (c1) in the window since 14:05 (this segment not cached yet: 7 minutes)"
        );
        let mut next_day = tracking.clone();
        next_day.tracking.as_mut().unwrap().segment_start = at("2026-12-08T14:00:00Z");
        assert_eq!(
            window(Ok(Some(next_day))).describe(at("2026-12-08T14:01:00Z"), zone),
            "Tracking Backend (c1) in the window since Mon 7 Dec 14:05 (this segment not cached yet: 1 minute)"
        );
        assert_eq!(
            window(Ok(Some(RunningState::default()))).describe(at("2026-12-08T14:01:00Z"), zone),
            "the window is starting (pid 42)"
        );
        let open = RunningState {
            sync_state: Some("online".into()),
            ..RunningState::default()
        };
        assert_eq!(
            window(Ok(Some(open))).describe(at("2026-12-08T14:01:00Z"), zone),
            "the window is open (pid 42), not tracking"
        );
    }
}
