//! I5: signing in through the system browser (RFC 8252), for a server
//! that signs people in with an identity provider: a listener on this
//! machine's loopback for the one answer, a PKCE pair binding the code it
//! gets to this process, and the address the browser opens.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::connect::BrowserCode;
use crate::sync::ServerAddress;

/// How long the app waits for the browser.
pub const WAIT: Duration = Duration::from_secs(300);

/// A browser sign-in under way.
pub struct BrowserSignIn {
    listener: TcpListener,
    verifier: String,
    state: String,
    /// Where the browser goes.
    pub url: String,
}

impl BrowserSignIn {
    /// Listens on 127.0.0.1 (a free port) and makes the address at
    /// `server` + `start` (the server's `/login/oidc`) for the browser.
    pub fn start(server: &ServerAddress, start: &str) -> std::io::Result<BrowserSignIn> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let state = uuid::Uuid::new_v4().simple().to_string();
        let url = format!(
            "{}{start}?app_redirect=http%3A%2F%2F127.0.0.1%3A{port}%2Fsigned-in&app_challenge={}&app_state={state}",
            server.as_str().trim_end_matches('/'),
            challenge(&verifier),
        );
        Ok(BrowserSignIn {
            listener,
            verifier,
            state,
            url,
        })
    }

    /// Waits (up to `wait`) for the browser to bring the code back; the
    /// browser's tab is told to go back to Timecard.
    pub fn wait(self, wait: Duration) -> Result<BrowserCode, String> {
        let deadline = Instant::now() + wait;
        self.listener
            .set_nonblocking(true)
            .map_err(|e| e.to_string())?;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Some(code) = self.answer(stream)? {
                        return Ok(BrowserCode {
                            code,
                            verifier: self.verifier,
                        });
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(format!(
                            "the browser did not come back within {} minutes; sign in again",
                            wait.as_secs() / 60
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// Reads one request; the code if it is the answer for this sign-in.
    fn answer(&self, stream: TcpStream) -> Result<Option<String>, String> {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut line = String::new();
        let mut reader = BufReader::new(&stream);
        if reader.read_line(&mut line).is_err() || line.len() > 4096 {
            return Ok(None);
        }
        let target = line.split_whitespace().nth(1).unwrap_or_default();
        let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let mut code = None;
        let mut state = None;
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("code", v)) => code = Some(v.to_owned()),
                Some(("state", v)) => state = Some(v.to_owned()),
                _ => {}
            }
        }
        let ok = code.is_some() && state.as_deref() == Some(self.state.as_str());
        let words = if ok {
            "Signed in to Timecard. You can close this tab and go back to the app."
        } else {
            "This is not the answer Timecard waits for."
        };
        let body = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Timecard</title></head><body><p id=\"timecard-signed-in\">{words}</p></body></html>"
        );
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            if ok { "200 OK" } else { "400 Bad Request" },
            body.len()
        );
        let _ = stream.flush();
        Ok(if ok { code } else { None })
    }
}

/// The whole browser part of a sign-in at `address` (trusted as `trust`
/// when known): the provider's name from the server (when it answers),
/// the browser opened with `open` at the start address (also given to
/// `show`, for when no browser opens), and the code it brings back within
/// `wait`.
pub fn browser_code(
    address: &ServerAddress,
    trust: Option<&crate::sync::Trust>,
    show: impl FnOnce(&str, &str),
    open: impl FnOnce(&str) -> Result<(), String>,
    wait: Duration,
) -> Result<BrowserCode, String> {
    let mut start = crate::connect::SIGN_ON_START.to_owned();
    let mut name = "your organisation".to_owned();
    if let Some(trust) = trust
        && let Ok(client) = crate::sync::ApiClient::with_trust(
            address.clone(),
            trust,
            std::sync::Arc::new(timecard_core::clock::SystemClock),
        )
    {
        match client.sign_on() {
            Ok(Some((provider, path))) => {
                name = provider;
                start = path;
            }
            Ok(None) => {
                return Err(format!(
                    "{} signs in with passwords only; enter your username and password",
                    address.as_str()
                ));
            }
            Err(e) => log::warn!("cannot ask {} about single sign-on: {e}", address.as_str()),
        }
    }
    let sign_in = BrowserSignIn::start(address, &start).map_err(|e| e.to_string())?;
    show(&name, &sign_in.url);
    if let Err(e) = open(&sign_in.url) {
        log::warn!("no browser opened: {e}");
    }
    sign_in.wait(wait)
}

/// What a server says of single sign-on: the provider's name, or `None`
/// when it signs in with passwords only (or cannot be asked).
pub fn provider_name(address: &str, trust: &crate::sync::Trust) -> Option<String> {
    let address = ServerAddress::parse(address).ok()?;
    let client = crate::sync::ApiClient::with_trust(
        address,
        trust,
        std::sync::Arc::new(timecard_core::clock::SystemClock),
    )
    .ok()?;
    client.sign_on().ok().flatten().map(|(name, _)| name)
}

/// PKCE's S256 challenge of `verifier`.
pub fn challenge(verifier: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 appendix B.
    #[test]
    fn the_challenge_is_rfc_7636s() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
