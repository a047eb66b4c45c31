//! A throwaway PostgreSQL cluster for tests, from the programs of Debian's
//! `postgresql` package. Missing programs skip the test loudly; under
//! `TIMECARD_REQUIRE_POSTGRES=1` (CI) that is a failure.
//!
//! The server is started and stopped by a small shell watchdog that reads
//! commands on its standard input, a pipe held by the test process. When
//! the test process ends for whatever reason (drop, panic, `exit`, a kill)
//! the pipe closes, and the watchdog stops the server and removes its
//! folder: a static cluster ([`shared`]) cleans up too.
//!
//! `initdb` refuses to run as root: as root, every server program runs as
//! the `postgres` system user (created by the Debian package) through
//! `runuser`, in a folder under `/tmp` that user owns.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// The programs the helper runs; all must be in the same folder.
const PROGRAMS: [&str; 4] = ["initdb", "pg_ctl", "postgres", "psql"];

/// Reads a command a line (`start`, `stop`) and answers `ok` or `failed`.
/// `$1` is PostgreSQL's bin folder, `$2` the cluster's folder.
const WATCHDOG: &str = r#"
trap '' PIPE
bin=$1 dir=$2
ctl() { "$bin/pg_ctl" -D "$dir/data" -s -w -t 30 "$@" >>"$dir/pg_ctl.log" 2>&1; }
while read -r command; do
    case $command in
        start) ctl start -l "$dir/postgres.log" ;;
        stop) ctl stop -m fast ;;
        *) false ;;
    esac && echo ok || echo failed
done
ctl stop -m immediate
rm -rf "$dir"
"#;

/// A PostgreSQL cluster of its own: `initdb` in a temporary folder, the
/// server listening on `127.0.0.1:port` with trust authentication (its Unix
/// socket in that folder). Dropping it stops the server and removes the
/// folder.
pub struct PgCluster {
    pub port: u16,
    /// The cluster's folder: `data/`, `postgres.log`, `pg_ctl.log`, the socket.
    pub dir: PathBuf,
    bin: PathBuf,
    watchdog: Mutex<Watchdog>,
}

struct Watchdog {
    child: Child,
    /// Closing it (drop) tells the watchdog to stop the server and clean up.
    commands: Option<ChildStdin>,
    replies: BufReader<ChildStdout>,
}

impl PgCluster {
    /// Starts a new cluster, or says why not and returns `None` when
    /// PostgreSQL's programs are not installed.
    pub fn start() -> Option<PgCluster> {
        let bin = find_bin()?;
        let owner = server_user();
        let parent = if owner.is_some() {
            // Traversable by the postgres user, unlike a root-only TMPDIR.
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix("timecard-pg-")
            .tempdir_in(&parent)
            .expect("create a folder for PostgreSQL")
            .keep();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .expect("give the PostgreSQL folder to the postgres user");
        }

        let initdb = as_server_user(bin.join("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
            // Skips only initdb's final sync of the new files; the running
            // server keeps its durable defaults (fsync on).
            .arg("--no-sync")
            .current_dir(&dir)
            .output()
            .expect("run initdb");
        if !initdb.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            panic!(
                "initdb failed ({}): {}{}",
                initdb.status,
                String::from_utf8_lossy(&initdb.stdout),
                String::from_utf8_lossy(&initdb.stderr)
            );
        }

        let port = free_port();
        let settings = format!(
            "\n# timecard tests\n\
             port = {port}\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             max_connections = 200\n\
             shared_buffers = 32MB\n",
            dir.display()
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("data/postgresql.conf"))
            .and_then(|mut f| f.write_all(settings.as_bytes()))
            .expect("write the settings into postgresql.conf");

        let mut child = as_server_user("/bin/sh")
            .args(["-c", WATCHDOG, "sh"])
            .arg(&bin)
            .arg(&dir)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Out of the terminal's process group: a Ctrl-C reaches the
            // tests, which end, and the closed pipe stops the server.
            .process_group(0)
            .spawn()
            .expect("start the PostgreSQL watchdog (sh)");
        let watchdog = Watchdog {
            commands: child.stdin.take(),
            replies: BufReader::new(child.stdout.take().unwrap()),
            child,
        };
        let mut cluster = PgCluster {
            port,
            dir,
            bin,
            watchdog: Mutex::new(watchdog),
        };
        // The free port may be taken meanwhile (another test's cluster):
        // then another one (a later `port =` line wins).
        for _ in 0..4 {
            match cluster.try_command("start") {
                Ok(()) => return Some(cluster),
                Err(_) if cluster.read_log("postgres.log").contains("already in use") => {
                    cluster.port = free_port();
                    std::fs::OpenOptions::new()
                        .append(true)
                        .open(cluster.dir.join("data/postgresql.conf"))
                        .and_then(|mut f| writeln!(f, "port = {}", cluster.port))
                        .expect("write the port into postgresql.conf");
                }
                Err(why) => panic!("{why}"),
            }
        }
        cluster.start_again();
        Some(cluster)
    }

    /// A new empty database on it (a name of its own), as a URL:
    /// `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub fn new_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        self.psql("postgres", &format!("create database {name}"));
        self.url(&name)
    }

