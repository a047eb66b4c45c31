//! What every handler shares: the store, the server's rules and its clock.

use std::sync::Arc;

use timecard_core::clock::Clock;
use timecard_core::protocol::ServerConfig;

use super::error::ApiError;
use crate::store::{self, Store, StoreError};

/// What every handler shares.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: ServerConfig,
    pub clock: Arc<dyn Clock>,
    /// How long a client has to review a week after it ends.
    pub review_secs: i64,
    /// What the server offers for download (the data folder's `releases/`).
    pub releases: crate::releases::Catalog,
    /// Whether mail is sent, where links point, the sender's wake-up (M1).
    pub mail: crate::mail::MailState,
    /// Wakes the webhooks' delivery task after an event was queued (I2).
    pub webhooks: crate::webhooks::WebhookState,
    /// The identity provider people may sign in with (I4), if any.
    pub sign_on: Option<Arc<crate::oidc::SignOn>>,
}

pub type Shared = Arc<AppState>;

/// Runs a store call on a blocking thread; its error as the API's.
pub async fn blocking<T: Send + 'static>(
    state: &Shared,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    store::blocking(&state.store, f)
        .await
        .map_err(ApiError::from)
}
