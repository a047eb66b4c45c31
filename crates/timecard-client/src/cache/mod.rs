//! The time cache (K1–K4, K9): every finished segment is written here
//! durably before anything else happens to it, and leaves only when the
//! server has acknowledged it.
//!
//! Layout under the cache folder:
//!
//! ```text
//! pending/     <start>-<id>.tcseg     waiting for upload, oldest first by name
//! refused/     <start>-<id>.tcseg     refused by the server (K6), with
//!              <start>-<id>.reason.json  the reason beside it
//! quarantine/  <name>                 files that failed to decode (K3), with
//!              <name>.why.txt         what was wrong with them
//! ```
//!
//! A segment and its screenshot live in one file, so they are written and
//! removed together. The cache owns files only: it never talks to the network
//! and never reads a clock; the caller says what time it is when it matters.
//!
//! Other hands can reach the folder, so nothing found in it is trusted:
//! only regular files are read, never through a link and never past
//! [`codec::MAX_FILE_BYTES`]; any other entry (a FIFO, a folder, a link, a
//! name that is not UTF-8) is moved to quarantine with what it is, and a
//! file where one of the folders belongs is moved aside. Every other
//! segment goes on working.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use timecard_core::codec;
pub use timecard_core::codec::FormatError;
use timecard_core::domain::{BillingWeek, Segment, SegmentId};
use timecard_core::fs::{durable, read};

/// File extension of a segment file.
pub const SEGMENT_EXT: &str = "tcseg";
/// Default capacity: 24 hours of tracked time not yet uploaded (K2).
pub const DEFAULT_CAPACITY_SECS: i64 = 24 * 3600;

/// What can go wrong with the cache, in words a user can act on.
#[derive(Debug, Error)]
pub enum CacheError {
    #[error("{}", io_message(action, path, source))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: {source}")]
    Format {
        path: PathBuf,
        #[source]
        source: FormatError,
    },
    #[error("no segment {0} in the cache")]
    NotFound(SegmentId),
}

fn io_message(action: &str, path: &Path, err: &io::Error) -> String {
    let hint = match err.kind() {
        io::ErrorKind::StorageFull => {
            " — the disk is full; free some space and Timecard will retry"
        }
        io::ErrorKind::PermissionDenied => " — check the permissions of the data folder",
        io::ErrorKind::ReadOnlyFilesystem => " — the data folder is on a read-only file system",
        _ => "",
    };
    format!("could not {action} {}: {err}{hint}", path.display())
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CacheError + 'a {
    move |source| CacheError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// What the cache knows about a segment without reading its file again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: SegmentId,
    pub contract_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub has_screenshot: bool,
    /// Why the segment has no screenshot, when capture failed (P2).
    pub capture_note: Option<String>,
    pub file_name: String,
    pub file_bytes: u64,
}

impl Entry {
    fn of(segment: &Segment, file_name: String, file_bytes: u64) -> Self {
        Entry {
            id: segment.id,
            contract_id: segment.contract_id.clone(),
            start: segment.start,
            end: segment.end,
            has_screenshot: segment.screenshot.is_some(),
            capture_note: segment.capture_note.clone(),
            file_name,
            file_bytes,
        }
    }

    pub fn duration_secs(&self) -> i64 {
        (self.end - self.start).num_seconds()
    }
}

/// Why the server refused a segment (K6), kept beside the refused file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Machine-readable reason: `week_locked`, `overlap`, `contract_not_trackable`, `over_limit`,
    /// `invalid`.
    pub reason: String,
    /// The server's explanation in plain words.
    pub message: String,
    pub refused_at: DateTime<Utc>,
}

/// A refused segment and its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedEntry {
    pub entry: Entry,
    pub refusal: Refusal,
}

/// A file moved to the quarantine folder (K3), or an entry moved aside
/// because it stood where one of the cache's folders belongs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quarantined {
    /// Where the file was found, relative to the cache folder.
    pub found_as: String,
    /// Where it is now.
    pub path: PathBuf,
    /// What was wrong with it.
    pub problem: String,
}

