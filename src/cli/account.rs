//! `timecard login` and `timecard logout` (Y1, Y5).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use timecard_core::{errln, outln};

use anyhow::{Context, bail};
use clap::Args;

use timecard_client::connect;
use timecard_client::platform::DataDir;
use timecard_client::settings::Settings;
use timecard_client::sync::{ApiClient, ServerAddress};
use timecard_core::clock::SystemClock;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server, https://host[:port], or `builtin` for the built-in local server.
    #[arg(long, value_name = "URL")]
    server: String,
    /// Trust this certificate (PEM) for the server: its own CA or its
    /// self-signed certificate.
    #[arg(long, value_name = "PEM")]
    ca: Option<PathBuf>,
    /// Username or e-mail.
    #[arg(long, value_name = "LOGIN")]
    user: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
}

pub fn login(data: &DataDir, settings: &Settings, args: LoginArgs) -> anyhow::Result<ExitCode> {
    let mut settings = settings.clone();
    if args.server == connect::BUILTIN {
        settings.server = None;
        settings.server_ca = None;
        settings.save(&data.settings_file())?;
        let _ = std::fs::remove_file(data.session_file());
        outln!(
            "Using the built-in local server (signed in as {}).",
            connect::DEMO_LOGIN
        );
        return Ok(ExitCode::SUCCESS);
    }
    let address = ServerAddress::parse(&args.server)?;
    let Some(user) = args.user else {
        bail!("--user is required to sign in to {}", address.as_str());
    };
    if !args.password_stdin {
        bail!(
            "pass the password on standard input with --password-stdin (it never goes on the command line)"
        );
    }
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    let pinned = match &args.ca {
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)
        }
        None => None,
    };
    let client = ApiClient::new(address.clone(), pinned.as_deref(), Arc::new(SystemClock))
        .map_err(|e| anyhow::anyhow!(e.sign_in_message()))?;
    let session = client
        .sign_in(&user, password)
        .map_err(|e| anyhow::anyhow!(e.sign_in_message()))?;
    let login = session.login.clone();
    connect::keep_sign_in(data, &mut settings, &address, pinned.as_deref(), session)?;
    if let Some(skew) = client.clock_skew_secs()
        && skew.abs() > timecard_client::worker::snapshot::CLOCK_SKEW_WARN_SECS
    {
        errln!(
            "warning: this computer's clock differs from the server's by {skew} s; set the correct time"
        );
    }
    outln!("Signed in to {} as {login}.", address.as_str());
    Ok(ExitCode::SUCCESS)
}

pub fn logout(data: &DataDir, settings: &Settings) -> anyhow::Result<ExitCode> {
    if let Some(warning) = connect::sign_out(data, settings, Arc::new(SystemClock)) {
        errln!("warning: {warning}");
    }
    outln!("Signed out. Cached time stays in the cache and uploads after the next sign-in.");
    Ok(ExitCode::SUCCESS)
}
