//! How long a client may hold a connection, and how many one address may
//! hold: the server's defence against clients that connect and then send
//! nothing, or a byte at a time.
//!
//! Each accepted connection is counted against its address (refused past
//! the cap, before the TLS handshake), then goes through the TLS handshake
//! (axum-server's own 10 s limit), then is watched in three phases:
//!
//! - *waiting* for a request: closed when nothing is read or written for
//!   the idle timeout;
//! - reading a request's *headers*, from their first byte: closed when they
//!   are not complete within the header timeout, however slowly they trickle;
//! - handling a *request*: the connection is not timed (the handler is),
//!   but its body must arrive within the body timeout of the headers' end
//!   ([`body_deadline`]), else the answer is 408 and the connection closes.
//!
//! Hyper's own header timeout is not used: it also runs while a kept-alive
//! connection waits for its next request, which would make the idle
//! timeout the header timeout.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_server::accept::Accept;
use http_body::Frame;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use timecard_core::protocol::ErrorBody;

/// The limits on a server's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From a request's first byte to the end of its headers.
    pub header_timeout: Duration,
    /// From the end of a request's headers to the end of its body.
    pub body_timeout: Duration,
    /// Nothing read or written while waiting for a request.
    pub idle_timeout: Duration,
    /// Open connections from one address; more are refused.
    pub per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(75),
            per_address: 64,
        }
    }
}

/// Open connections per client address.
#[derive(Clone, Default)]
struct AddressCounts(Arc<Mutex<HashMap<IpAddr, Count>>>);

#[derive(Default)]
struct Count {
    open: usize,
    /// Whether a refusal was logged since the address was last under its
    /// cap: one line per episode, not one per refused connection.
    refusing: bool,
}

/// One counted connection; uncounted when dropped (the connection closed).
struct Slot {
    counts: AddressCounts,
    ip: IpAddr,
}

impl AddressCounts {
    /// A slot for a connection from `ip`, counted as the sign-in limiter
    /// counts addresses: an IPv6 /64 is one client (it usually is one
    /// machine, and holding a /64 costs nothing).
    fn take(&self, ip: IpAddr, cap: usize) -> Option<Slot> {
        let ip = crate::auth::address_key(ip);
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_default();
        if count.open >= cap {
            if !count.refusing {
                count.refusing = true;
                log::warn!("{ip} holds {cap} connections, the most one address may; refusing more");
            }
            return None;
        }
        count.open += 1;
        Some(Slot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            count.open -= 1;
            count.refusing = false;
            if count.open == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Where a connection is, for its timeouts.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Waiting for a request; the last byte read or written at `since`.
    Waiting { since: Instant },
    /// A request's headers started arriving; complete them by `deadline`.
    Headers { deadline: Instant },
    /// The service has the request.
    Request,
}

type SharedPhase = Arc<Mutex<Phase>>;

fn lock(phase: &SharedPhase) -> std::sync::MutexGuard<'_, Phase> {
    phase.lock().unwrap_or_else(|p| p.into_inner())
}

/// The acceptor: counts the connection against its address, runs the
/// inner (TLS) acceptor, then watches the connection ([`Watched`]) and its
/// requests ([`WatchedService`]).
#[derive(Clone)]
pub struct GuardedAcceptor<A> {
    inner: A,
    limits: ConnectionLimits,
    counts: AddressCounts,
}

impl<A> GuardedAcceptor<A> {
    pub fn new(inner: A, limits: ConnectionLimits) -> Self {
        GuardedAcceptor {
            inner,
            limits,
            counts: AddressCounts::default(),
        }
    }
}

impl<A, S> Accept<TcpStream, S> for GuardedAcceptor<A>
where
    A: Accept<TcpStream, S> + Clone + Send + 'static,
    A::Future: Send + 'static,
    A::Stream: AsyncRead + AsyncWrite + Unpin,
    S: Send + 'static,
{
    type Stream = Watched<A::Stream>;
    type Service = WatchedService<A::Service>;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        // Small answers go out at once: without this, Nagle's algorithm
        // meets the client's delayed ACK and a new connection's first
        // answer can wait ~40 ms.
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("cannot turn Nagle's algorithm off on a connection: {e}");
        }
        let slot = stream.peer_addr().and_then(|peer| {
            let ip = peer.ip();
            self.counts
                .take(ip, self.limits.per_address)
                .ok_or_else(|| io::Error::other(format!("too many connections from {ip}")))
        });
        let handshake = slot.map(|slot| (slot, self.inner.accept(stream, service)));
        let limits = self.limits;
        Box::pin(async move {
            let (slot, handshake) = handshake?;
            let (stream, service) = handshake.await?;
            let phase = Arc::new(Mutex::new(Phase::Waiting {
                since: Instant::now(),
            }));
            Ok((
                Watched {
                    inner: stream,
                    phase: phase.clone(),
                    limits,
                    timer: Box::pin(tokio::time::sleep(limits.idle_timeout)),
                    _slot: slot,
                },
                WatchedService {
                    inner: service,
                    phase,
                },
            ))
        })
    }
}

