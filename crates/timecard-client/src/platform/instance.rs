//! One Timecard per data folder (D1). The running app holds an exclusive
//! lock on `instance.lock` (`File::try_lock`), with its pid and version
//! written inside, and listens on a local socket. A second launch finds the
//! lock taken, asks the running app to bring its window forward, and exits
//! saying so — naming the running version when it differs. The kernel drops
//! the lock when a process dies, so a crash (even `kill -9`) never leaves a
//! lock that blocks the next start; the stale socket file is replaced. On
//! Windows the same lock file is used, with a named pipe for the socket.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::DataDir;

/// Who holds the lock, as written in the lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub version: String,
    /// What holds it: "window", "track", ...
    pub role: String,
    /// Where it listens for show-window requests (the window only).
    #[serde(default)]
    pub socket: Option<PathBuf>,
}

/// Why this process cannot be the one instance.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("{}", running_message(.0))]
    Running(Holder),
    #[error("cannot use the instance lock {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn running_message(holder: &Holder) -> String {
    let ours = timecard_core::release::version();
    if holder.version != ours {
        format!(
            "Timecard {} is already running ({}, pid {}) and this is version {ours}; quit that one \
             (close its window, or `kill {}`) and start this one again",
            holder.version, holder.role, holder.pid, holder.pid
        )
    } else {
        format!(
            "Timecard is already running ({}, pid {}) with this data folder; use it, or quit it first",
            holder.role, holder.pid
        )
    }
}

type Handler = Option<Box<dyn Fn() + Send>>;

/// What the running window does when another launch asks.
#[derive(Default)]
struct Handlers {
    /// Come forward (a second launch of the same or an older version).
    show: Handler,
    /// Cache the partial segment and quit, for a newer version (U5).
    handover: Handler,
    /// Update now (`timecard update` while the window runs).
    update: Handler,
    /// What the window is doing, one line of JSON (`timecard status`).
    state: Option<Box<dyn Fn() -> String + Send>>,
}

type ShowHandler = Arc<Mutex<Handlers>>;

/// This process is the one instance while this lives.
pub struct InstanceGuard {
    _file: File,
    lock_path: PathBuf,
    socket: Option<PathBuf>,
    on_show: ShowHandler,
}

impl std::fmt::Debug for InstanceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceGuard")
            .field("lock_path", &self.lock_path)
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

/// The answer a second launch gets from the running window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub pid: u32,
    pub version: String,
    /// The running window is older and quits for the caller (U5).
    pub handing_over: bool,
}

impl InstanceGuard {
    /// Takes the lock for `role`, or says who has it. The window passes
    /// `listen = true` to accept show-window requests.
    pub fn acquire(
        data: &DataDir,
        role: &str,
        listen: bool,
    ) -> Result<InstanceGuard, InstanceError> {
        let lock_path = data.instance_lock_file();
        let io_err = |source| InstanceError::Io {
            path: lock_path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_err)?;
        // A named pipe in its place would block the reads below.
        let kind = file.metadata().map_err(io_err)?.file_type();
        if !kind.is_file() {
            return Err(io_err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} instead of a file",
                    timecard_core::fs::read::describe(kind)
                ),
            )));
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = serde_json::from_str(&text).unwrap_or_else(|_| Holder {
                    pid: 0,
                    version: "unknown".into(),
                    role: "starting".into(),
                    socket: None,
                });
                return Err(InstanceError::Running(holder));
            }
            Err(TryLockError::Error(e)) => return Err(io_err(e)),
        }
        let on_show: ShowHandler = Arc::new(Mutex::new(Handlers::default()));
        let socket = if listen {
            match listen_for_show(data, on_show.clone()) {
                Ok(path) => Some(path),
                Err(e) => {
                    log::warn!("a second launch cannot reach this window: {e}");
                    None
                }
            }
        } else {
            None
        };
        let holder = Holder {
            pid: std::process::id(),
            version: timecard_core::release::version().into(),
            role: role.into(),
            socket: socket.clone(),
        };
        file.set_len(0).map_err(io_err)?;
        file.rewind().map_err(io_err)?;
        file.write_all(&serde_json::to_vec(&holder).unwrap_or_default())
            .and_then(|()| file.sync_all())
            .map_err(io_err)?;
        log::info!("instance lock taken ({role}, pid {})", holder.pid);
        Ok(InstanceGuard {
            _file: file,
            lock_path,
            socket,
            on_show,
        })
    }

    /// What to do when a second launch asks for the window (called on the
    /// listener's thread).
    pub fn on_show(&self, show: impl Fn() + Send + 'static) {
        self.on_show.lock().expect("show handler").show = Some(Box::new(show));
    }

    /// What to do when a newer version is launched: cache the partial
    /// segment and quit, so that it takes over (U5). Without it, a newer
    /// launch is told this one runs.
    pub fn on_handover(&self, quit: impl Fn() + Send + 'static) {
        self.on_show.lock().expect("show handler").handover = Some(Box::new(quit));
    }

    /// What to do when `timecard update` asks this window to update.
    pub fn on_update(&self, update: impl Fn() + Send + 'static) {
        self.on_show.lock().expect("show handler").update = Some(Box::new(update));
    }

    /// What to answer when `timecard status` asks what this window is
    /// doing: one line of JSON (called on the listener's thread).
    pub fn on_state(&self, state: impl Fn() -> String + Send + 'static) {
        self.on_show.lock().expect("show handler").state = Some(Box::new(state));
    }

    /// Takes the lock once the running holder has let it go (after a
    /// handover), waiting up to `timeout`.
    pub fn acquire_when_free(
        data: &DataDir,
        role: &str,
        listen: bool,
        timeout: Duration,
    ) -> Result<InstanceGuard, InstanceError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match InstanceGuard::acquire(data, role, listen) {
                Err(InstanceError::Running(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }
}

impl Drop for InstanceGuard {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(socket) = &self.socket {
            let _ = std::fs::remove_file(socket);
        }
        // The lock itself goes with the file handle.
    }
}

