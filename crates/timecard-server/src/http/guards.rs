//! X3, Y6: what keeps hostile clients from taking the server's memory or time:
//! bounds on the work that costs memory, one set per router, given to
//! handlers as an extension; and the gates that hold a permit for the rest
//! of a request.

use std::sync::Arc;

use axum::Extension;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use crate::auth;

/// Bounds on the work that costs memory.
pub struct Guards {
    /// Password hashing of sign-ins (Argon2id, ~19 MiB each).
    pub hashing: auth::Hashing,
    /// Requests with large bodies (segment batches up to 64 MiB, problem
    /// reports up to 32 MiB) read and decoded at once; the body is read
    /// only once a permit is held.
    pub heavy: Arc<Semaphore>,
    /// Requests that read pictures or a day of segments at once.
    pub reads: Arc<Semaphore>,
    /// The web's heavy pages and exports (diaries, timesheets, statements,
    /// CSV files, admin lists, pictures, report logs), each held until its
    /// last byte is sent.
    pub pages: Arc<Semaphore>,
    /// Downloads of installers and packages, each held until its last
    /// byte is sent: a slow download holds 64 KiB, not the file.
    pub downloads: Arc<Semaphore>,
    /// How long a request waits for a permit before a 503.
    pub queue_wait: std::time::Duration,
}

/// Heavy requests at once: two 64 MiB batches, read and decoded, stay far
/// below the server's memory budget.
pub const HEAVY_AT_ONCE: usize = 2;
/// Diary and picture reads at once.
pub const READS_AT_ONCE: usize = 8;
/// Heavy web pages and exports at once: a year's CSV of a busy contract is
/// tens of megabytes to write and encrypt; two at a time keep the server
/// small and `/health` quick whatever a flood of them asks (four let
/// `/health` reach 190 ms on two cores).
pub const PAGES_AT_ONCE: usize = 2;
/// Downloads at once: a team's apps updating on the same morning queue
/// for a few seconds each rather than filling the server's links.
pub const DOWNLOADS_AT_ONCE: usize = 8;

impl Default for Guards {
    fn default() -> Self {
        Guards {
            hashing: auth::Hashing::for_this_machine(),
            heavy: Arc::new(Semaphore::new(HEAVY_AT_ONCE)),
            reads: Arc::new(Semaphore::new(READS_AT_ONCE)),
            pages: Arc::new(Semaphore::new(PAGES_AT_ONCE)),
            downloads: Arc::new(Semaphore::new(DOWNLOADS_AT_ONCE)),
            queue_wait: std::time::Duration::from_secs(10),
        }
    }
}

/// Holds a permit of `permits` for the rest of the request (its body is
/// read after), or answers 503 after the queue's wait.
async fn gated(
    permits: &Arc<Semaphore>,
    wait: std::time::Duration,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(wait, permits.clone().acquire_owned()).await {
        Ok(Ok(_permit)) => next.run(request).await,
        _ => ApiError::busy(wait).into_response(),
    }
}

/// For uploads and reports.
pub async fn heavy_gate(
    Extension(guards): Extension<Arc<Guards>>,
    request: Request,
    next: Next,
) -> Response {
    gated(&guards.heavy, guards.queue_wait, request, next).await
}

/// For diaries and pictures.
pub async fn reads_gate(
    Extension(guards): Extension<Arc<Guards>>,
    request: Request,
    next: Next,
) -> Response {
    gated(&guards.reads, guards.queue_wait, request, next).await
}

/// For the web's heavy pages and exports: the permit is held until the
/// answer's body has been sent (a streamed CSV), not only while the
/// handler runs.
pub async fn pages_gate(
    Extension(guards): Extension<Arc<Guards>>,
    request: Request,
    next: Next,
) -> Response {
    held_until_sent(&guards.pages, guards.queue_wait, request, next).await
}

/// For downloads of releases, held until the last byte is sent.
pub async fn downloads_gate(
    Extension(guards): Extension<Arc<Guards>>,
    request: Request,
    next: Next,
) -> Response {
    held_until_sent(&guards.downloads, guards.queue_wait, request, next).await
}

async fn held_until_sent(
    permits: &Arc<Semaphore>,
    wait: std::time::Duration,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(wait, permits.clone().acquire_owned()).await {
        Ok(Ok(permit)) => next.run(request).await.map(|body| {
            Body::new(HoldingBody {
                body,
                _permit: permit,
            })
        }),
        _ => ApiError::busy(wait).into_response(),
    }
}

/// A body that holds a gate's permit until it is dropped (sent, or the
/// client went away).
struct HoldingBody {
    body: Body,
    _permit: OwnedSemaphorePermit,
}

impl http_body::Body for HoldingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