/// A connection's stream (after TLS), closed with an error when it waits
/// or reads headers for too long.
pub struct Watched<S> {
    inner: S,
    phase: SharedPhase,
    limits: ConnectionLimits,
    timer: Pin<Box<Sleep>>,
    _slot: Slot,
}

impl<S> Watched<S> {
    /// Bytes went through: a read while waiting starts a request's headers;
    /// a write while waiting counts as activity.
    fn moved(&self, read: bool) {
        let mut phase = lock(&self.phase);
        if let Phase::Waiting { .. } = *phase {
            let now = Instant::now();
            *phase = if read {
                Phase::Headers {
                    deadline: now + self.limits.header_timeout,
                }
            } else {
                Phase::Waiting { since: now }
            };
        }
    }

    /// Called when the stream would wait: an error once the phase's time is
    /// up, else `Pending` with the timer set to wake the connection then.
    /// After a write: bytes that went out count as activity; a write that
    /// must wait is bounded like any other wait.
    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match poll {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.moved(false);
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending => self.wait(cx),
            ready => ready,
        }
    }

    fn wait<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let (deadline, what) = match *lock(&self.phase) {
            Phase::Waiting { since } => (since + self.limits.idle_timeout, "idle"),
            Phase::Headers { deadline } => (deadline, "headers not complete"),
            Phase::Request => return Poll::Pending,
        };
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connection closed: {what} for too long"),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.moved(true);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => self.wait(cx),
            ready => ready,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => self.wait(cx),
            ready => ready,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_shutdown(cx) {
            Poll::Pending => self.wait(cx),
            ready => ready,
        }
    }
}

/// A connection's service: marks the connection busy while a request is
/// handled, and waiting again once its answer is ready.
#[derive(Clone)]
pub struct WatchedService<S> {
    inner: S,
    phase: SharedPhase,
}

impl<S, R> Service<R> for WatchedService<S>
where
    S: Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        *lock(&self.phase) = Phase::Request;
        let answer = self.inner.call(request);
        let phase = self.phase.clone();
        Box::pin(async move {
            let response = answer.await;
            *lock(&phase) = Phase::Waiting {
                since: Instant::now(),
            };
            response
        })
    }
}

/// Middleware: the request's body must arrive within `timeout` of the
/// headers' end. A body that does not gets 408 and `Connection: close`
/// (hyper closes a connection whose request body was not read to its end).
pub async fn body_deadline(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let timed_out = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + timeout;
    let request = request.map(|body| {
        Body::new(TimedBody {
            inner: body,
            timer: Box::pin(tokio::time::sleep_until(deadline)),
            timeout,
            timed_out: timed_out.clone(),
        })
    });
    let response = next.run(request).await;
    if !timed_out.load(Ordering::Relaxed) {
        return response;
    }
    let mut response = (
        StatusCode::REQUEST_TIMEOUT,
        axum::Json(ErrorBody {
            error: "request_timeout".into(),
            message: format!(
                "the request's body did not arrive within {} s; check the connection and try again",
                timeout.as_secs()
            ),
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A request body that fails once its deadline passes.
struct TimedBody {
    inner: Body,
    timer: Pin<Box<Sleep>>,
    timeout: Duration,
    timed_out: Arc<AtomicBool>,
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => {}
            ready => return ready,
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.timed_out.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the request body did not arrive within {} s",
                        self.timeout.as_secs()
                    ),
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum_server::accept::DefaultAcceptor;

    // Issue 23, item 3: a /64 is one client for the connection cap, as for
    // the sign-in limiter; IPv4 addresses are each their own.
    #[test]
    fn an_ipv6_network_counts_as_one_address() {
        let counts = AddressCounts::default();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let first = counts.take(a, 2).unwrap();
        let _second = counts.take(b, 2).unwrap();
        assert!(counts.take(a, 2).is_none(), "the /64 holds its two");
        assert!(counts.take(elsewhere, 2).is_some());
        drop(first);
        assert!(
            counts.take(b, 2).is_some(),
            "a closed connection frees its slot"
        );
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let _v4 = counts.take(mapped, 1).unwrap();
        assert!(counts.take("10.0.0.1".parse().unwrap(), 1).is_none());
        assert!(counts.take("10.0.0.2".parse().unwrap(), 1).is_some());
    }

    // Issue 23, item 10: every accepted connection has Nagle's algorithm
    // off, so a small answer is not held back waiting for an ACK.
    #[test]
    fn accepted_connections_send_at_once() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            assert!(!stream.nodelay().unwrap(), "the kernel's default");
            let acceptor = GuardedAcceptor::new(DefaultAcceptor, ConnectionLimits::default());
            let (watched, _service) = acceptor.accept(stream, ()).await.unwrap();
            assert!(watched.inner.nodelay().unwrap());
        });
    }
}