/// What opening or verifying the cache found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Files that failed to decode or were not regular files, moved to
    /// quarantine during this scan (or, where they could not be moved,
    /// left and reported).
    pub quarantined: Vec<Quarantined>,
    /// Temporary files of writes that never finished (never reported as
    /// cached), removed.
    pub incomplete_removed: usize,
    /// Segment files that verified.
    pub verified: usize,
}

/// The result of [`Cache::import`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    pub already_present: usize,
    /// Files in the folder that are not valid segments, with the problem; left where they are.
    pub invalid: Vec<(PathBuf, String)>,
}

/// The time cache. See the module documentation.
#[derive(Debug)]
pub struct Cache {
    root: PathBuf,
    capacity_secs: i64,
    pending: BTreeMap<(DateTime<Utc>, SegmentId), Entry>,
    refused: BTreeMap<(DateTime<Utc>, SegmentId), RefusedEntry>,
    by_id: HashMap<SegmentId, (DateTime<Utc>, bool)>,
}

impl Cache {
    /// Opens (creating if needed) the cache in `root`, verifies every file,
    /// quarantines those that fail (K3) and removes temporary files left by
    /// interrupted writes.
    pub fn open(root: &Path, capacity_secs: i64) -> Result<(Cache, ScanReport), CacheError> {
        let mut moved_aside = Vec::new();
        for dir in [
            root.to_owned(),
            root.join("pending"),
            root.join("refused"),
            root.join("quarantine"),
        ] {
            moved_aside.extend(ensure_folder(&dir)?);
        }
        let mut cache = Cache {
            root: root.to_owned(),
            capacity_secs,
            pending: BTreeMap::new(),
            refused: BTreeMap::new(),
            by_id: HashMap::new(),
        };
        let mut report = cache.scan()?;
        report.quarantined.splice(0..0, moved_aside);
        Ok((cache, report))
    }

    /// Re-reads and re-verifies every file (`timecard cache verify`).
    pub fn verify(&mut self) -> Result<ScanReport, CacheError> {
        self.pending.clear();
        self.refused.clear();
        self.by_id.clear();
        self.scan()
    }

    fn pending_dir(&self) -> PathBuf {
        self.root.join("pending")
    }

    fn refused_dir(&self) -> PathBuf {
        self.root.join("refused")
    }

    pub fn quarantine_dir(&self) -> PathBuf {
        self.root.join("quarantine")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn scan(&mut self) -> Result<ScanReport, CacheError> {
        let mut report = ScanReport::default();
        for refused in [false, true] {
            let dir = if refused {
                self.refused_dir()
            } else {
                self.pending_dir()
            };
            let mut names = list_dir(&dir)?;
            names.sort();
            for os_name in names {
                let path = dir.join(&os_name);
                // Never follows a link: this is the entry itself.
                let kind = match fs::symlink_metadata(&path) {
                    Ok(meta) => meta.file_type(),
                    // Gone since the listing (removed by hand): nothing to do.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        let problem = format!("could not be examined: {e}");
                        report
                            .quarantined
                            .push(self.set_aside(&dir, &os_name, &problem));
                        continue;
                    }
                };
                let Some(name) = os_name.to_str() else {
                    let problem = "its name is not valid UTF-8, so it is not a file Timecard wrote";
                    report
                        .quarantined
                        .push(self.set_aside(&dir, &os_name, problem));
                    continue;
                };
                if !kind.is_file() {
                    let problem = format!(
                        "{}, not a segment file (the cache holds regular files only)",
                        read::describe(kind)
                    );
                    report
                        .quarantined
                        .push(self.set_aside(&dir, &os_name, &problem));
                    continue;
                }
                if durable::is_temp_name(name) {
                    // An interrupted write: it was never reported as cached.
                    log::info!("removing incomplete write {}", path.display());
                    match fs::remove_file(&path) {
                        Ok(()) => report.incomplete_removed += 1,
                        Err(e) => log::warn!(
                            "could not remove the incomplete write {}: {e}",
                            path.display()
                        ),
                    }
                    continue;
                }
                if refused && name.ends_with(".reason.json") {
                    continue;
                }
                match self.load_entry(&dir, name, refused) {
                    Ok(()) => report.verified += 1,
                    Err(problem) => {
                        report
                            .quarantined
                            .push(self.set_aside(&dir, &os_name, &problem));
                    }
                }
            }
        }
        Ok(report)
    }

