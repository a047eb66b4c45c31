//! `/download` (U1): what the server offers — the app's installer and
//! packages, the server's own — for anyone who can reach the server, with
//! sizes, SHA-256 and the signing key; and the files themselves, streamed
//! behind their own gate.

use std::io::Read;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use timecard_core::release::{Kind, PublicKey};

use super::layout::{PageError, Typed, layout, not_found};
use crate::http::guards::downloads_gate;
use crate::http::state::Shared;
use crate::releases::Published;

/// Bytes read from disk per chunk of a download.
const CHUNK: usize = 64 * 1024;
/// Older versions listed below the newest ones.
const OLDER_SHOWN: usize = 30;

pub fn routes() -> Router<Shared> {
    Router::new().route("/download", get(page)).route(
        "/download/{version}/{name}",
        get(file).layer(middleware::from_fn(downloads_gate)),
    )
}

async fn page(State(state): State<Shared>) -> Result<Html<String>, PageError> {
    let catalog = state.releases.clone();
    let all = tokio::task::spawn_blocking(move || catalog.list())
        .await
        .map_err(|_| unreadable())?
        .map_err(|e| {
            log::error!("cannot read the releases: {e}");
            unreadable()
        })?;
    Ok(layout("Download", None, body(&all)))
}

fn unreadable() -> PageError {
    PageError(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The list of downloads cannot be read; the server's log says why.".into(),
    )
}

/// Who a file is for, in words.
fn audience(p: &Published) -> String {
    let system = match p.release.os.as_str() {
        "linux" => "Linux",
        "windows" => "Windows",
        other => other,
    };
    let what = match p.release.kind {
        Kind::Deb => "Debian or Ubuntu package",
        Kind::Installer => "installer",
        Kind::Binary => "program",
        Kind::Zip => "zip",
        Kind::Image => "container image",
    };
    format!("{system} {what} ({})", p.release.arch)
}

fn how_to_install(p: &Published) -> &'static str {
    match (p.program.as_str(), p.release.kind) {
        (_, Kind::Installer) => "Run it; no administrator is needed. Timecard updates itself.",
        ("timecard", Kind::Deb) => "sudo apt install ./FILE, then start Timecard from the menu.",
        (_, Kind::Deb) => "sudo apt install ./FILE; it says how to make the first admin.",
        (_, Kind::Image) => "podman load -i FILE (or docker load); see compose.yaml.",
        (_, Kind::Zip) => "Unpack it anywhere and run timecard.exe.",
        (_, Kind::Binary) => "Make it executable and run it.",
    }
}

fn body(all: &[Published]) -> Markup {
    // The newest version of each program, system, processor and kind.
    let mut newest: Vec<&Published> = Vec::new();
    let mut older: Vec<&Published> = Vec::new();
    for p in all {
        let same = |q: &&Published| {
            q.program == p.program
                && q.release.os == p.release.os
                && q.release.arch == p.release.arch
                && q.release.kind == p.release.kind
        };
        if newest.iter().any(same) {
            older.push(p);
        } else {
            newest.push(p);
        }
    }
    let key = all
        .first()
        .and_then(|p| PublicKey::parse(&p.release.key).ok());
    html! {
        h1 { "Download Timecard" }
        @if all.is_empty() {
            p { "This server offers no downloads yet. Its admin publishes them with "
                code { "timecard-server release publish" } "." }
        } @else {
            @for program in ["timecard", "timecard-server"] {
                @let files: Vec<&&Published> = newest.iter().filter(|p| p.program == program).collect();
                @if !files.is_empty() {
                    h2 { @if program == "timecard" { "The app, for freelancers" } @else { "The server, for admins" } }
                    (table(&files.into_iter().copied().collect::<Vec<_>>(), true))
                }
            }
            @if let Some(key) = key {
                p.note {
                    "Every file is signed; the app checks the signature before it installs an update. "
                    "Signing key fingerprint: " code { (key.fingerprint()) }
                }
            }
            @if !older.is_empty() {
                details {
                    summary { "Older versions (" (older.len()) ")" }
                    (table(&older.iter().take(OLDER_SHOWN).copied().collect::<Vec<_>>(), false))
                }
            }
        }
    }
}

fn table(files: &[&Published], with_help: bool) -> Markup {
    html! {
        table.downloads {
            thead { tr { th { "For" } th { "Version" } th { "File" } th { "Size" } th { "SHA-256" } } }
            tbody {
                @for p in files {
                    tr {
                        td {
                            (audience(p))
                            @if with_help {
                                br;
                                small { (how_to_install(p).replace("FILE", &p.release.name)) }
                            }
                        }
                        td.version { (Typed(&p.release.version)) br; small { (Typed(p.published_at.get(..10).unwrap_or(&p.published_at))) } }
                        td { a.download href=(format!("/download/{}/{}", p.release.version, p.release.name)) download { (p.release.name) } }
                        td.size { (size(p.release.size)) }
                        td { code.hash { (p.release.sha256) } }
                    }
                }
            }
        }
    }
}

/// A file's size as people read it: MB, or KB below one.
fn size(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        format!("{:.1} MB", bytes as f64 / 1_000_000.0)
    } else {
        format!("{} KB", bytes.div_ceil(1000))
    }
}

/// One published file, streamed from disk.
async fn file(
    State(state): State<Shared>,
    Path((version, name)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let path = state.releases.file(&version, &name).ok_or_else(not_found)?;
    let mut source = std::fs::File::open(&path).map_err(|_| not_found())?;
    let size = source.metadata().map_err(|_| not_found())?.len();
    // A thread reads ahead by a few chunks; a slow client holds that much.
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut chunk = vec![0u8; CHUNK];
            let read = match source.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) => {
                    let _ = sender.blocking_send(Err(e));
                    return;
                }
            };
            chunk.truncate(read);
            if sender.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                return;
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "public, max-age=86400".to_owned()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