/// The socket path: in the data folder when it fits in a socket address,
/// else in the runtime folder.
#[cfg(unix)]
fn socket_path(data: &DataDir) -> PathBuf {
    let inside = data.root().join("instance.sock");
    if inside.as_os_str().len() < 100 {
        return inside;
    }
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    base.join(format!("timecard-{:08x}.sock", root_digest(data)))
}

/// Names the data folder in a socket or pipe name.
fn root_digest(data: &DataDir) -> u32 {
    crc32fast::hash(data.root().as_os_str().as_encoded_bytes())
}

/// Answers one request on `stream`: `show VERSION`, `update VERSION` or
/// `state VERSION`, answered `ok PID VERSION` — or `handover PID VERSION`
/// when a newer version asks to show itself and this window quits for it
/// (U5). `state` is followed by one line of JSON: what the window does.
fn answer_show(stream: impl Read + Write, handlers: &ShowHandler) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut words = line.split_whitespace();
    let request = words.next().unwrap_or_default().to_owned();
    let caller = words.next().unwrap_or("?").to_owned();
    let ours = timecard_core::release::version();
    let handlers = handlers.lock().expect("show handler");
    let handover = request == "show"
        && handlers.handover.is_some()
        && timecard_core::release::is_newer(&caller, ours);
    match request.as_str() {
        "show" => log::info!("show-window request from a second launch (version {caller})"),
        // Asked by every `timecard status`: not worth a log line each.
        "state" => {}
        _ => log::info!("{request} request from another launch (version {caller})"),
    }
    let stream = reader.get_mut();
    let word = if handover { "handover" } else { "ok" };
    let _ = writeln!(stream, "{word} {} {ours}", std::process::id());
    if request == "state" {
        let state = handlers.state.as_ref().map_or_else(|| "{}".into(), |f| f());
        let _ = writeln!(stream, "{}", state.replace('\n', " "));
    }
    let _ = stream.flush();
    let handler = match request.as_str() {
        "show" if handover => &handlers.handover,
        "show" => &handlers.show,
        "update" => &handlers.update,
        _ => &None,
    };
    if let Some(handler) = handler {
        handler();
    }
}

/// Sends `request VERSION` on `stream` and reads the answer (and, for
/// `state`, the line of JSON after it).
fn request_show(stream: impl Read + Write, request: &str) -> io::Result<(Answer, String)> {
    let mut reader = BufReader::new(stream);
    writeln!(
        reader.get_mut(),
        "{request} {}",
        timecard_core::release::version()
    )?;
    reader.get_mut().flush()?;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let answer = match (
        words.next(),
        words.next().and_then(|p| p.parse().ok()),
        words.next(),
    ) {
        (Some(word @ ("ok" | "handover")), Some(pid), Some(version)) => Answer {
            pid,
            version: version.to_owned(),
            handing_over: word == "handover",
        },
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected answer {line:?}"),
            ));
        }
    };
    let mut more = String::new();
    if request == "state" {
        reader.read_line(&mut more)?;
    }
    Ok((answer, more.trim_end().to_owned()))
}