    /// Quarantines `dir/name`; where even that fails (a read-only folder),
    /// the entry stays where it is and is reported, and the scan goes on.
    fn set_aside(&self, dir: &Path, name: &OsStr, problem: &str) -> Quarantined {
        match self.quarantine(dir, name, problem) {
            Ok(q) => {
                log::warn!("quarantined {}: {}", q.found_as, q.problem);
                q
            }
            Err(e) => {
                log::warn!("{}: {problem}; {e}", dir.join(name).display());
                Quarantined {
                    found_as: found_as(dir, name),
                    path: dir.join(name),
                    problem: format!("{problem} (left in place: {e})"),
                }
            }
        }
    }

    /// Reads, verifies and indexes one file; the error is the problem in words.
    fn load_entry(&mut self, dir: &Path, name: &str, refused: bool) -> Result<(), String> {
        if !name.ends_with(&format!(".{SEGMENT_EXT}")) {
            return Err(format!(
                "not a segment file (segment files end in .{SEGMENT_EXT})"
            ));
        }
        let path = dir.join(name);
        let bytes = read::read_regular(&path, codec::MAX_FILE_BYTES)
            .map_err(|e| format!("could not be read: {e}"))?;
        let segment = codec::decode_file(&bytes).map_err(|e| e.to_string())?;
        // A date no one tracks (years -262143 or +262142 decode fine) is
        // set aside here, so nothing downstream meets it.
        if let Some(problem) = segment.dates_problem() {
            return Err(problem);
        }
        if self.by_id.contains_key(&segment.id) {
            return Err(format!("a second copy of segment {}", segment.id));
        }
        let entry = Entry::of(&segment, name.to_owned(), bytes.len() as u64);
        let key = (segment.start, segment.id);
        self.by_id.insert(segment.id, (segment.start, refused));
        if refused {
            let reason_path = dir.join(reason_name(name));
            let refusal = read::read_regular(&reason_path, SMALL_FILE_BYTES)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_else(|| Refusal {
                    reason: "unknown".into(),
                    message: "refused by the server; the reason was lost".into(),
                    refused_at: segment.end,
                });
            self.refused.insert(key, RefusedEntry { entry, refusal });
        } else {
            self.pending.insert(key, entry);
        }
        Ok(())
    }

    fn quarantine(
        &self,
        dir: &Path,
        name: &OsStr,
        problem: &str,
    ) -> Result<Quarantined, CacheError> {
        let qdir = self.quarantine_dir();
        // A name that is not UTF-8 is kept readable (its odd bytes shown as �).
        let readable = name.to_string_lossy();
        let target = free_name(&qdir, &readable);
        durable::move_file(dir, name, &qdir, &target)
            .map_err(io_err("quarantine", &dir.join(name)))?;
        let found_as = found_as(dir, name);
        let why = format!("found as {found_as}\nproblem: {problem}\n");
        durable::write_file(&qdir, &format!("{target}.why.txt"), why.as_bytes())
            .map_err(io_err("write", &qdir.join(format!("{target}.why.txt"))))?;
        Ok(Quarantined {
            found_as,
            path: qdir.join(target),
            problem: problem.to_owned(),
        })
    }

