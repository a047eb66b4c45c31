//! `timecard-server backup FILE`: a copy of the database taken while the
//! server runs (SQLite's online backup, which copies one consistent
//! snapshot; the server goes on reading and writing meanwhile), checked
//! with `PRAGMA integrity_check` before it takes the file's name.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::DB_FILE;

/// What a backup wrote.
#[derive(Debug)]
pub struct BackupDone {
    pub source: PathBuf,
    pub bytes: u64,
}

/// Copies the database of `data_dir` to `file` (owner-only), checks the
/// copy, and only then puts it in place (replacing an older `file`).
pub fn backup(data_dir: &Path, file: &Path) -> anyhow::Result<BackupDone> {
    let source = data_dir.join(DB_FILE);
    if !source.is_file() {
        bail!("there is no database in {}", data_dir.display());
    }
    let name = file
        .file_name()
        .with_context(|| format!("{} is not a file name", file.display()))?;
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let partial = dir.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = copy_and_check(&source, &partial).and_then(|()| {
        std::fs::rename(&partial, file)
            .with_context(|| format!("cannot write {}", file.display()))?;
        sync_dir(dir)?;
        Ok(())
    });
    if result.is_err() {
        for leftover in [
            partial.clone(),
            PathBuf::from(format!("{}-journal", partial.display())),
        ] {
            let _ = std::fs::remove_file(leftover);
        }
    }
    result?;
    Ok(BackupDone {
        source,
        bytes: std::fs::metadata(file)?.len(),
    })
}

fn copy_and_check(source: &Path, partial: &Path) -> anyhow::Result<()> {
    // Read-write without create: a read-only connection to a WAL database
    // fails when the server is not running (no -shm to map).
    let from = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", source.display()))?;
    from.busy_timeout(Duration::from_secs(10))?;
    // Created owner-only: the copy holds what the data folder holds.
    timecard_core::fs::private::create_owner_only(
        std::fs::OpenOptions::new().write(true).create_new(true),
    )
    .open(partial)
    .with_context(|| format!("cannot create {}", partial.display()))?;
    timecard_core::fs::private::restrict(partial)?;
    let mut to = Connection::open(partial)?;
    {
        let backup = Backup::new(&from, &mut to)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        // All pages in one step: one consistent snapshot, and a writer in
        // the server never restarts the copy.
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => bail!("the database stayed busy for a minute; try again"),
            }
        }
    }
    drop(from);
    // One self-contained file, not a WAL database with files beside it.
    to.pragma_update(None, "journal_mode", "DELETE")?;
    let verdict: Vec<String> = to
        .prepare("PRAGMA integrity_check")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    if verdict != ["ok"] {
        bail!(
            "the copy failed its integrity check: {}",
            verdict.join("; ")
        );
    }
    to.close().map_err(|(_, e)| e)?;
    std::fs::File::open(partial)?.sync_all()?;
    Ok(())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}
