//! The server's logging (D2): to standard error, where the operator's
//! service manager keeps the output. The app sets up its own logging.

use log::LevelFilter;
use log4rs::config::{Appender, Config, Root};
use log4rs::encode::pattern::PatternEncoder;
use timecard_core::errln;

/// Logs to standard error (the sync server's `serve`, where the operator's
/// service manager keeps the output).
pub fn init_stderr() {
    use log4rs::append::console::{ConsoleAppender, Target};
    let console = ConsoleAppender::builder()
        .target(Target::Stderr)
        .encoder(Box::new(PatternEncoder::new(
            "{d(%Y-%m-%dT%H:%M:%S%.3fZ)(utc)} {l:<5} {m}{n}",
        )))
        .build();
    let config = Config::builder()
        .appender(Appender::builder().build("stderr", Box::new(console)))
        .build(Root::builder().appender("stderr").build(LevelFilter::Info));
    if let Err(e) = config.map_err(|e| e.to_string()).and_then(|c| {
        log4rs::init_config(c)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }) {
        errln!("timecard-server: logging is off: {e}");
    }
}
