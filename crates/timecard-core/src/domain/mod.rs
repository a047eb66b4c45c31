//! Pure types and rules: contracts and whether they can be tracked (C1–C4,
//! C6), billing weeks, locks and weekly limits (W1–W4), the segment grid (S1),
//! local days for the Work Diary (T1), what is worked and billed (B1, B2), and
//! the rule for typed text (X5).
//!
//! Nothing here reads a clock, touches a file or talks to the network: every
//! function takes the current time as an argument, so the rules can be tested
//! over weeks of simulated time in microseconds.

pub mod billing;
pub mod contract;
pub mod day;
pub mod grid;
pub mod segment;
pub mod text;
pub mod week;

pub use billing::{Billable, HourRow, ReviewMark, Totals};
pub use contract::{
    Contract, ContractKind, ContractStatus, NotTrackable, PendingLimit, Trackability,
    TrackingPolicy,
};
pub use day::{LocalDay, parse_local_minute, parse_local_span};
pub use grid::SegmentGrid;
pub use segment::{Activity, Screenshot, Segment, SegmentId};
pub use week::BillingWeek;
