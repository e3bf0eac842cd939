//! Whether a stored PAT may be offered: dead past its known expiry without a request; otherwise
//! checked with Azure DevOps once per `azdo.validateInterval` (the request itself is the caller's,
//! [`crate::context::Context::validate`]), and kept when nobody can tell.

use std::time::Duration;

use crate::azure::connection_data::Verdict;
use crate::org::Target;
use crate::secret::Secret;
use crate::store::{Credential, Metadata, Store};
use crate::time::{now, timestamp};

/// Why a stored PAT is known to be dead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Dead(pub String);

/// `Err` when `credential` is known to be dead. `interval` is how long a check holds (`None`:
/// never check); `ask` makes the request when one is due. The outcome is recorded in the store.
pub fn check(
    target: &Target,
    credential: &Credential,
    interval: Option<Duration>,
    store: &dyn Store,
    ask: impl FnOnce(&Secret) -> Verdict,
) -> Result<(), Dead> {
    let now = now();
    let meta = &credential.meta;
    if let Some(t) = meta.expires_at.filter(|t| *t <= now) {
        return Err(Dead(format!("it expired at {}", timestamp(t))));
    }
    let Some(interval) = interval.map(|d| d.as_secs() as i64) else {
        tracing::debug!(%target, "checks are off (azdo.validateInterval=never)");
        return Ok(());
    };
    let last = meta.last_validated.max(meta.last_checked);
    if interval > 0 && last.is_some_and(|t| now >= t && now - t < interval) {
        tracing::debug!(%target, "checked recently; no request");
        return Ok(());
    }
    let mut updated = Metadata { last_checked: Some(now), ..meta.clone() };
    let result = match ask(&credential.pat) {
        Verdict::Valid { user } => {
            tracing::info!(%target, %user, "Azure DevOps accepted the stored PAT");
            updated.last_validated = Some(now);
            Ok(())
        }
        Verdict::Invalid { reason } => return Err(Dead(reason)),
        Verdict::Unknown { reason } => {
            eprintln!("git-credential-azdo: could not check the stored PAT for {target} ({reason}); using it");
            Ok(())
        }
    };
    if let Err(e) = store.set_metadata_if(target, &credential.pat, &updated) {
        tracing::warn!(%target, error = %e, "could not record the check");
    }
    result
}
