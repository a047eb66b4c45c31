//! Rolling log files (D2) in the data folder's `logs/`: `timecard.log`,
//! rolled at a size cap into gzip-compressed `timecard.N.log.gz`, a few
//! kept. Passwords, tokens and screenshot bytes are never logged.

use std::path::Path;
use timecard_core::errln;

use log::LevelFilter;
use log4rs::append::rolling_file::RollingFileAppender;
use log4rs::append::rolling_file::policy::compound::CompoundPolicy;
use log4rs::append::rolling_file::policy::compound::roll::fixed_window::FixedWindowRoller;
use log4rs::append::rolling_file::policy::compound::trigger::size::SizeTrigger;
use log4rs::config::{Appender, Config, Root};
use log4rs::encode::pattern::PatternEncoder;

/// Size at which the log rolls over.
pub const LOG_SIZE_CAP: u64 = 5 * 1024 * 1024;
/// How many rolled, compressed logs are kept.
pub const LOGS_KEPT: u32 = 4;

/// The log4rs configuration writing to `dir`, rolling at `cap` bytes.
pub fn config(dir: &Path, cap: u64, level: LevelFilter) -> Result<Config, String> {
    let roller = FixedWindowRoller::builder()
        .build(&dir.join("timecard.{}.log.gz").to_string_lossy(), LOGS_KEPT)
        .map_err(|e| e.to_string())?;
    let policy = CompoundPolicy::new(Box::new(SizeTrigger::new(cap)), Box::new(roller));
    let file = RollingFileAppender::builder()
        .encoder(Box::new(PatternEncoder::new(
            "{d(%Y-%m-%dT%H:%M:%S%.3fZ)(utc)} {l:<5} {t} {m}{n}",
        )))
        .build(dir.join("timecard.log"), Box::new(policy))
        .map_err(|e| format!("cannot open the log in {}: {e}", dir.display()))?;
    Config::builder()
        .appender(Appender::builder().build("file", Box::new(file)))
        .build(Root::builder().appender("file").build(level))
        .map_err(|e| e.to_string())
}

/// Starts logging into `dir`. A failure is reported once on stderr and the
/// app goes on without a log file.
pub fn init(dir: &Path) {
    let result = std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
        .and_then(|()| log_file_problem(dir))
        .and_then(|()| config(dir, LOG_SIZE_CAP, LevelFilter::Info))
        .and_then(|config| {
            log4rs::init_config(config)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    if let Err(e) = result {
        errln!("timecard: logging is off: {e}");
    }
}

/// The log file is a regular file or not there yet: opening a named pipe
/// for writing would wait for a reader for ever, and a link may point
/// anywhere.
fn log_file_problem(dir: &Path) -> Result<(), String> {
    let path = dir.join("timecard.log");
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if !meta.file_type().is_file() => Err(format!(
            "{} is {}, not a file",
            path.display(),
            timecard_core::fs::read::describe(meta.file_type())
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // D2: past the size cap the log rolls into compressed files, a few kept.
    #[test]
    fn log_rolls_over_into_gzip_files() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), 4 * 1024, LevelFilter::Info).unwrap();
        let logger = log4rs::Logger::new(config);
        use log::Log;
        for i in 0..2000 {
            logger.log(
                &log::Record::builder()
                    .level(log::Level::Info)
                    .target("test")
                    .args(format_args!("line {i} of a log that fills past its cap"))
                    .build(),
            );
        }
        logger.flush();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert!(names.contains(&"timecard.log".to_owned()), "{names:?}");
        let gz: Vec<_> = names.iter().filter(|n| n.ends_with(".log.gz")).collect();
        assert_eq!(gz.len(), LOGS_KEPT as usize, "{names:?}");
        let first = std::fs::read(dir.path().join(gz[0])).unwrap();
        assert_eq!(&first[..2], &[0x1f, 0x8b], "gzip magic");
        assert!(
            std::fs::metadata(dir.path().join("timecard.log"))
                .unwrap()
                .len()
                <= 4 * 1024 + 200
        );
    }
}

/// Writes every file of the log folder into a zip at `out` (D2: *Export
/// logs*); returns how many files went in. The zip is readable by its
/// owner only, like the logs in the data folder, and replaces any file at
/// `out` whole (written beside it, then renamed).
pub fn export_zip(dir: &Path, out: &Path) -> std::io::Result<usize> {
    let (count, cursor) = write_zip(dir, std::io::Cursor::new(Vec::new()))?;
    let name = out.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is not a file name Timecard can write to; choose a name like logs.zip",
                out.display()
            ),
        )
    })?;
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    timecard_core::fs::durable::write_private_file(folder, name, &cursor.into_inner())?;
    Ok(count)
}

/// The log folder as a zip in memory, to attach to a problem report (D3).
pub fn zip_bytes(dir: &Path) -> std::io::Result<Vec<u8>> {
    let (_, cursor) = write_zip(dir, std::io::Cursor::new(Vec::new()))?;
    Ok(cursor.into_inner())
}

fn write_zip<W: std::io::Write + std::io::Seek>(dir: &Path, out: W) -> std::io::Result<(usize, W)> {
    use std::io::Write;
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut zip = zip::ZipWriter::new(out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for name in &names {
        zip.start_file(name.as_str(), options)
            .map_err(std::io::Error::other)?;
        zip.write_all(&timecard_core::fs::read::read_regular(
            &dir.join(name),
            2 * LOG_SIZE_CAP,
        )?)?;
    }
    let out = zip.finish().map_err(std::io::Error::other)?;
    Ok((names.len(), out))
}

#[cfg(test)]
mod export_tests {
    use super::*;

    #[test]
    fn export_zips_every_log_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("timecard.log"), b"today's lines\n").unwrap();
        std::fs::write(dir.path().join("timecard.0.log.gz"), [0x1f, 0x8b, 1, 2]).unwrap();
        let out = dir
            .path()
            .join("..")
            .join(format!("logs-{}.zip", std::process::id()));
        assert_eq!(export_zip(dir.path(), &out).unwrap(), 2);
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
        let mut text = String::new();
        use std::io::Read;
        archive
            .by_name("timecard.log")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "today's lines\n");
        assert_eq!(archive.len(), 2);
        std::fs::remove_file(out).unwrap();
    }
}
