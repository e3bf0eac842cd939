//! What auth keeps of its own in the store, beside the PATs: refresh tokens (per authority,
//! tenant, client and account, so one for a test authority can never be sent to another) and the
//! access token last handed to git (per authority, client, organization URL and account, reused
//! until shortly before it expires). Every write of these entries is here.

use super::cae::ClaimsRequest;
use crate::azure::entra::{self, Tokens};
use crate::net::Client;
use crate::org::Target;
use crate::run::Run;
use crate::secret::Secret;
use crate::time::now;

/// An access token handed to git is used again until this many seconds before it expires.
const ACCESS_TOKEN_MARGIN: i64 = 300;

/// Where the refresh token for `target` at `tenant` is kept.
fn refresh_key(run: &Run, target: &Target, tenant: &str) -> String {
    let base = format!("refresh-token:{}:{tenant}:{}", run.settings.authority, run.settings.client_id);
    match target.account() {
        Some(account) => format!("{base}:{account}"),
        None => base,
    }
}

/// Where the access token handed to git for `target` is kept.
fn access_key(run: &Run, target: &Target) -> String {
    let base = format!("access-token:{}:{}:{}", run.settings.authority, run.settings.client_id, target.url());
    match target.account() {
        Some(account) => format!("{base}:{account}"),
        None => base,
    }
}

/// Keep the refresh token a sign-in brought, for later silent use.
pub fn keep_refresh_token(run: &Run, target: &Target, tenant: &str, tokens: &Tokens) {
    if let Some(rt) = &tokens.refresh_token {
        if let Err(e) = run.store.put_token(&refresh_key(run, target, tenant), rt) {
            run.messages.say(format!("could not keep the sign-in for next time: {e}"));
        }
    }
}

/// An access token from the stored refresh token, redeemed with the `claims` request parameter,
/// which is rotated when the reply brings a new one, and forgotten when Entra says it no longer
/// works. `None` when there is none or it failed.
pub fn refreshed(run: &Run, target: &Target, client: &Client, tenant: &str, claims: &ClaimsRequest) -> Option<Tokens> {
    let settings = &run.settings;
    let store = run.store.as_ref();
    let key = refresh_key(run, target, tenant);
    let rt = match store.get_token(&key) {
        Ok(Some(rt)) => rt,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the stored sign-in");
            return None;
        }
    };
    match entra::refresh(client, &settings.authority, tenant, &settings.client_id, &rt, claims.as_str()) {
        Ok(fresh) => {
            if let Some(new_rt) = &fresh.refresh_token {
                if let Err(e) = store.put_token(&key, new_rt) {
                    tracing::warn!(error = %e, "could not keep the rotated refresh token");
                }
            }
            tracing::info!(%target, "access token from the stored refresh token");
            Some(fresh)
        }
        Err(entra::Error::Refused(reason))
            if ["invalid_grant", "interaction_required", "invalid_client", "unauthorized_client"]
                .iter()
                .any(|code| reason.starts_with(code)) =>
        {
            tracing::info!(%target, %reason, "the stored refresh token no longer works; forgetting it");
            let _ = store.delete_token(&key);
            None
        }
        // An outage or an odd reply says nothing about the token: keep it for next time.
        Err(e) => {
            tracing::info!(%target, error = %e, "refresh failed; keeping the refresh token");
            None
        }
    }
}

/// The kept access token for `target`, while it has more than [`ACCESS_TOKEN_MARGIN`] to live:
/// a hot `get` in oauth mode (or after a refused mint) then makes no request. Stored as
/// `EXPIRY TOKEN` (Unix seconds); anything else is no token.
pub fn kept_access_token(run: &Run, target: &Target) -> Option<Tokens> {
    let kept = match run.store.get_token(&access_key(run, target)) {
        Ok(kept) => kept?,
        Err(e) => {
            tracing::info!(%target, error = %e, "cannot read the kept access token");
            return None;
        }
    };
    let (expiry, token) = kept.expose().split_once(' ')?;
    let expires_at: i64 = expiry.parse().ok()?;
    if expires_at - ACCESS_TOKEN_MARGIN <= now() || token.is_empty() {
        tracing::debug!(%target, "the kept access token is about to expire");
        return None;
    }
    tracing::info!(%target, "the kept access token; no request");
    Some(Tokens { access_token: Secret::from(token.to_owned()), refresh_token: None, expires_at })
}

/// Keep the access token handed to git for `target` until shortly before it expires.
pub fn keep_access_token(run: &Run, target: &Target, tokens: &Tokens) {
    if tokens.expires_at - ACCESS_TOKEN_MARGIN <= now() {
        return;
    }
    let value = Secret::from(format!("{} {}", tokens.expires_at, tokens.access_token.expose()));
    if let Err(e) = run.store.put_token(&access_key(run, target), &value) {
        tracing::info!(%target, error = %e, "could not keep the access token");
    }
}

/// git rejected an access token for `target` (`erase`): forget the kept one when it is that
/// token, or when git does not say which (a Bearer credential comes back without it); `None`
/// (also `logout`): whichever is kept. Whether one was forgotten.
pub fn forget_access_token(run: &Run, target: &Target, rejected: Option<&Secret>) -> bool {
    let key = access_key(run, target);
    let matches = match rejected {
        None => true,
        Some(rejected) => run
            .store
            .get_token(&key)
            .ok()
            .flatten()
            .and_then(|kept| kept.expose().split_once(' ').map(|(_, t)| Secret::new(t) == *rejected))
            .unwrap_or(false),
    };
    let forgot = matches && run.store.delete_token(&key).unwrap_or(false);
    if forgot {
        tracing::info!(%target, "forgot the kept access token");
    }
    forgot
}
