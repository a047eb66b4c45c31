//! A segment of tracked time (S2): the unit that is cached, uploaded,
//! shown in the Work Diary and deleted with its screenshot.

use super::text::{Lines, text_problem};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::grid::SUB_SLOTS;
use super::week::BillingWeek;

/// A client-generated unique id; the server treats a second upload of the
/// same id as success (K7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// The first day tracked time may lie on (00:00 UTC). Earlier dates are a
/// damaged file or a computer clock set to another century.
pub const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
/// The day at whose 00:00 UTC tracked time must have ended.
pub const END_DAY: NaiveDate = NaiveDate::from_ymd_opt(2100, 1, 1).unwrap();

/// Whether `date` lies in the years tracked time may lie in.
pub fn is_plausible_day(date: NaiveDate) -> bool {
    (FIRST_DAY..END_DAY).contains(&date)
}

/// The years tracked time may lie in, in words for error messages.
pub fn plausible_years() -> String {
    format!(
        "{} to {}",
        FIRST_DAY.format("%-d %b %Y"),
        END_DAY.format("%-d %b %Y")
    )
}

/// Caps on a segment's fields (issue 11, item 4): what a real client sends
/// is far below them; the server refuses a segment over one as invalid,
/// with a message naming it.
pub mod caps {
    /// The memo, in characters.
    pub const MEMO_CHARS: usize = 2000;
    /// The device id, in characters.
    pub const DEVICE_ID_CHARS: usize = 64;
    /// The contract id, in characters.
    pub const CONTRACT_ID_CHARS: usize = 128;
    /// The note saying why there is no screenshot, in characters.
    pub const CAPTURE_NOTE_CHARS: usize = 500;
    /// The screenshot, in bytes.
    pub const SCREENSHOT_BYTES: usize = 2 * 1024 * 1024;
    /// Its thumbnail (320 px wide), in bytes.
    pub const THUMBNAIL_BYTES: usize = 256 * 1024;
    /// The width or height of a screenshot, in pixels.
    pub const PICTURE_SIDE: u32 = 16_384;
    /// A whole segment as MessagePack, in bytes: the pictures and the
    /// longest text fields, with room to spare. A larger body is not
    /// decoded.
    pub const BODY_BYTES: usize = SCREENSHOT_BYTES + THUMBNAIL_BYTES + 64 * 1024;
}

