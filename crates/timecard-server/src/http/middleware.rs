//! What wraps every request: panics answered as plain 500s, maintenance
//! mode for the API, the security headers of every answer, and the
//! client's address.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::{Shared, blocking};

/// Runs the request in a task of its own, so that a handler that panics
/// answers a generic JSON 500 (the panic's text, which may name the
/// server's insides, goes to the log only) instead of dropping the
/// connection. Written here rather than taken from tower-http's
/// `CatchPanicLayer`, which would be one more dependency for six lines.
pub async fn catch_panics(request: Request, next: Next) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(e) => {
            log::error!("server: a request handler failed: {e}");
            ApiError::internal().into_response()
        }
    }
}

/// Whether maintenance mode is on (`Some(retry_after)`), as the store
/// says now (every replica reads the same). A store that cannot be read is
/// not maintenance: the request fails on its own terms.
pub async fn maintenance_mode(state: &Shared) -> Option<u64> {
    blocking(state, |s| s.maintenance()).await.ok()?
}

/// Answers 503 with Retry-After while maintenance mode is on. It holds
/// the app's API; the web pages stay, so an admin can turn it off there.
pub async fn maintenance(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    if let Some(retry_after) = maintenance_mode(&state).await {
        let mut error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "maintenance",
            "the server is down for maintenance; time is kept on your computer and uploaded afterwards",
        );
        error.retry_after = Some(retry_after);
        return error.into_response();
    }
    next.run(request).await
}

/// Headers on every response (R5): HTTPS only from now on; and on pages,
/// nothing loaded from elsewhere, no inline script, no framing.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; \
                 form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            ),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    response
}

/// The client's address, from the connection (`ConnectInfo`); the
/// unspecified address when the router is served without it.
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |c| c.0.ip()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use std::io::{Read, Write};

    // No panic text ever reaches an HTTP body: a handler that panics
    // answers a generic JSON 500 instead of dropping the connection.
    #[test]
    fn a_panicking_handler_answers_a_plain_500() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            async fn boom() -> StatusCode {
                panic!("secret detail of the server")
            }
            let app = Router::new()
                .route("/boom", get(boom))
                .layer(axum::middleware::from_fn(catch_panics));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await });
            let response = tokio::task::spawn_blocking(move || {
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                stream
                    .write_all(b"GET /boom HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut text = String::new();
                let _ = stream.read_to_string(&mut text);
                text
            })
            .await
            .unwrap();
            assert!(response.starts_with("HTTP/1.1 500"), "{response:?}");
            assert!(response.contains(r#""error":"internal""#), "{response}");
            assert!(!response.contains("secret"), "{response}");
        });
    }
}