fn not_listening() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "it does not listen for requests")
}

#[cfg(unix)]
fn listen_for_show(data: &DataDir, on_show: ShowHandler) -> io::Result<PathBuf> {
    use std::os::unix::net::UnixListener;
    let path = socket_path(data);
    // Left by a process that died: nobody listens on it any more.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    std::thread::Builder::new()
        .name("timecard-instance".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                answer_show(&stream, &on_show);
            }
        })?;
    Ok(path)
}

/// Asks the running window to come forward (or, when it is older, to
/// hand over); returns its answer.
pub fn ask_to_show(holder: &Holder) -> io::Result<Answer> {
    ask(holder, "show").map(|(answer, _)| answer)
}

/// Asks the running window to update itself now.
pub fn ask_to_update(holder: &Holder) -> io::Result<Answer> {
    ask(holder, "update").map(|(answer, _)| answer)
}

/// Asks the running window what it is doing: its answer and the line of
/// JSON its [`InstanceGuard::on_state`] handler gave (`{}` without one).
pub fn ask_state(holder: &Holder) -> io::Result<(Answer, String)> {
    ask(holder, "state")
}

/// Who holds the instance lock of `data` now, if anyone, without taking
/// it: a free lock is let go at once (a start in that instant is told
/// that Timecard is "starting" and may simply be run again).
pub fn holder(data: &DataDir) -> Option<Holder> {
    let path = data.instance_lock_file();
    // A named pipe in its place would block a read-only open: looked at
    // first, and opened read-write as `acquire` does (which never blocks).
    if !std::fs::symlink_metadata(&path).ok()?.is_file() {
        return None;
    }
    let file = OpenOptions::new().read(true).write(true).open(&path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            (&file).read_to_string(&mut text).ok()?;
            serde_json::from_str(&text).ok()
        }
        Err(TryLockError::Error(_)) => None,
    }
}

#[cfg(unix)]
fn ask(holder: &Holder, request: &str) -> io::Result<(Answer, String)> {
    use std::os::unix::net::UnixStream;
    let path = holder.socket.as_deref().ok_or_else(not_listening)?;
    let stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    request_show(&stream, request)
}

/// On Windows the window listens on a named pipe, `\\.\pipe\timecard-…`,
/// named after the data folder, that only this machine can reach. Each
/// request is answered on a thread of its own, so a caller that never
/// writes holds up no one.
#[cfg(windows)]
fn listen_for_show(data: &DataDir, on_show: ShowHandler) -> io::Result<PathBuf> {
    let name = PathBuf::from(format!(r"\\.\pipe\timecard-{:08x}", root_digest(data)));
    // The first instance is made here, so that a name already taken is an
    // error now rather than on the listener's thread.
    let mut pipe = pipe::Instance::create(&name, true)?;
    let thread_name = name.clone();
    std::thread::Builder::new()
        .name("timecard-instance".into())
        .spawn(move || {
            loop {
                if let Err(e) = pipe.connect() {
                    log::warn!("show-window requests: {e}");
                    return;
                }
                let connected = pipe.into_file();
                let on_show = on_show.clone();
                let _ = std::thread::Builder::new()
                    .name("timecard-show".into())
                    .spawn(move || answer_show(&connected, &on_show));
                pipe = match pipe::Instance::create(&thread_name, false) {
                    Ok(next) => next,
                    Err(e) => {
                        log::warn!("show-window requests stop: {e}");
                        return;
                    }
                };
            }
        })?;
    Ok(name)
}