    /// `postgres://postgres@127.0.0.1:PORT/NAME`
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs `sql` with `psql` on `database` (a name or a URL) and returns
    /// what it printed (unaligned, tuples only: `1|a` a row).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let database = if database.contains("://") {
            database.to_owned()
        } else {
            self.url(database)
        };
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(&database)
            .arg("-c")
            .arg(sql)
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {database} -c {sql:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("psql printed UTF-8")
    }

    /// A `psql` session kept open on `database` (a URL), fed statements
    /// one by one: for holding a lock while a test does something else.
    pub fn session(&self, database: &str) -> Child {
        Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                database,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start psql")
    }

    /// Waits (up to 30 s) until `n` advisory locks on `database` (a URL)
    /// are in the state `state` (`granted` or `NOT granted`).
    pub fn wait_for_advisory_locks(&self, database: &str, state: &str, n: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let sql = format!("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND {state}");
        loop {
            let seen: usize = self
                .psql(database, &sql)
                .trim()
                .parse()
                .unwrap_or(usize::MAX);
            if seen == n {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{seen} advisory lock(s) {state}, not {n}"
            );
            std::thread::yield_now();
        }
    }

    /// Takes the user's batch lock (the advisory lock on `user_id`) in a
    /// `psql` session of its own and returns once it holds it: uploads of
    /// that user then wait on it. Dropping the session (or stopping the
    /// server) lets go.
    pub fn hold_user_lock(&self, database: &str, user_id: i64) -> Child {
        use std::io::Write;
        let mut holder = self.session(database);
        let stdin = holder.stdin.as_mut().expect("psql's input");
        writeln!(stdin, "SELECT pg_advisory_lock({user_id});").expect("write to psql");
        stdin.flush().expect("write to psql");
        self.wait_for_advisory_locks(database, "granted", 1);
        holder
    }

    /// Stops the server (fast shutdown: clients are disconnected, the data
    /// is checkpointed) and starts it again on the same port and data.
    pub fn restart(&self) {
        self.stop();
        self.start_again();
    }

    /// Stops the server (fast shutdown); [`PgCluster::start_again`] brings
    /// it back.
    pub fn stop(&self) {
        self.command("stop");
    }

    /// Starts the stopped server again and waits (up to 30 s) until it
    /// accepts connections.
    pub fn start_again(&self) {
        self.command("start");
    }

    fn command(&self, command: &str) {
        if let Err(why) = self.try_command(command) {
            panic!("{why}");
        }
    }

    fn try_command(&self, command: &str) -> Result<(), String> {
        let mut watchdog = self.watchdog.lock().unwrap_or_else(|e| e.into_inner());
        let commands = watchdog.commands.as_mut().unwrap();
        let sent = writeln!(commands, "{command}").and_then(|_| commands.flush());
        let mut reply = String::new();
        if sent.is_ok() {
            // pg_ctl waits at most 30 s, so the answer comes.
            let _ = watchdog.replies.read_line(&mut reply);
        }
        if reply.trim() == "ok" {
            return Ok(());
        }
        Err(format!(
            "PostgreSQL did not {command} on port {} (watchdog answered {reply:?})\n\
             --- pg_ctl:\n{}\n--- server log:\n{}",
            self.port,
            self.read_log("pg_ctl.log"),
            self.read_log("postgres.log")
        ))
    }

    /// The end of a log file in the cluster's folder.
    fn read_log(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(start);
        text[start..].to_owned()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let watchdog = self.watchdog.get_mut().unwrap_or_else(|e| e.into_inner());
        // The watchdog stops the server (immediate) and removes the folder.
        drop(watchdog.commands.take());
        let _ = watchdog.child.wait();
    }
}

