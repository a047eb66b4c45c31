//! Personal API tokens for integrations (I1): what the store keeps of
//! them. Like a session token, only the token's SHA-256 is stored; the
//! token itself is shown once, when it is made.

use chrono::{DateTime, Utc};

use super::rows::{Columns, from_ts};

/// What a token may do.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Read the diary, contracts and screenshots; change nothing.
    Read,
    /// Everything the user may do through the API.
    ReadWrite,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::ReadWrite => "read-write",
        }
    }

    /// Reads a stored scope; anything unknown is the narrower.
    pub fn from_stored(text: &str) -> Scope {
        match text {
            "read-write" => Scope::ReadWrite,
            _ => Scope::Read,
        }
    }
}

/// A token to store.
#[derive(Clone, Debug)]
pub struct NewApiToken {
    pub user_id: i64,
    pub name: String,
    /// The SHA-256 of the token, hex.
    pub hash: String,
    pub scope: Scope,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A token as its owner and the admin see it: never the token, nor its
/// hash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub scope: Scope,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When it was last used, to the minute.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

/// The columns [`api_token`] reads, in order (`t` the tokens, `u` the users).
pub(super) const API_TOKEN_COLUMNS: &str =
    "t.id, u.login, t.name, t.scope, t.created_at, t.expires_at, t.last_used_at";

pub(super) fn api_token<R: Columns>(row: &R) -> Result<ApiToken, R::Error> {
    Ok(ApiToken {
        id: row.int(0)?.unwrap_or_default(),
        login: row.text(1)?.unwrap_or_default(),
        name: row.text(2)?.unwrap_or_default(),
        scope: Scope::from_stored(&row.text(3)?.unwrap_or_default()),
        created_at: from_ts(row.int(4)?.unwrap_or_default()),
        expires_at: from_ts(row.int(5)?.unwrap_or_default()),
        last_used_at: row.int(6)?.map(from_ts),
    })
}

/// A use is written down at most once a minute per token: reading with a
/// token costs no write per request.
pub const LAST_USED_STEP_SECS: i64 = 60;