    /// Every file in the quarantine folder, with what was wrong with it.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>, CacheError> {
        let qdir = self.quarantine_dir();
        let mut names: Vec<String> = list_dir(&qdir)?
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names
            .iter()
            .filter(|n| !n.ends_with(".why.txt"))
            .map(|n| {
                let why = read::read_regular(&qdir.join(format!("{n}.why.txt")), SMALL_FILE_BYTES)
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .unwrap_or_default();
                let field = |key: &str| {
                    why.lines()
                        .find_map(|l| l.strip_prefix(key))
                        .unwrap_or("unknown")
                        .to_owned()
                };
                Quarantined {
                    found_as: field("found as "),
                    path: qdir.join(n),
                    problem: field("problem: "),
                }
            })
            .collect())
    }

    /// K1: writes the segment durably. When this returns `Ok`, the segment
    /// is cached: it survives a crash, kill -9 or power loss. Appending an id
    /// that is already cached is a no-op.
    pub fn append(&mut self, segment: &Segment) -> Result<(), CacheError> {
        if self.by_id.contains_key(&segment.id) {
            return Ok(());
        }
        let name = file_name(segment);
        let dir = self.pending_dir();
        let bytes = codec::encode_file(segment).map_err(|source| CacheError::Format {
            path: dir.join(&name),
            source,
        })?;
        durable::write_file(&dir, &name, &bytes).map_err(io_err("write", &dir.join(&name)))?;
        // Only now is the segment cached.
        self.by_id.insert(segment.id, (segment.start, false));
        self.pending.insert(
            (segment.start, segment.id),
            Entry::of(segment, name, bytes.len() as u64),
        );
        Ok(())
    }

    /// Pending segments, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &Entry> {
        self.pending.values()
    }

    /// Refused segments (the *Not uploaded* list), oldest first.
    pub fn refused(&self) -> impl Iterator<Item = &RefusedEntry> {
        self.refused.values()
    }

    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Tracked seconds waiting for upload: what counts against capacity (K2).
    pub fn pending_secs(&self) -> i64 {
        self.pending.values().map(Entry::duration_secs).sum()
    }

    pub fn capacity_secs(&self) -> i64 {
        self.capacity_secs
    }

    pub fn set_capacity_secs(&mut self, secs: i64) {
        self.capacity_secs = secs;
    }

    /// Seconds that can still be cached before the cache is full.
    pub fn free_secs(&self) -> i64 {
        (self.capacity_secs - self.pending_secs()).max(0)
    }

    pub fn is_full(&self) -> bool {
        self.free_secs() == 0
    }

    /// Pending seconds on one contract inside one billing week.
    pub fn pending_secs_in(&self, contract_id: &str, week: BillingWeek) -> i64 {
        self.pending
            .values()
            .filter(|e| e.contract_id == contract_id && week.contains(e.start))
            .map(Entry::duration_secs)
            .sum()
    }

    fn locate(&self, id: SegmentId) -> Result<(PathBuf, &Entry), CacheError> {
        let (start, refused) = *self.by_id.get(&id).ok_or(CacheError::NotFound(id))?;
        if refused {
            let e = &self.refused[&(start, id)].entry;
            Ok((self.refused_dir().join(&e.file_name), e))
        } else {
            let e = &self.pending[&(start, id)];
            Ok((self.pending_dir().join(&e.file_name), e))
        }
    }

    /// Reads and verifies one cached segment, screenshot included.
    pub fn load(&self, id: SegmentId) -> Result<Segment, CacheError> {
        let body = self.load_body(id)?;
        let (path, _) = self.locate(id)?;
        codec::decode_body(&body).map_err(|source| CacheError::Format { path, source })
    }

    /// Reads and verifies one cached segment's body: the bytes that go on the wire.
    pub fn load_body(&self, id: SegmentId) -> Result<Vec<u8>, CacheError> {
        let (path, _) = self.locate(id)?;
        let mut bytes =
            read::read_regular(&path, codec::MAX_FILE_BYTES).map_err(io_err("read", &path))?;
        let body_len = codec::verified_body(&bytes)
            .map_err(|source| CacheError::Format {
                path: path.clone(),
                source,
            })?
            .len();
        bytes.drain(..bytes.len() - body_len);
        Ok(bytes)
    }

    pub fn contains(&self, id: SegmentId) -> bool {
        self.by_id.contains_key(&id)
    }

    /// K1: the server has the segment (accepted or duplicate); it leaves the
    /// cache. Also used to delete a cached segment on the user's request (S4).
    pub fn remove(&mut self, id: SegmentId) -> Result<(), CacheError> {
        let (start, refused) = *self.by_id.get(&id).ok_or(CacheError::NotFound(id))?;
        let key = (start, id);
        if refused {
            let name = self.refused[&key].entry.file_name.clone();
            let dir = self.refused_dir();
            durable::remove_file(&dir, &name).map_err(io_err("remove", &dir.join(&name)))?;
            let _ = durable::remove_file(&dir, &reason_name(&name));
            self.refused.remove(&key);
        } else {
            let name = self.pending[&key].file_name.clone();
            let dir = self.pending_dir();
            durable::remove_file(&dir, &name).map_err(io_err("remove", &dir.join(&name)))?;
            self.pending.remove(&key);
        }
        self.by_id.remove(&id);
        Ok(())
    }

    /// K6: the server refused the segment; it moves to the *Not uploaded*
    /// list with the reason and stops counting against capacity.
    pub fn refuse(&mut self, id: SegmentId, refusal: Refusal) -> Result<(), CacheError> {
        let (start, refused) = *self.by_id.get(&id).ok_or(CacheError::NotFound(id))?;
        if refused {
            return Ok(());
        }
        let key = (start, id);
        let entry = self.pending[&key].clone();
        let (from, to) = (self.pending_dir(), self.refused_dir());
        let reason_json = serde_json::to_vec_pretty(&refusal).expect("refusal serialises");
        durable::write_file(&to, &reason_name(&entry.file_name), &reason_json)
            .map_err(io_err("write", &to.join(reason_name(&entry.file_name))))?;
        durable::move_file(&from, &entry.file_name, &to, &entry.file_name)
            .map_err(io_err("move", &from.join(&entry.file_name)))?;
        self.pending.remove(&key);
        self.by_id.insert(id, (start, true));
        self.refused.insert(key, RefusedEntry { entry, refusal });
        Ok(())
    }

    /// K9: copies every pending and refused segment file into `dir` (created
    /// if needed), durably, in the cache's own verified format, so that
    /// [`Cache::import`] here or on another machine can upload them later.
    /// Returns the number of segments written. Like the data folder, the
    /// export is owner-only (screenshots are inside): folders it makes are
    /// 0700, files 0600; a folder that already existed keeps its mode.
    pub fn export(&self, dir: &Path) -> Result<usize, CacheError> {
        if self.pending.is_empty() && self.refused.is_empty() {
            // Nothing to write: no empty folder that looks like a backup.
            return Ok(0);
        }
        durable::create_private_dir_all(dir).map_err(io_err("create the export folder", dir))?;
        let mut written = 0;
        let sources = self
            .pending
            .values()
            .map(|e| (self.pending_dir(), e))
            .chain(
                self.refused
                    .values()
                    .map(|r| (self.refused_dir(), &r.entry)),
            );
        for (src_dir, entry) in sources {
            let src = src_dir.join(&entry.file_name);
            let bytes =
                read::read_regular(&src, codec::MAX_FILE_BYTES).map_err(io_err("read", &src))?;
            codec::verified_body(&bytes).map_err(|source| CacheError::Format {
                path: src.clone(),
                source,
            })?;
            durable::write_private_file(dir, &entry.file_name, &bytes)
                .map_err(io_err("write", &dir.join(&entry.file_name)))?;
            written += 1;
        }
        Ok(written)
    }

    /// K9: adds every valid segment file in `dir` to the pending queue.
    /// Segments already in the cache are skipped; invalid files are reported
    /// and left untouched. Imported time may exceed the capacity: nothing
    /// the user hands over is refused.
    pub fn import(&mut self, dir: &Path) -> Result<ImportReport, CacheError> {
        let mut report = ImportReport::default();
        let mut names = list_dir(dir)?;
        names.sort();
        for name in names {
            let path = dir.join(&name);
            if !name.to_string_lossy().ends_with(&format!(".{SEGMENT_EXT}")) || path.is_dir() {
                continue;
            }
            let bytes = match read::read_regular(&path, codec::MAX_FILE_BYTES) {
                Ok(bytes) => bytes,
                Err(e) => {
                    report
                        .invalid
                        .push((path, format!("could not be read: {e}")));
                    continue;
                }
            };
            match codec::decode_file(&bytes) {
                Ok(segment) if self.contains(segment.id) => report.already_present += 1,
                Ok(segment) => match segment.dates_problem() {
                    Some(problem) => report.invalid.push((path, problem)),
                    None => {
                        self.append(&segment)?;
                        report.imported += 1;
                    }
                },
                Err(e) => report.invalid.push((path, e.to_string())),
            }
        }
        Ok(report)
    }
}