/// Why `jpeg` cannot be the segment's `what`: too large, or not a JPEG
/// whose header decodes to a sane size. Only the header is read.
fn picture_problem(what: &str, jpeg: &[u8], max_bytes: usize) -> Option<String> {
    if jpeg.len() > max_bytes {
        return Some(format!(
            "the {what} is {} bytes; at most {max_bytes} are taken",
            jpeg.len()
        ));
    }
    if !jpeg.starts_with(&[0xff, 0xd8, 0xff]) {
        return Some(format!("the {what} is not a JPEG"));
    }
    use image::ImageDecoder;
    match image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(jpeg)) {
        Err(e) => Some(format!("the {what} is not a readable JPEG ({e})")),
        Ok(decoder) => {
            let (w, h) = decoder.dimensions();
            let side = caps::PICTURE_SIDE;
            (w == 0 || h == 0 || w > side || h > side)
                .then(|| format!("the {what} is {w}×{h} pixels; each side must be 1 to {side}"))
        }
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

    /// The part of this segment before `end`, under the same id: activity
    /// of the sub-slots from `end` on and a screenshot taken from `end` on
    /// are dropped with the time (a contract paused at `end`, C5).
    pub fn cut_at(&self, end: DateTime<Utc>, grid: super::SegmentGrid) -> Segment {
        let end = end.clamp(self.start, self.end);
        let mut activity = Activity::default();
        if end > self.start {
            let last = grid.sub_slot(end - chrono::Duration::milliseconds(1));
            for slot in 0..=last {
                if self.activity.is_active(slot) {
                    activity.set(slot);
                }
            }
        }
        let screenshot = self.screenshot.clone().filter(|s| s.taken_at < end);
        Segment {
            end,
            activity,
            capture_note: match (&self.screenshot, &screenshot) {
                (Some(_), None) => Some("screenshot taken after the contract was paused".into()),
                _ => self.capture_note.clone(),
            },
            screenshot,
            ..self.clone()
        }
    }

    /// Why a field of the segment is over its cap ([`caps`]) or malformed:
    /// text too long (or ids holding control characters), activity outside
    /// its ten bits, a screenshot too large or not a JPEG. Pure, no clock.
    pub fn field_problem(&self) -> Option<String> {
        if self.contract_id.is_empty() {
            return Some("the contract id is empty".into());
        }
        // X5: ids are one line; a memo and a capture note may have lines.
        text_problem(
            "contract id",
            &self.contract_id,
            caps::CONTRACT_ID_CHARS,
            Lines::One,
        )
        .or_else(|| {
            text_problem(
                "device id",
                &self.device_id,
                caps::DEVICE_ID_CHARS,
                Lines::One,
            )
        })
        .or_else(|| text_problem("memo", &self.memo, caps::MEMO_CHARS, Lines::Many))
        .or_else(|| {
            self.capture_note.as_deref().and_then(|n| {
                text_problem("capture note", n, caps::CAPTURE_NOTE_CHARS, Lines::Many)
            })
        })
        .or_else(|| {
            (self.activity.0 >> SUB_SLOTS != 0).then(|| {
                format!(
                    "the activity {:#b} has bits beyond its {SUB_SLOTS} sub-slots",
                    self.activity.0
                )
            })
        })
        .or_else(|| {
            let shot = self.screenshot.as_ref()?;
            picture_problem("screenshot", &shot.jpeg, caps::SCREENSHOT_BYTES)
                .or_else(|| picture_problem("thumbnail", &shot.thumbnail, caps::THUMBNAIL_BYTES))
        })
    }

    pub fn week(&self) -> BillingWeek {
        BillingWeek::containing(self.start)
    }

    /// Why the segment's dates cannot be tracked time: its start or end lies
    /// outside [`FIRST_DAY`] .. [`END_DAY`] (00:00 UTC both). Needs no clock;
    /// the server also refuses what ends in its future.
    pub fn dates_problem(&self) -> Option<String> {
        let first = FIRST_DAY.and_time(chrono::NaiveTime::MIN).and_utc();
        let end = END_DAY.and_time(chrono::NaiveTime::MIN).and_utc();
        let inside = |t: DateTime<Utc>| first <= t && t <= end;
        if inside(self.start) && inside(self.end) {
            return None;
        }
        Some(format!(
            "the segment is dated {} to {}, outside {}: the file was damaged or \
             the computer's clock was wrong when it was made",
            self.start.format("%Y-%m-%d %H:%M UTC"),
            self.end.format("%Y-%m-%d %H:%M UTC"),
            plausible_years()
        ))
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

    #[test]
    fn dates_outside_2000_to_2100_are_a_problem() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let seg = |start: DateTime<Utc>, end: DateTime<Utc>| Segment {
            id: SegmentId::random(),
            contract_id: "c".into(),
            device_id: "d".into(),
            start,
            end,
            memo: String::new(),
            activity: Activity::default(),
            screenshot: None,
            capture_note: None,
        };
        let fine = seg(at("2026-11-25T09:00:00Z"), at("2026-11-25T09:10:00Z"));
        assert_eq!(fine.dates_problem(), None);
        let edges = seg(at("2000-01-01T00:00:00Z"), at("2100-01-01T00:00:00Z"));
        assert_eq!(edges.dates_problem(), None);
        let min = DateTime::<Utc>::MIN_UTC;
        let max = DateTime::<Utc>::MAX_UTC;
        for (start, end) in [
            (min, min),
            (max, max),
            (at("1999-12-31T23:59:59Z"), at("2000-01-01T00:05:00Z")),
            (at("2099-12-31T23:55:00Z"), at("2100-01-01T00:00:01Z")),
        ] {
            let problem = seg(start, end).dates_problem().unwrap();
            assert!(problem.contains("1 Jan 2000 to 1 Jan 2100"), "{problem}");
        }
        assert!(is_plausible_day(FIRST_DAY));
        assert!(!is_plausible_day(END_DAY));
        assert!(!is_plausible_day(NaiveDate::MIN));
    }
}