#[cfg(windows)]
fn ask(holder: &Holder, request: &str) -> io::Result<(Answer, String)> {
    let path = holder.socket.as_deref().ok_or_else(not_listening)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match OpenOptions::new().read(true).write(true).open(path) {
            Ok(pipe) => return request_show(&pipe, request),
            // ERROR_PIPE_BUSY: every instance is taken for a moment.
            Err(e) if e.raw_os_error() == Some(231) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(windows)]
mod pipe {
    //! One instance of a named pipe's server end.

    use std::fs::File;
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::io::{FromRawHandle, OwnedHandle};
    use std::path::Path;

    use windows::Win32::Foundation::{ERROR_PIPE_CONNECTED, HANDLE, INVALID_HANDLE_VALUE};
    use windows::Win32::Storage::FileSystem::{
        FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_FLAGS_AND_ATTRIBUTES, PIPE_ACCESS_DUPLEX,
    };
    use windows::Win32::System::Pipes::{
        ConnectNamedPipe, CreateNamedPipeW, PIPE_READMODE_BYTE, PIPE_REJECT_REMOTE_CLIENTS,
        PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, PIPE_WAIT,
    };
    use windows::core::PCWSTR;

    pub struct Instance(OwnedHandle);

    impl Instance {
        /// A new instance of the pipe `name`; `first` fails if another
        /// process already serves that name.
        pub fn create(name: &Path, first: bool) -> io::Result<Instance> {
            let wide: Vec<u16> = name.as_os_str().encode_wide().chain([0]).collect();
            let mut mode = PIPE_ACCESS_DUPLEX;
            if first {
                mode |= FILE_FLAG_FIRST_PIPE_INSTANCE;
            }
            // SAFETY: the name is NUL-terminated; the handle returned is
            // owned from here on.
            let handle = unsafe {
                CreateNamedPipeW(
                    PCWSTR(wide.as_ptr()),
                    FILE_FLAGS_AND_ATTRIBUTES(mode.0),
                    PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                    PIPE_UNLIMITED_INSTANCES,
                    512,
                    512,
                    0,
                    None,
                )
            };
            if handle == INVALID_HANDLE_VALUE {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: a valid handle nobody else owns.
            Ok(Instance(unsafe { OwnedHandle::from_raw_handle(handle.0) }))
        }

        /// Waits for a caller.
        pub fn connect(&mut self) -> io::Result<()> {
            use std::os::windows::io::AsRawHandle;
            // SAFETY: the handle is a pipe instance this owns.
            match unsafe { ConnectNamedPipe(HANDLE(self.0.as_raw_handle()), None) } {
                Ok(()) => Ok(()),
                // The caller came between create and connect.
                Err(e) if e.code() == ERROR_PIPE_CONNECTED.to_hresult() => Ok(()),
                Err(e) => Err(io::Error::other(e.message())),
            }
        }

        /// The connected pipe, to read and write like a file.
        pub fn into_file(self) -> File {
            File::from(self.0)
        }
    }
}

#[cfg(not(any(unix, windows)))]
fn listen_for_show(_data: &DataDir, _on_show: ShowHandler) -> io::Result<PathBuf> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "show-window requests are not made on this system",
    ))
}

#[cfg(not(any(unix, windows)))]
fn ask(_holder: &Holder, _request: &str) -> io::Result<(Answer, String)> {
    Err(not_listening())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_names_the_holder_and_a_dropped_guard_frees_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::at(dir.path().join("data")).unwrap();
        let first = InstanceGuard::acquire(&data, "window", true).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        first.on_show(move || {
            let _ = tx.send(());
        });
        match InstanceGuard::acquire(&data, "track", false) {
            Err(InstanceError::Running(holder)) => {
                assert_eq!(holder.pid, std::process::id());
                assert_eq!(holder.role, "window");
                let answer = ask_to_show(&holder).unwrap();
                assert_eq!(answer.pid, std::process::id());
                assert_eq!(answer.version, timecard_core::release::version());
                rx.recv_timeout(Duration::from_secs(5))
                    .expect("the running window was asked to show");
            }
            other => panic!("expected the lock to be taken: {other:?}"),
        }
        drop(first);
        InstanceGuard::acquire(&data, "track", false).expect("free again");
    }

    // `timecard status` reads who holds the lock without taking it, and
    // asks the window what it does.
    #[test]
    fn the_holder_is_read_and_answers_what_it_does() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::at(dir.path().join("data")).unwrap();
        assert_eq!(holder(&data), None, "no lock file yet");
        let first = InstanceGuard::acquire(&data, "window", true).unwrap();
        let found = holder(&data).expect("the window holds the lock");
        assert_eq!(
            (found.pid, found.role.as_str()),
            (std::process::id(), "window")
        );
        let (answer, state) = ask_state(&found).unwrap();
        assert_eq!(answer.pid, std::process::id());
        assert_eq!(state, "{}", "no handler yet");
        first.on_state(|| r#"{"tracking":null}"#.into());
        assert_eq!(ask_state(&found).unwrap().1, r#"{"tracking":null}"#);
        drop(first);
        assert_eq!(holder(&data), None, "let go");
        InstanceGuard::acquire(&data, "window", true).expect("holder() left the lock free");
    }

    #[test]
    fn an_older_version_is_named_with_how_to_quit_it() {
        let message = running_message(&Holder {
            pid: 4242,
            version: "0.0.9".into(),
            role: "window".into(),
            socket: None,
        });
        assert!(
            message.contains("Timecard 0.0.9 is already running"),
            "{message}"
        );
        assert!(message.contains("kill 4242"), "{message}");
    }
}
