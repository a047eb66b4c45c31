//! The built-in local server (docs/SPEC.md, *The built-in server*): with
//! no server configured, the app and the command line start
//! `timecard-server` in-process on 127.0.0.1, in the data folder's
//! `local-server/`, with the demo account and contracts of
//! `timecard_server::demo::seed_local`. The client reaches it through the
//! `LocalServer` seam, over HTTPS with its certificate pinned, like any
//! server. Built without the `builtin-server` feature, there is none.

#[cfg(feature = "builtin-server")]
use std::sync::Arc;

use timecard_client::connect::LocalServer;
#[cfg(feature = "builtin-server")]
use timecard_client::connect::{RunningLocal, StartedLocal};
#[cfg(feature = "builtin-server")]
use timecard_core::clock::Clock;

/// The local server this build provides: the real one, or none.
pub fn local_server() -> &'static dyn LocalServer {
    #[cfg(feature = "builtin-server")]
    {
        &Builtin
    }
    #[cfg(not(feature = "builtin-server"))]
    {
        &timecard_client::connect::NoLocalServer
    }
}

/// `timecard-server` in this process.
#[cfg(feature = "builtin-server")]
pub struct Builtin;

#[cfg(feature = "builtin-server")]
impl LocalServer for Builtin {
    fn start(&self, dir: &std::path::Path, clock: Arc<dyn Clock>) -> anyhow::Result<StartedLocal> {
        use anyhow::Context;
        let password = {
            let store =
                timecard_server::open_store(dir).context("cannot prepare the built-in server")?;
            timecard_server::demo::seed_local(&store, dir, clock.now())
                .context("cannot prepare the built-in server")?
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("cannot open a port for the built-in server")?;
        let mut options = timecard_server::ServerOptions::new(dir);
        options.clock = clock;
        let running = timecard_server::start(options, listener)?;
        Ok(StartedLocal {
            url: running.url(),
            cert_pem: running.cert_pem.clone(),
            login: timecard_server::demo::LOCAL_LOGIN.to_owned(),
            password,
            running: Box::new(Running(running)),
        })
    }
}

#[cfg(feature = "builtin-server")]
struct Running(timecard_server::RunningServer);

#[cfg(feature = "builtin-server")]
impl RunningLocal for Running {
    fn stop(&self) {
        self.0.stop();
    }
}
