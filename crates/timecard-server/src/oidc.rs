//! I4: single sign-on with an OpenID Connect provider (Google, Microsoft
//! Entra ID, Keycloak, Authentik, …), the server as the relying party:
//! discovery, the authorization code with PKCE, `state` and `nonce`, the
//! ID token's signature and claims (issuer, audience, expiry, nonce)
//! checked by `openidconnect`, through the server's rustls HTTP client.
//! What a sign-in under way needs is kept in the store (any replica may
//! get the provider's answer), ten minutes, once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, TokenResponse as _,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{self, Role, Store};

/// Where the provider sends the browser back to.
pub const CALLBACK_PATH: &str = "/login/oidc/callback";
/// Where a sign-in starts.
pub const START_PATH: &str = "/login/oidc";
/// How long a sign-in may take at the provider.
pub const PENDING_MINUTES: i64 = 10;
/// How far an ID token's times may be off this server's clock.
pub const CLOCK_SKEW_SECS: i64 = 60;
/// The most of a provider's answer read.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// What `serve --oidc-…` says.
#[derive(Clone, Debug)]
pub struct SignOnOptions {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// How the button names the provider ("Google").
    pub name: String,
    /// The role of a user made at their first sign-in; `None`: nobody is
    /// made, an admin adds users first.
    pub new_users: Option<Role>,
    /// A claim whose values give the role (`groups`), through `role_map`.
    pub role_claim: Option<String>,
    /// Claim value → role, the first that matches wins.
    pub role_map: Vec<(String, Role)>,
    /// Whether a first sign-in whose e-mail the provider verified links
    /// the existing account with that e-mail.
    pub link_by_email: bool,
    /// Whether passwords still sign in (the form on `/login`, `POST
    /// /api/v1/session`).
    pub password_sign_in: bool,
}

impl SignOnOptions {
    /// Why these options cannot work, in words: the issuer must be
    /// `https://`, or `http://` on this machine (for tests).
    pub fn problem(&self) -> Option<String> {
        let issuer = self.issuer.trim_end_matches('/');
        let loopback = ["http://127.0.0.1", "http://[::1]", "http://localhost"]
            .iter()
            .any(|p| {
                issuer.strip_prefix(p).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with(':') || rest.starts_with('/')
                })
            });
        if !issuer.starts_with("https://") && !loopback {
            return Some(format!(
                "--oidc-issuer {issuer:?} must start with https:// (plain http only on this machine, for tests)"
            ));
        }
        if self.client_id.trim().is_empty() {
            return Some("--oidc-client-id is empty".into());
        }
        if self.client_secret.trim().is_empty() {
            return Some("the client secret file is empty".into());
        }
        None
    }
}

/// Why a sign-in with the provider did not work, in words for the page.
#[derive(Debug, thiserror::Error)]
pub enum SignOnError {
    #[error("{0}")]
    Provider(String),
    #[error("this sign-in has expired or was used already; start again")]
    UnknownState,
    #[error("this sign-in was started in another browser or tab; start again")]
    OtherBrowser,
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// What a sign-in under way keeps (stored as JSON under its state's hash).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    pub nonce: String,
    pub verifier: String,
    /// Set when the app asked (RFC 8252): where its loopback listener is,
    /// its PKCE challenge and its own state.
    #[serde(default)]
    pub app: Option<AppRequest>,
}

/// The app's part of a browser sign-in (I5).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppRequest {
    pub redirect: String,
    pub challenge: String,
    pub state: String,
}

/// Who the provider says signed in, its signature and claims checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub preferred_username: Option<String>,
    /// The values of the role claim (`--oidc-role-claim`), if any.
    pub roles: Vec<String>,
}

/// The provider this server signs people in with.
pub struct SignOn {
    pub options: SignOnOptions,
    redirect_url: String,
    http: reqwest::Client,
    /// Discovery, done at the first sign-in and kept an hour.
    discovered: tokio::sync::Mutex<Option<(Discovered, std::time::Instant)>>,
}

#[derive(Clone)]
struct Discovered {
    metadata: CoreProviderMetadata,
    end_session: Option<String>,
}

/// A failed request to the provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpFailure(String);

impl SignOn {
    /// `public_url`: where people reach this server (`--public-url`).
    pub fn new(options: SignOnOptions, public_url: &str) -> Result<SignOn, String> {
        if let Some(problem) = options.problem() {
            return Err(problem);
        }
        // No idle connections kept: a provider may close one just as the
        // token request (a POST, never retried) goes out on it.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Timecard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("no HTTP client for the identity provider: {e}"))?;
        Ok(SignOn {
            redirect_url: format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/')),
            options,
            http,
            discovered: tokio::sync::Mutex::new(None),
        })
    }