/// One cluster shared by every test of this process, started at first use
/// and stopped when the process exits (normally or not). Tests must not
/// stop or restart it: use a [`PgCluster`] of their own for that.
pub fn shared() -> Option<&'static PgCluster> {
    static SHARED: OnceLock<Option<PgCluster>> = OnceLock::new();
    SHARED.get_or_init(PgCluster::start).as_ref()
}

/// PostgreSQL's bin folder: `$TIMECARD_PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin`, else where `initdb` is on the PATH.
/// `None` (or a panic under `TIMECARD_REQUIRE_POSTGRES`) when missing.
fn find_bin() -> Option<PathBuf> {
    let has_all = |dir: &Path| PROGRAMS.iter().all(|p| dir.join(p).is_file());
    let found = if let Some(dir) = std::env::var_os("TIMECARD_PG_BIN") {
        let dir = PathBuf::from(dir);
        assert!(
            has_all(&dir),
            "TIMECARD_PG_BIN={} lacks one of {PROGRAMS:?}",
            dir.display()
        );
        Some(dir)
    } else {
        newest_debian_bin()
            .filter(|d| has_all(d))
            .or_else(|| on_path("initdb").filter(|d| has_all(d)))
    };
    if found.is_none() {
        let why = format!(
            "PostgreSQL's programs ({PROGRAMS:?}) are not installed \
             (apt-get install postgresql, or set TIMECARD_PG_BIN to their folder)"
        );
        assert!(
            std::env::var_os("TIMECARD_REQUIRE_POSTGRES").is_none(),
            "TIMECARD_REQUIRE_POSTGRES is set but {why}"
        );
        eprintln!("\n*** SKIPPED: {why} ***\n");
    }
    found
}

fn newest_debian_bin() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .max()
        .map(|(_, bin)| bin)
}

/// The real folder of `program` on the PATH (symbolic links followed, so
/// `/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb` gives the
/// latter).
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
        .and_then(|p| p.parent().map(Path::to_owned))
}

/// As root, the uid and gid of `postgres`, the user the server runs as;
/// `None` when not root (the programs run as the current user).
fn server_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid cannot fail; getpwnam is given a C string and its
    // result read at once (tests spawn clusters rarely enough that the
    // static buffer is not an issue).
    unsafe {
        if libc::geteuid() != 0 {
            return None;
        }
        let pw = libc::getpwnam(c"postgres".as_ptr());
        assert!(
            !pw.is_null(),
            "running as root, PostgreSQL needs the `postgres` system user \
             (created by apt-get install postgresql)"
        );
        Some(((*pw).pw_uid, (*pw).pw_gid))
    }
}

/// `program`, run as `postgres` through `runuser` when we are root.
fn as_server_user(program: impl AsRef<OsStr>) -> Command {
    if server_user().is_some() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// A TCP port nobody listens on now (the kernel's choice).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port")
        .port()
}
