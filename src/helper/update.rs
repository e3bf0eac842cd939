//! `store` and `erase`: what git reports after using a credential. A PAT git confirms is stored
//! (or its check recorded); one it rejects is erased, and revoked when it was minted here. An
//! access token is never a PAT: it is neither stored nor does its rejection erase a stored PAT;
//! its rejection under continuous access evaluation (a claims challenge among git's `wwwauth[]`)
//! leaves the challenge's claims pending for the next `get` ([`auth::cae`]).

use crate::auth;
use crate::identity;
use crate::jwt::looks_like_jwt;
use crate::org::Target;
use crate::protocol::Request;
use crate::run::Run;
use crate::store::{Credential, Metadata, Provenance};
use crate::time::now;

use super::Error;

pub(super) fn store(run: &Run, request: &Request, target: &Target) -> Result<(), Error> {
    let store = run.store.as_ref();
    if request.ephemeral {
        tracing::info!(%target, "an ephemeral or pre-encoded credential (an access token); never stored");
        return Ok(());
    }
    let Some(password) = &request.password else {
        tracing::info!(%target, "store without a password; ignored");
        return Ok(());
    };
    if run.settings.env_pat.as_ref() == Some(password) {
        tracing::info!(%target, "the PAT came from the environment; not storing it");
        return Ok(());
    }
    if looks_like_jwt(password.expose()) || chosen_identity(run, target)? {
        tracing::info!(%target, "an Entra access token, not a PAT; not stored as one");
        return Ok(());
    }
    let now = now();
    if let Some(existing) = store.get(target)? {
        if &existing.pat == password {
            // git just used it successfully: as good as a check. Recorded at most once a minute,
            // so bursts of git commands do not all write.
            let stale = existing.meta.last_validated.is_none_or(|t| now - t >= 60);
            let new_expiry =
                request.password_expiry_utc.is_some() && request.password_expiry_utc != existing.meta.expires_at;
            if stale || new_expiry {
                let meta = Metadata {
                    expires_at: request.password_expiry_utc.or(existing.meta.expires_at),
                    last_validated: Some(now),
                    ..existing.meta
                };
                store.set_metadata_if(target, password, &meta)?;
            }
            tracing::info!(%target, "already stored");
            return Ok(());
        }
        // A minted PAT is replaced only by minting (or renewal): a different password reported
        // by git is an older one still in flight, perhaps one renewal just revoked.
        if existing.meta.provenance == Provenance::Minted {
            tracing::info!(%target, "keeping the minted PAT; not replacing it with the one git reported");
            return Ok(());
        }
    }
    let meta = Metadata {
        provenance: Provenance::Git,
        stored_at: now,
        username: request.username.clone(),
        expires_at: request.password_expiry_utc,
        last_validated: Some(now),
        ..Metadata::default()
    };
    store.put(target, &Credential { pat: password.clone(), meta })?;
    tracing::info!(%target, store = store.kind(), "stored the PAT git confirmed");
    Ok(())
}

pub(super) fn erase(run: &Run, request: &Request, target: &Target) -> Result<(), Error> {
    let store = run.store.as_ref();
    // A refused access token (it comes with no password) says nothing about a stored PAT.
    if chosen_identity(run, target)? {
        tracing::info!(%target, "erase of a build identity's token; nothing is stored");
        return Ok(());
    }
    if request.ephemeral {
        tracing::info!(%target, "erase of an access token; the stored PAT is left alone");
        auth::tokens::forget_access_token(run, target, None);
        claims_challenge(run, request, target);
        return Ok(());
    }
    // A rejected access token handed out as a password (git without the authtype capability).
    if let Some(password) = request.password.as_ref().filter(|p| looks_like_jwt(p.expose())) {
        if !claims_challenge(run, request, target) {
            auth::tokens::forget_access_token(run, target, Some(password));
        }
    }
    let Some(existing) = store.get(target)? else {
        tracing::info!(%target, "nothing stored to erase");
        return Ok(());
    };
    match &request.password {
        // As `git credential-store`: an empty password matches nothing stored.
        None if request.empty_password => {
            tracing::info!(%target, "erase with an empty password; keeping the stored PAT");
        }
        // A pre-encoded credential (`authtype`/`credential`) is never the stored PAT, whatever
        // `ephemeral` said after it.
        None if request.pre_encoded => {
            tracing::info!(%target, "erase of a pre-encoded credential; the stored PAT is left alone");
        }
        Some(password) if *password != existing.pat => {
            tracing::info!(%target, "erase for a different PAT; keeping the stored one");
        }
        _ => {
            auth::revoke_rejected(run, target, &existing);
            store.delete_if(target, &existing.pat)?;
            tracing::info!(%target, store = store.kind(), "erased the stored PAT");
        }
    }
    Ok(())
}

/// A rejected access token came with a continuous access evaluation challenge: the session's
/// tokens are revoked, so whichever access token is kept is forgotten, and the challenge's claims
/// are remembered for the next `get` to sign in with. Whether there was one.
fn claims_challenge(run: &Run, request: &Request, target: &Target) -> bool {
    let Some(claims) = auth::cae::from_challenges(&request.wwwauth) else {
        return false;
    };
    auth::tokens::forget_access_token(run, target, None);
    auth::cae::remember(run, target, &claims);
    run.messages.say(format!(
        "Azure DevOps revoked the access token for {target} (continuous access evaluation); \
         run the git command again to sign in anew"
    ));
    true
}

/// Whether a build identity serves `target` (its token is what git reports then, never a PAT).
fn chosen_identity(run: &Run, target: &Target) -> Result<bool, Error> {
    let identities = identity::settings(run, Some(target))?;
    Ok(identity::choose(&run.settings, &identities, target).is_some())
}
