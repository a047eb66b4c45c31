//! A segment of tracked time (S2): the unit that is cached, uploaded,
//! shown in the Work Diary and deleted with its screenshot.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::grid::SUB_SLOTS;
use super::week::BillingWeek;

/// A client-generated unique id; the server treats a second upload of the
/// same id as success (K7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SegmentId(pub Uuid);

impl SegmentId {
    pub fn random() -> Self {
        SegmentId(Uuid::new_v4())
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for SegmentId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(SegmentId)
    }
}

/// Ten sub-slots, each active when keyboard or mouse input was seen in it
/// (P3). Stored as a bit mask: bit `i` is sub-slot `i`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Activity(pub u16);

impl Activity {
    pub fn set(&mut self, slot: usize) {
        if slot < SUB_SLOTS {
            self.0 |= 1 << slot;
        }
    }

    pub fn is_active(self, slot: usize) -> bool {
        slot < SUB_SLOTS && self.0 & (1 << slot) != 0
    }

    /// Active sub-slots out of ten.
    pub fn level(self) -> u32 {
        (self.0 & ((1 << SUB_SLOTS) - 1)).count_ones()
    }
}

/// The one screenshot of a segment, taken at a random moment inside it (S2).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screenshot {
    pub taken_at: DateTime<Utc>,
    #[serde(with = "serde_bytes")]
    pub jpeg: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub thumbnail: Vec<u8>,
}

impl fmt::Debug for Screenshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Screenshot")
            .field("taken_at", &self.taken_at)
            .field("jpeg_bytes", &self.jpeg.len())
            .field("thumbnail_bytes", &self.thumbnail.len())
            .finish()
    }
}

/// One piece of tracked time inside one grid cell (S1, S2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub id: SegmentId,
    pub contract_id: String,
    pub device_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(default)]
    pub memo: String,
    #[serde(default)]
    pub activity: Activity,
    #[serde(default)]
    pub screenshot: Option<Screenshot>,
    /// Set when no usable screenshot could be taken (no display, a black
    /// frame, capture refused): the plain-words reason (P2).
    #[serde(default)]
    pub capture_note: Option<String>,
}

impl Segment {
    pub fn duration_secs(&self) -> i64 {
        (self.end - self.start).num_seconds()
    }

    pub fn week(&self) -> BillingWeek {
        BillingWeek::containing(self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_counts_only_ten_slots() {
        let mut a = Activity::default();
        a.set(0);
        a.set(9);
        a.set(10); // out of range, ignored
        assert_eq!(a.level(), 2);
        assert!(a.is_active(9));
        assert!(!a.is_active(5));
        assert!(!a.is_active(10));
    }
}