    /// The provider's discovery document, fetched once an hour at most.
    async fn discovered(&self) -> Result<Discovered, SignOnError> {
        let mut held = self.discovered.lock().await;
        if let Some((found, at)) = held.as_ref()
            && at.elapsed() < Duration::from_secs(3600)
        {
            return Ok(found.clone());
        }
        let issuer = IssuerUrl::new(self.options.issuer.clone())
            .map_err(|e| SignOnError::Provider(format!("the issuer is not a URL: {e}")))?;
        let http = self.http.clone();
        let client = move |request| send(http.clone(), request);
        let metadata = CoreProviderMetadata::discover_async(issuer, &client)
            .await
            .map_err(|e| {
                SignOnError::Provider(format!(
                    "cannot reach {} to sign in ({}); try again later",
                    self.options.name,
                    chain(&e)
                ))
            })?;
        // RP-initiated logout is not among the core fields.
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            self.options.issuer.trim_end_matches('/')
        );
        let end_session = match self.http.get(discovery).send().await {
            Ok(response) => response
                .bytes()
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|d| d["end_session_endpoint"].as_str().map(str::to_owned)),
            Err(_) => None,
        };
        let found = Discovered {
            metadata,
            end_session,
        };
        *held = Some((found.clone(), std::time::Instant::now()));
        Ok(found)
    }

    /// The provider's end-session address, if it advertises one.
    pub async fn end_session(&self) -> Option<String> {
        self.discovered().await.ok()?.end_session
    }

    fn client(&self, discovered: &Discovered) -> Result<Client, SignOnError> {
        let redirect = RedirectUrl::new(self.redirect_url.clone())
            .map_err(|e| SignOnError::Provider(format!("the callback address: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            discovered.metadata.clone(),
            ClientId::new(self.options.client_id.clone()),
            Some(ClientSecret::new(self.options.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: the provider's address to send the browser to, and
    /// the `state` (also for the browser's cookie).
    pub async fn begin(
        &self,
        store: &std::sync::Arc<dyn Store>,
        app: Option<AppRequest>,
        now: DateTime<Utc>,
    ) -> Result<(String, String), SignOnError> {
        let discovered = self.discovered().await?;
        let client = self.client(&discovered)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if let Some(claim) = &self.options.role_claim
            && discovered
                .metadata
                .scopes_supported()
                .is_some_and(|s| s.iter().any(|s| s.as_str() == claim))
        {
            request = request.add_scope(Scope::new(claim.clone()));
        }
        let (url, state, nonce) = request.url();
        let pending = Pending {
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            app,
        };
        let data = serde_json::to_string(&pending).expect("pending sign-ins serialise");
        let key = state_key(state.secret());
        let expires = now + chrono::Duration::minutes(PENDING_MINUTES);
        store::blocking(store, move |s| {
            s.put_pending_sign_in(&key, &data, expires, now)
        })
        .await?;
        Ok((url.to_string(), state.secret().clone()))
    }

    /// Finishes a sign-in the provider sent back: the pending sign-in of
    /// `state` (once), the code exchanged with its PKCE verifier, the ID
    /// token checked. `cookie_state`: the state the browser's cookie holds.
    pub async fn finish(
        &self,
        store: &std::sync::Arc<dyn Store>,
        code: &str,
        state: &str,
        cookie_state: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(Identity, Pending), SignOnError> {
        let key = state_key(state);
        let data = store::blocking(store, move |s| s.take_pending_sign_in(&key, now))
            .await?
            .ok_or(SignOnError::UnknownState)?;
        let pending: Pending =
            serde_json::from_str(&data).map_err(|_| SignOnError::UnknownState)?;
        // The browser that started a web sign-in finishes it; the app's
        // sign-in is bound by its own PKCE instead.
        if pending.app.is_none()
            && cookie_state.is_none_or(|c| Sha256::digest(c) != Sha256::digest(state))
        {
            return Err(SignOnError::OtherBrowser);
        }
        let discovered = self.discovered().await?;
        let client = self.client(&discovered)?;
        let http = self.http.clone();
        let send_with = move |request| send(http.clone(), request);
        let name = &self.options.name;
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SignOnError::Provider(format!("{name} has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&send_with)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => SignOnError::Refused(format!(
                    "{name} refused the sign-in code ({}{}); it may have been used already or expired — start again",
                    r.error(),
                    r.error_description().map(|d| format!(": {d}")).unwrap_or_default()
                )),
                other => SignOnError::Provider(format!(
                    "{name} did not answer the sign-in ({})",
                    chain(&other)
                )),
            })?;
        let _ = answer.access_token();
        let token = answer.id_token().ok_or_else(|| {
            SignOnError::Refused(format!("{name} sent no ID token; sign-in refused"))
        })?;
        let verifier = client
            .id_token_verifier()
            .set_time_fn(|| Utc::now() - chrono::Duration::seconds(CLOCK_SKEW_SECS));
        let claims: &CoreIdTokenClaims = token
            .claims(&verifier, &Nonce::new(pending.nonce.clone()))
            .map_err(|e| SignOnError::Refused(claims_words(name, &e)))?;
        // The claims beyond the standard ones (the role claim) from the
        // token just checked.
        let extra = payload(&token.to_string());
        let roles = self
            .options
            .role_claim
            .as_ref()
            .map(|claim| match &extra[claim] {
                serde_json::Value::Array(items) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                serde_json::Value::String(one) => vec![one.clone()],
                _ => Vec::new(),
            })
            .unwrap_or_default();
        let identity = Identity {
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            preferred_username: claims.preferred_username().map(|u| u.as_str().to_owned()),
            roles,
        };
        Ok((identity, pending))
    }
}

type Client = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// What is stored for a state: its SHA-256.
fn state_key(state: &str) -> String {
    format!("oidc:{}", hex::encode(Sha256::digest(state.as_bytes())))
}

/// A JWT's payload as JSON (`Null` if it does not read).
fn payload(jwt: &str) -> serde_json::Value {
    use base64::Engine as _;
    jwt.split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// An ID token's refusal in words.
fn claims_words(name: &str, e: &ClaimsVerificationError) -> String {
    match e {
        ClaimsVerificationError::InvalidAudience(_) => format!(
            "the ID token from {name} is meant for another application (its audience is not this server's client id); sign-in refused"
        ),
        ClaimsVerificationError::Expired(_) => format!(
            "the ID token from {name} has expired; sign-in refused (start again, and check this server's clock)"
        ),
        ClaimsVerificationError::InvalidNonce(_) => format!(
            "the ID token from {name} does not belong to this sign-in (its nonce differs); sign-in refused"
        ),
        ClaimsVerificationError::InvalidIssuer(_) => {
            format!("the ID token did not come from {name} (its issuer differs); sign-in refused")
        }
        ClaimsVerificationError::SignatureVerification(_) => {
            format!("the ID token's signature does not verify with {name}'s keys; sign-in refused")
        }
        other => format!("the ID token from {name} was refused: {other}"),
    }
}

/// An error with its causes, in one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    text
}

/// One request to the provider through the server's client.
async fn send(
    http: reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpFailure> {
    let (parts, body) = request.into_parts();
    let mut builder = http.request(parts.method, parts.uri.to_string()).body(body);
    // reqwest writes the length and host itself: a second Content-Length
    // is a request a server must refuse.
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_LENGTH && name != axum::http::header::HOST {
            builder = builder.header(name, value);
        }
    }
    let mut response = builder.send().await.map_err(|e| HttpFailure(chain(&e)))?;
    let mut answer = axum::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| HttpFailure(chain(&e)))? {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(HttpFailure("the provider's answer is too large".into()));
        }
        bytes.extend_from_slice(&chunk);
    }
    answer.body(bytes).map_err(|e| HttpFailure(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(issuer: &str) -> SignOnOptions {
        SignOnOptions {
            issuer: issuer.into(),
            client_id: "timecard".into(),
            client_secret: "s".into(),
            name: "Test".into(),
            new_users: None,
            role_claim: None,
            role_map: Vec::new(),
            link_by_email: false,
            password_sign_in: true,
        }
    }

    // I4: a plain-http issuer only on this machine.
    #[test]
    fn issuers_are_https_except_on_loopback() {
        assert_eq!(options("https://accounts.google.com").problem(), None);
        assert_eq!(options("http://127.0.0.1:4000").problem(), None);
        assert_eq!(options("http://localhost:4000/realms/x").problem(), None);
        assert!(options("http://idp.example.com").problem().is_some());
        assert!(options("http://127.0.0.1.evil.example").problem().is_some());
        assert!(options("ftp://x").problem().is_some());
    }

    #[test]
    fn a_tokens_payload_reads_and_junk_does_not() {
        assert_eq!(payload("a.eyJncm91cHMiOlsieCJdfQ.c")["groups"][0], "x");
        assert_eq!(payload("junk"), serde_json::Value::Null);
    }
}