/// The file name of a segment: its start time first, so that a plain sort of
/// the folder is oldest-first.
pub fn file_name(segment: &Segment) -> String {
    format!(
        "{:012}-{}.{SEGMENT_EXT}",
        segment.start.timestamp(),
        segment.id
    )
}

fn reason_name(file_name: &str) -> String {
    format!(
        "{}.reason.json",
        file_name.trim_end_matches(&format!(".{SEGMENT_EXT}"))
    )
}

/// The largest reason or note file read beside a segment.
const SMALL_FILE_BYTES: u64 = 64 * 1024;

/// The entries of `dir`, names as they are (not necessarily UTF-8).
fn list_dir(dir: &Path) -> Result<Vec<OsString>, CacheError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        names.push(entry.file_name());
    }
    Ok(names)
}

/// `folder/name`, as a user reads it: where a quarantined entry was found.
fn found_as(dir: &Path, name: &OsStr) -> String {
    format!(
        "{}/{}",
        dir.file_name()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default(),
        name.to_string_lossy()
    )
}

/// `name`, or `name.1`, `name.2` … : the first that nothing in `dir` has
/// (not even a dangling link).
fn free_name(dir: &Path, name: &str) -> String {
    let mut target = name.to_owned();
    let mut n = 1;
    while fs::symlink_metadata(dir.join(&target)).is_ok() {
        target = format!("{name}.{n}");
        n += 1;
    }
    target
}

