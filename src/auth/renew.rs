//! Renewal: a minted PAT is replaced before it expires, silently only (never a prompt or a device
//! code on the answer path), under the per-org lock so parallel git processes renew once. The old
//! PAT stays in use on any failure, and a failed attempt is not repeated within the hour.

use std::time::Duration;

use crate::azure::pats;
use crate::context::Context;
use crate::org::Target;
use crate::store::{self, Credential, Metadata};
use crate::time::now;

/// Whether `current` should be renewed now: minting allowed, and less than `azdo.renewBefore`
/// left, or less than half its lifetime when the organization keeps PATs shorter than that (else
/// every git command would renew).
pub fn due(ctx: &Context, target: &Target, current: &Credential) -> bool {
    let Some(expires) = current.meta.expires_at else { return false };
    let lifetime = (expires - current.meta.stored_at).max(0);
    let window = (i64::from(ctx.settings.renew_before_days) * 86_400).min(lifetime / 2);
    ctx.settings.may_mint(target)
        && expires - now() <= window
        && current.meta.renew_attempted.is_none_or(|t| now() - t >= 3600)
}

/// Renew `current` if due, under the org lock: after the lock, whatever is stored is used
/// (another process may have renewed it already).
pub fn renew(ctx: &Context, target: &Target, current: Credential) -> Result<Credential, store::Error> {
    if !due(ctx, target, &current) {
        return Ok(current);
    }
    let Some(_lock) = super::org_lock(ctx, target, Duration::from_secs(30)) else {
        return Ok(current);
    };
    match ctx.store.get(target)? {
        Some(stored) if stored.pat == current.pat => Ok(renew_if_due(ctx, target, &stored).unwrap_or(stored)),
        Some(stored) => Ok(stored),
        None => Ok(current),
    }
}

/// Replace `current` when [`due`]: mint, store, then revoke the old one. On any failure the old
/// PAT stays in use. Call it under the org lock.
pub fn renew_if_due(ctx: &Context, target: &Target, current: &Credential) -> Option<Credential> {
    if !due(ctx, target, current) {
        return None;
    }
    let store = ctx.store.as_ref();
    // A failed attempt is recorded, so the git commands that follow do not each pay for one.
    let failed = || {
        let meta = Metadata { renew_attempted: Some(now()), ..current.meta.clone() };
        let _ = store.set_metadata_if(target, &current.pat, &meta);
        None
    };
    let Ok(client) = ctx.http(&ctx.settings.vssps_url) else { return failed() };
    let Some(tokens) = super::silent_token(ctx, target, &client) else {
        tracing::info!(%target, "renewal due, but no sign-in without asking; keeping the current PAT");
        return failed();
    };
    let revoke = |id: &str| pats::revoke(&client, &ctx.settings.vssps_url, target.name(), &tokens.access_token, id);
    let fresh = match super::mint_pat(ctx, target, &client, &tokens) {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(%target, error = %e, "renewal failed; keeping the current PAT");
            return failed();
        }
    };
    if fresh.meta.expires_at < current.meta.expires_at {
        tracing::info!(%target, "the new PAT would expire sooner; keeping the current one");
        if let Some(id) = &fresh.meta.authorization_id {
            let _ = revoke(id);
        }
        return failed();
    }
    if let Err(e) = store.put(target, &fresh) {
        tracing::info!(%target, error = %e, "could not store the renewed PAT; keeping the current one");
        return None;
    }
    tracing::info!(%target, "renewed the PAT before it expires");
    if let Some(id) = &current.meta.authorization_id {
        match revoke(id) {
            Ok(()) => tracing::info!(%target, authorization_id = %id, "revoked the replaced PAT"),
            Err(e) => tracing::info!(%target, error = %e, "could not revoke the replaced PAT"),
        }
    }
    Some(fresh)
}
