//! `timecard-server release`: the update key, and the installers and
//! packages the server offers (U1).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use timecard_core::outln;
use timecard_core::release::Kind;

use crate::releases::{self, Catalog, Labels};

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Make the key pair that signs releases: DIR/release-key.pk8 (secret,
    /// keep it off the server) and DIR/release-key.pub.
    Keygen {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Sign and store files for download and for the apps' updates; the
    /// system, processor and kind are read from each file unless given.
    Publish {
        /// Installers, packages or programs.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Their version, such as 0.2.0.
        #[arg(long)]
        version: String,
        /// The secret key from `release keygen`.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long, value_name = "linux|windows")]
        os: Option<String>,
        #[arg(long, value_name = "x86_64|aarch64")]
        arch: Option<String>,
        #[arg(long, value_parser = parse_kind, value_name = "deb|installer|binary|zip|image")]
        kind: Option<Kind>,
        #[arg(long, value_name = "timecard|timecard-server")]
        program: Option<String>,
    },
    /// What the server offers, newest first.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn parse_kind(text: &str) -> Result<Kind, String> {
    Kind::parse(text).ok_or_else(|| "one of deb, installer, binary, zip, image".to_owned())
}

pub fn release_command(
    data: &std::path::Path,
    command: ReleaseCommand,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ExitCode> {
    match command {
        ReleaseCommand::Keygen { out } => {
            let public = releases::keygen(&out)?;
            outln!(
                "secret key: {} (keep it safe and off the server; publishing needs it)",
                out.join(releases::SECRET_KEY_FILE).display()
            );
            outln!(
                "public key: {}",
                out.join(releases::PUBLIC_KEY_FILE).display()
            );
            outln!("fingerprint: {}", public.fingerprint());
            outln!("{}", public.text());
        }
        ReleaseCommand::Publish {
            files,
            version,
            key,
            os,
            arch,
            kind,
            program,
        } => {
            let key = releases::read_secret_key(&key)?;
            let labels = Labels {
                os,
                arch,
                kind,
                program,
            };
            let catalog = Catalog::new(data);
            for file in &files {
                let p = catalog.publish(file, &version, &key, &labels, now)?;
                outln!(
                    "published {} {} for {} {} ({}, {} KB) sha256 {}",
                    p.program,
                    p.release.version,
                    p.release.os,
                    p.release.arch,
                    p.release.kind,
                    p.release.size.div_ceil(1024),
                    p.release.sha256
                );
            }
            outln!("signed by key {}", key.public().fingerprint());
        }
        ReleaseCommand::List { json } => {
            let all = Catalog::new(data).list()?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                outln!("nothing published yet (`timecard-server release publish`)");
            } else {
                for p in all {
                    outln!(
                        "{} {} {} {} {} {} KB {}",
                        p.release.version,
                        p.program,
                        p.release.os,
                        p.release.arch,
                        p.release.kind,
                        p.release.size.div_ceil(1024),
                        p.release.name
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
