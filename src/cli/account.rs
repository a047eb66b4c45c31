//! `timecard login` and `timecard logout` (Y1, Y5).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use timecard_core::{errln, outln};

use anyhow::bail;
use clap::Args;

use timecard_client::connect::{self, SignInTo};
use timecard_client::platform::DataDir;
use timecard_client::settings::Settings;
use timecard_client::sync::{Fingerprint, ServerAddress};
use timecard_core::clock::SystemClock;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server, https://host[:port], or `builtin` for the built-in local server.
    #[arg(long, value_name = "URL")]
    server: String,
    /// Trust this certificate (PEM) for the server: its own CA or its
    /// self-signed certificate.
    #[arg(long, value_name = "PEM", conflicts_with = "fingerprint")]
    ca: Option<PathBuf>,
    /// Trust exactly the certificate with this SHA-256 fingerprint (Y7), as
    /// `timecard-server serve` prints it: SHA256:AB:CD:…
    #[arg(long, value_name = "SHA256:…", value_parser = parse_fingerprint)]
    fingerprint: Option<Fingerprint>,
    /// Username or e-mail.
    #[arg(long, value_name = "LOGIN")]
    user: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
    /// Sign in through the system browser with the server's identity
    /// provider (single sign-on); the address is printed if no browser opens.
    #[arg(long, conflicts_with_all = ["user", "password_stdin"])]
    browser: bool,
}

fn parse_fingerprint(text: &str) -> Result<Fingerprint, String> {
    Fingerprint::parse(text)
}

pub fn login(data: &DataDir, settings: &Settings, args: LoginArgs) -> anyhow::Result<ExitCode> {
    let to = if args.server == connect::BUILTIN {
        SignInTo::Builtin
    } else {
        let address = ServerAddress::parse(&args.server)?;
        if args.browser {
            let code = browser_code(&address, &args)?;
            let mut settings = settings.clone();
            let to = SignInTo::Server {
                address: args.server.clone(),
                certificate: args.ca.clone(),
                fingerprint: args.fingerprint,
                login: String::new(),
                password: String::new(),
                browser_code: Some(code),
            };
            let signed_in = connect::sign_in(data, &mut settings, to, Arc::new(SystemClock))?;
            outln!(
                "Signed in to {} as {}.",
                signed_in.server.unwrap_or_default(),
                signed_in.login
            );
            return Ok(ExitCode::SUCCESS);
        }
        let Some(login) = args.user else {
            bail!("--user is required to sign in to {}", address.as_str());
        };
        if !args.password_stdin {
            bail!(
                "pass the password on standard input with --password-stdin (it never goes on the command line)"
            );
        }
        let mut password = String::new();
        std::io::stdin().read_to_string(&mut password)?;
        SignInTo::Server {
            address: args.server,
            certificate: args.ca,
            fingerprint: args.fingerprint,
            login,
            password: password.trim_end_matches(['\r', '\n']).to_owned(),
            browser_code: None,
        }
    };
    let mut settings = settings.clone();
    let signed_in = connect::sign_in(data, &mut settings, to, Arc::new(SystemClock))?;
    if let Some(skew) = signed_in.clock_skew_secs {
        errln!(
            "warning: this computer's clock is {} {} the server's; set the correct time",
            timecard_core::fmt::rough_duration(skew),
            if skew > 0 { "behind" } else { "ahead of" }
        );
    }
    match &signed_in.server {
        Some(server) => outln!("Signed in to {server} as {}.", signed_in.login),
        None => outln!(
            "Using the built-in local server (signed in as {}).",
            signed_in.login
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// I5: the browser's part of a sign-in: the provider's name from the
/// server (when its certificate is trusted already), the browser opened
/// at it, the code it brings back to this machine's loopback.
fn browser_code(
    address: &ServerAddress,
    args: &LoginArgs,
) -> anyhow::Result<timecard_client::connect::BrowserCode> {
    use timecard_client::browser_sign_in::WAIT;
    use timecard_client::sync::Trust;
    let trust = match (&args.ca, args.fingerprint) {
        (Some(path), _) => std::fs::read(path).ok().map(Trust::CaPem),
        (None, Some(f)) => Some(Trust::Pinned(f)),
        (None, None) => Some(Trust::Public),
    };
    timecard_client::browser_sign_in::browser_code(
        address,
        trust.as_ref(),
        |name, url| {
            errln!("Signing in with {name} in your browser. If it does not open, go to:");
            errln!("{url}");
        },
        crate::disputes::open_in_browser,
        WAIT,
    )
    .map_err(|e| anyhow::anyhow!(e))
}

pub fn logout(data: &DataDir, settings: &Settings) -> anyhow::Result<ExitCode> {
    if let Some(warning) = connect::sign_out(data, settings, Arc::new(SystemClock)) {
        errln!("warning: {warning}");
    }
    outln!("Signed out. Cached time stays in the cache and uploads after the next sign-in.");
    Ok(ExitCode::SUCCESS)
}
