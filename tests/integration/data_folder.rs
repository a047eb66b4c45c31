//! The data folder as it is found, not as Timecard left it: odd entries in
//! the cache (a FIFO, a folder where a file belongs, a symbolic link to
//! /dev/zero, a name that is not UTF-8, a file where a folder belongs, a
//! damaged device id) never hang or fail a command, and every valid
//! segment beside them still works. Each command runs as the real binary
//! with a deadline (and an address-space limit), so a hang or a read
//! without end fails the test instead of stalling CI. And what Timecard
//! writes out of the data folder (exports) is owner-only like the folder.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use timecard_client::cache::file_name;
use timecard_core::codec;
use timecard_core::domain::{Activity, Segment, SegmentId};

/// Long enough for a debug build on a busy machine; a hang is forever.
const DEADLINE: Duration = Duration::from_secs(60);
/// A command that reads without end fails its allocation here instead of
/// taking the machine's memory.
const ADDRESS_SPACE_LIMIT: u64 = 8 << 30;

/// `timecard ARGS` on `data` with a umask of 022, killed (and reported as
/// hung) after `DEADLINE`.
fn timecard(data: &Path, args: &[&str]) -> Result<Output, String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_timecard"));
    command
        .args(args)
        .env("TIMECARD_DATA_DIR", data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit and umask are async-signal-safe; nothing else runs
    // between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // The usual umask: what a file's mode allows others is what they get.
            libc::umask(0o022);
            let limit = libc::rlimit {
                rlim_cur: ADDRESS_SPACE_LIMIT,
                rlim_max: ADDRESS_SPACE_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().expect("start timecard");
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(DEADLINE) {
        Ok(output) => Ok(output.expect("wait for timecard")),
        Err(_) => {
            // The child this test started, still running: stop it.
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            let _ = finished.recv();
            Err(format!("`timecard {}` hung", args.join(" ")))
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn segment(start: &str) -> Segment {
    let start: DateTime<Utc> = start.parse().unwrap();
    Segment {
        id: SegmentId::random(),
        contract_id: "demo-hourly".into(),
        device_id: "dev".into(),
        start,
        end: start + chrono::Duration::minutes(10),
        memo: String::new(),
        activity: Activity(1),
        screenshot: None,
        capture_note: None,
    }
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// A data folder with two valid pending segments; returns their ids.
fn data_folder(data: &Path) -> Vec<SegmentId> {
    let pending = data.join("cache/pending");
    std::fs::create_dir_all(&pending).unwrap();
    std::fs::create_dir_all(data.join("cache/refused")).unwrap();
    ["2026-11-25T09:00:00Z", "2026-11-25T09:10:00Z"]
        .iter()
        .map(|start| {
            let s = segment(start);
            std::fs::write(pending.join(file_name(&s)), codec::encode_file(&s).unwrap()).unwrap();
            s.id
        })
        .collect()
}

fn segment_like_name(n: u8) -> String {
    format!("00000000000{n}-{}.tcseg", uuid::Uuid::from_bytes([n; 16]))
}

struct Hostile {
    what: &'static str,
    make: fn(&Path),
    /// Whether opening the cache sets something aside (so the first
    /// `cache verify` exits 1 and names it with this text).
    set_aside: Option<&'static str>,
    /// Checked once all three commands ran.
    after: fn(&Path) -> Result<(), String>,
}

fn nothing_more(_: &Path) -> Result<(), String> {
    Ok(())
}

fn device_id_replaced(data: &Path) -> Result<(), String> {
    let kept = data.join("device-id.corrupt");
    if std::fs::symlink_metadata(&kept).is_err() {
        return Err(format!("{} was not kept aside", kept.display()));
    }
    let id = std::fs::read_to_string(data.join("device-id")).map_err(|e| e.to_string())?;
    uuid::Uuid::parse_str(id.trim())
        .map(|_| ())
        .map_err(|e| format!("new device id {id:?}: {e}"))
}

fn hostile_entries() -> Vec<Hostile> {
    vec![
        Hostile {
            what: "a FIFO named like a segment",
            make: |d| mkfifo(&d.join("cache/pending").join(segment_like_name(1))),
            set_aside: Some("named pipe"),
            after: nothing_more,
        },
        Hostile {
            what: "a FIFO as a refused segment's reason file",
            make: |d| {
                let refused = d.join("cache/refused");
                let s = segment("2026-11-25T08:00:00Z");
                let name = file_name(&s);
                std::fs::write(refused.join(&name), codec::encode_file(&s).unwrap()).unwrap();
                mkfifo(&refused.join(name.replace(".tcseg", ".reason.json")));
            },
            set_aside: Some("named pipe"),
            after: nothing_more,
        },
        Hostile {
            what: "a folder named like an unfinished write",
            make: |d| {
                let dir = d.join("cache/pending/.tmp-x.tcseg.123.partial");
                std::fs::create_dir(&dir).unwrap();
                std::fs::write(dir.join("inside"), b"kept").unwrap();
            },
            set_aside: Some("folder"),
            after: nothing_more,
        },
        Hostile {
            what: "a file name that is not UTF-8",
            make: |d| {
                let name = OsStr::from_bytes(b"\xff\xfe-junk.tcseg");
                std::fs::write(d.join("cache/pending").join(name), b"junk").unwrap();
            },
            set_aside: Some("UTF-8"),
            after: nothing_more,
        },
        Hostile {
            what: "a symbolic link to /dev/zero",
            make: |d| {
                std::os::unix::fs::symlink("/dev/zero", d.join("cache/pending/x.tcseg")).unwrap()
            },
            set_aside: Some("symbolic link"),
            after: nothing_more,
        },
        Hostile {
            what: "a segment file larger than any upload",
            make: |d| {
                let f = std::fs::File::create(d.join("cache/pending").join(segment_like_name(3)))
                    .unwrap();
                f.set_len(65 << 20).unwrap();
            },
            set_aside: Some("larger"),
            after: nothing_more,
        },
        Hostile {
            what: "a file where the quarantine folder belongs",
            make: |d| std::fs::write(d.join("cache/quarantine"), b"not a folder").unwrap(),
            set_aside: Some("quarantine"),
            after: |d| {
                if !d.join("cache/quarantine").is_dir() {
                    return Err("cache/quarantine is still not a folder".into());
                }
                let kept = std::fs::read(d.join("cache/quarantine.not-a-folder"))
                    .map_err(|e| format!("the file was not kept aside: {e}"))?;
                (kept == b"not a folder")
                    .then_some(())
                    .ok_or("the file kept aside changed".into())
            },
        },
        Hostile {
            what: "a device-id of binary junk",
            make: |d| std::fs::write(d.join("device-id"), b"\xff\x00\x13junk\xfe").unwrap(),
            set_aside: None,
            after: device_id_replaced,
        },
        Hostile {
            what: "a device-id that is a folder",
            make: |d| std::fs::create_dir(d.join("device-id")).unwrap(),
            set_aside: None,
            after: device_id_replaced,
        },
        Hostile {
            what: "a device-id that links to /dev/zero",
            make: |d| std::os::unix::fs::symlink("/dev/zero", d.join("device-id")).unwrap(),
            set_aside: None,
            after: device_id_replaced,
        },
    ]
}

/// Runs verify, status and list in `order` on a fresh folder holding `entry`.
fn check(entry: &Hostile, order: [&str; 3], root: &Path) -> Result<(), String> {
    let data: PathBuf = root.join(order[0]);
    let valid = data_folder(&data);
    (entry.make)(&data);
    for (i, command) in order.iter().enumerate() {
        match *command {
            "verify" => {
                let out = timecard(&data, &["cache", "verify"])?;
                let said = text(&out);
                let expected = match entry.set_aside {
                    Some(_) if i == 0 => 1,
                    _ => 0,
                };
                if out.status.code() != Some(expected) {
                    return Err(format!("cache verify exited {:?}: {said}", out.status));
                }
                let verified: usize = said
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                if verified < 2 || !said.contains("segment files verified") {
                    return Err(format!("cache verify: {said}"));
                }
                if let (Some(words), 0) = (entry.set_aside, i)
                    && !said.contains(words)
                {
                    return Err(format!("cache verify does not say {words:?}: {said}"));
                }
            }
            "status" => {
                let out = timecard(&data, &["status", "--json"])?;
                if !out.status.success() {
                    return Err(format!("status --json failed: {}", text(&out)));
                }
                let status: serde_json::Value = serde_json::from_slice(&out.stdout)
                    .map_err(|e| format!("status --json: {e}: {}", text(&out)))?;
                if status["pending_segments"] != 2 {
                    return Err(format!("status --json: {status}"));
                }
            }
            "list" => {
                let out = timecard(&data, &["cache", "list", "--json"])?;
                if !out.status.success() {
                    return Err(format!("cache list failed: {}", text(&out)));
                }
                let list: serde_json::Value = serde_json::from_slice(&out.stdout)
                    .map_err(|e| format!("cache list --json: {e}: {}", text(&out)))?;
                let ids: Vec<&str> = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["id"].as_str())
                    .collect();
                for id in &valid {
                    if !ids.contains(&id.to_string().as_str()) {
                        return Err(format!("cache list lacks {id}: {list}"));
                    }
                }
            }
            _ => unreachable!(),
        }
    }
    (entry.after)(&data)
}

// Issue 10 item 6: each hostile entry, met first by each of the three
// commands, next to two valid segments.
#[test]
fn odd_entries_never_hang_or_fail_a_command() {
    let mut failures = Vec::new();
    for entry in hostile_entries() {
        for order in [
            ["verify", "status", "list"],
            ["status", "list", "verify"],
            ["list", "verify", "status"],
        ] {
            let root = tempfile::tempdir().unwrap();
            if let Err(e) = check(&entry, order, root.path()) {
                failures.push(format!("{} ({} first): {e}", entry.what, order[0]));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// Issue 10 item 7: with a umask of 022, `cache export` makes its folders
// 0700 and its files 0600 (screenshots are inside), and `logs export` writes
// a 0600 zip, even over an existing world-readable file; `reset --export`
// writes the same way.
#[test]
fn exports_are_owner_only() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let mut with_screenshot = segment("2026-11-25T08:00:00Z");
    with_screenshot.screenshot = Some(timecard_core::domain::Screenshot {
        taken_at: with_screenshot.start,
        jpeg: vec![0xff, 0xd8, 0xff, 0xd9],
        thumbnail: vec![0xff, 0xd8, 0xff, 0xd9],
    });
    data_folder(&data);
    std::fs::write(
        data.join("cache/pending").join(file_name(&with_screenshot)),
        codec::encode_file(&with_screenshot).unwrap(),
    )
    .unwrap();

    let export = root.path().join("export");
    let inner = export.join("inner");
    let out = timecard(&data, &["cache", "export", inner.to_str().unwrap()]).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mode(&export), 0o700, "the folder made for the export");
    assert_eq!(mode(&inner), 0o700, "the export folder");
    let files: Vec<_> = std::fs::read_dir(&inner)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 3);
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }

    let zip = root.path().join("logs.zip");
    std::fs::write(&zip, b"an older export").unwrap();
    std::fs::set_permissions(&zip, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    for _ in 0..2 {
        let out = timecard(&data, &["logs", "export", zip.to_str().unwrap()]).unwrap();
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(mode(&zip), 0o600);
        let archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
        assert!(!archive.is_empty());
        std::fs::remove_file(&zip).unwrap();
    }

    let kept = root.path().join("kept");
    let out = timecard(
        &data,
        &["reset", "--export", kept.to_str().unwrap(), "--yes"],
    )
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mode(&kept), 0o700);
    for file in std::fs::read_dir(&kept).unwrap() {
        let file = file.unwrap().path();
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}
