//! Renewal: a minted PAT is replaced before it expires, silently only (never a prompt or a device
//! code on the answer path). [`due`] decides; [`renew`] signs in silently and mints the new PAT,
//! and says what came of it: the helper stores the new one (under the per-org lock, so parallel
//! git processes renew once), then revokes the old one. The old PAT stays in use on any failure,
//! and a failed attempt is not repeated within the hour.

use crate::config::Settings;
use crate::org::Target;
use crate::run::Run;
use crate::store::Credential;

use super::Session;

/// Whether `current` should be renewed at `now`: minting allowed, and less than
/// `azdo.renewBefore` left, or less than half its lifetime when the organization keeps PATs
/// shorter than that (else every git command would renew); not within the hour after a failed
/// attempt.
pub fn due(settings: &Settings, target: &Target, current: &Credential, now: i64) -> bool {
    let Some(expires) = current.meta.expires_at else { return false };
    let lifetime = (expires - current.meta.stored_at).max(0);
    let window = (i64::from(settings.renew_before_days) * 86_400).min(lifetime / 2);
    settings.may_mint(target) && expires - now <= window && current.meta.renew_attempted.is_none_or(|t| now - t >= 3600)
}

/// What came of a renewal (returned once per renewal: its size does not matter).
#[allow(clippy::large_enum_variant)]
pub enum Renewal {
    /// A new PAT, not stored yet; the session revokes the one it replaces once it is.
    Renewed { fresh: Credential, session: Session },
    /// It failed (no silent sign-in, the mint refused, a PAT that would expire sooner): keep the
    /// current one, and record the attempt.
    Failed,
}

/// Mint the replacement of `current` with a silent sign-in. Call it under the org lock, when
/// [`due`].
pub fn renew(run: &Run, target: &Target, current: &Credential) -> Renewal {
    if super::policy::refused(run, target).is_some() {
        tracing::info!(%target, "the organization's policy refused a PAT lately; keeping the current one");
        return Renewal::Failed;
    }
    let Ok(client) = run.http(&run.settings.vssps_url) else { return Renewal::Failed };
    let Some(tokens) = super::silent_token(run, target, &client) else {
        tracing::info!(%target, "renewal due, but no sign-in without asking; keeping the current PAT");
        return Renewal::Failed;
    };
    let session = Session { client, tokens };
    let fresh = match super::mint::mint_pat(run, target, &session) {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(%target, error = %e, "renewal failed; keeping the current PAT");
            return Renewal::Failed;
        }
    };
    if fresh.meta.expires_at < current.meta.expires_at {
        tracing::info!(%target, "the new PAT would expire sooner; keeping the current one");
        if let Some(id) = &fresh.meta.authorization_id {
            let _ = session.revoke(run, target, id);
        }
        return Renewal::Failed;
    }
    Renewal::Renewed { fresh, session }
}
