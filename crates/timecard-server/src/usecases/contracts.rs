//! Adding and changing contracts (C1, W3, R2): from the admin commands and
//! the admin pages alike, with the same checks and the same words.

use chrono::{DateTime, Utc};

use super::Refusal;
use crate::rules::{self, ContractTerms, Rate, StoredContract};
use crate::store::{Role, Store, StoreError};
use timecard_core::domain::{Contract, ContractKind, ContractStatus};

/// What to change on a contract; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContractChange {
    /// A new title.
    pub title: Option<String>,
    /// A new name of the client, as the freelancer sees it.
    pub client_name: Option<String>,
    /// Pause or end it (time before the change still counts, C5), or make
    /// it active again.
    pub status: Option<ContractStatus>,
    /// A new weekly limit (`Some(None)` lifts it), applied as W3 says.
    pub weekly_limit_secs: Option<Option<i64>>,
    /// The client's account by login (`Some(None)` removes it).
    pub client_user: Option<Option<String>>,
    /// The hourly rate in cents (`Some(None)` removes it).
    pub rate_cents: Option<Option<i64>>,
    /// The rate's currency, checked ([`rules::parse_currency`]).
    pub currency: Option<String>,
    /// Whether the freelancer may add time by hand.
    pub manual_time: Option<bool>,
}

/// Adds `contract` for the freelancer `login` with `terms` applied; the
/// contract as stored.
pub fn add(
    store: &dyn Store,
    login: &str,
    contract: Contract,
    terms: ContractChange,
    now: DateTime<Utc>,
) -> Result<StoredContract, Refusal> {
    if contract.title.trim().is_empty() {
        return Err(Refusal::Invalid("give the contract a title".into()));
    }
    if let Some(problem) = rules::contract_text_problem(&contract) {
        return Err(Refusal::Invalid(problem));
    }
    if contract.kind == ContractKind::FixedPrice && contract.weekly_limit_secs.is_some() {
        return Err(Refusal::Invalid(
            "fixed-price contracts have no weekly limit".into(),
        ));
    }
    // Checked before anything is stored: a contract whose terms are refused
    // is not added at all.
    let freelancer = store.find_user(login)?.ok_or_else(|| no_user(login))?;
    let mut would_be = StoredContract {
        contract: contract.clone(),
        user_id: freelancer.id,
        status_changed_at: None,
        terms: ContractTerms::default(),
    };
    apply_terms(store, &mut would_be, &terms)?;
    store.add_contract(login, &contract, now)?;
    let mut stored = store.contract(&contract.id)?.ok_or_else(|| {
        Refusal::Store(StoreError::Internal(
            "the contract just added is gone".into(),
        ))
    })?;
    if would_be.terms != stored.terms {
        stored.terms = would_be.terms;
        store.save_contract(&stored)?;
    }
    Ok(stored)
}

/// Changes the contract `id` as `change` says at `now`; the contract as
/// stored.
pub fn change(
    store: &dyn Store,
    id: &str,
    change: &ContractChange,
    now: DateTime<Utc>,
) -> Result<StoredContract, Refusal> {
    let mut stored = store
        .contract(id)?
        .ok_or_else(|| Refusal::NotFound(format!("no contract with id {id:?}")))?;
    if let Some(title) = &change.title {
        if title.trim().is_empty() {
            return Err(Refusal::Invalid("give the contract a title".into()));
        }
        stored.contract.title = title.trim().to_owned();
    }
    if let Some(name) = &change.client_name {
        stored.contract.client = name.trim().to_owned();
    }
    if let Some(problem) = rules::contract_text_problem(&stored.contract) {
        return Err(Refusal::Invalid(problem));
    }
    if let Some(status) = change.status
        && status != stored.contract.status
    {
        stored.contract.status = status;
        stored.status_changed_at = Some(now);
    }
    if let Some(limit) = change.weekly_limit_secs {
        if limit.is_some() && stored.contract.kind == ContractKind::FixedPrice {
            return Err(Refusal::Invalid(
                "fixed-price contracts have no weekly limit".into(),
            ));
        }
        rules::change_limit(&mut stored.contract, limit, now);
    }
    apply_terms(store, &mut stored, change)?;
    store.save_contract(&stored)?;
    Ok(stored)
}

/// The terms part of `change` on `stored`, checked (R2).
fn apply_terms(
    store: &dyn Store,
    stored: &mut StoredContract,
    change: &ContractChange,
) -> Result<(), Refusal> {
    let terms = &mut stored.terms;
    if let Some(client) = &change.client_user {
        terms.client_user_id = match client.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(login) => {
                let user = store.find_user(login)?.ok_or_else(|| no_user(login))?;
                if user.role != Role::Client {
                    return Err(Refusal::Invalid(format!(
                        "{login} is a {} account; the client of a contract needs a client account \
                         (`user set-role {login} client`)",
                        user.role.as_str()
                    )));
                }
                Some(user.id)
            }
        };
    }
    let currency = change
        .currency
        .as_deref()
        .map(rules::parse_currency)
        .transpose()
        .map_err(Refusal::Invalid)?;
    match change.rate_cents {
        Some(None) => terms.rate = None,
        Some(Some(cents)) => {
            let currency = currency
                .or_else(|| terms.rate.as_ref().map(|r| r.currency.clone()))
                .ok_or_else(|| {
                    Refusal::Invalid(
                        "a rate needs a currency: three letters such as USD or EUR".into(),
                    )
                })?;
            terms.rate = Some(Rate { cents, currency });
        }
        None => {
            if let Some(currency) = currency {
                match &mut terms.rate {
                    Some(rate) => rate.currency = currency,
                    None => {
                        return Err(Refusal::Invalid("a currency goes with a rate".into()));
                    }
                }
            }
        }
    }
    if let Some(manual) = change.manual_time {
        terms.manual_time = manual;
    }
    match rules::terms_problem(stored) {
        Some(problem) => Err(Refusal::Invalid(problem)),
        None => Ok(()),
    }
}

fn no_user(login: &str) -> Refusal {
    Refusal::NotFound(format!(
        "no user called {login:?}; add one with `timecard-server user add`"
    ))
}