/// Makes `dir` a folder. Something else in its place (a file, a link to
/// nowhere) is moved aside to `<name>.not-a-folder`, never deleted, and
/// returned for the report.
fn ensure_folder(dir: &Path) -> Result<Option<Quarantined>, CacheError> {
    let mut aside = None;
    // A link to a folder is a folder; anything else that exists is in the way.
    let in_the_way = match fs::metadata(dir) {
        Ok(meta) => !meta.is_dir(),
        Err(_) => fs::symlink_metadata(dir).is_ok(),
    };
    if in_the_way && let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) {
        let kind = fs::symlink_metadata(dir)
            .map(|m| read::describe(m.file_type()))
            .unwrap_or("something");
        let name = name.to_string_lossy();
        let target = free_name(parent, &format!("{name}.not-a-folder"));
        durable::move_file(parent, name.as_ref(), parent, &target)
            .map_err(io_err("move aside", dir))?;
        let q = Quarantined {
            found_as: name.clone().into_owned(),
            path: parent.join(&target),
            problem: format!(
                "{kind} where the cache's {name} folder belongs; moved aside to {target} and a new folder made"
            ),
        };
        log::warn!("{}: {}", dir.display(), q.problem);
        aside = Some(q);
    }
    fs::create_dir_all(dir).map_err(io_err("create the cache folder", dir))?;
    Ok(aside)
}

#[cfg(test)]
mod tests;
