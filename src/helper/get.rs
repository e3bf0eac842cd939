//! `get`: a pipeline of sources tried in order. A build identity first (authoritative: when it
//! fails, git is told to stop); then the `AZURE_DEVOPS_EXT_PAT` variable; then the stored PAT,
//! checked against Azure DevOps when a check is due and renewed when due; then a new one, minted
//! after an Entra sign-in, or the access token itself; then a PAT typed at a prompt. A dead PAT is
//! removed and replaced within the same `get`, so git's command succeeds instead of failing once.
//! Nothing to offer means no output.

use std::io::Write;
use std::time::Duration;

use crate::auth::{self, renew, Obtained};
use crate::check::{self, Judged, Plan};
use crate::config;
use crate::identity::{self, Identity, IdentitySettings};
use crate::org::Target;
use crate::protocol::{self, Answer, Request};
use crate::run::Run;
use crate::secret::Secret;
use crate::store::{Credential, Metadata};
use crate::time::now;

use super::{org_lock, Error};

/// What a `get` can have at hand: without a request to anyone, a lock, a prompt or a store write.
/// Returned once per `get`: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub(super) enum Hand {
    /// An answer for git now: the environment's PAT, or a stored PAT with no check or renewal due.
    Answer(Answer),
    /// A build identity answers (authoritative; its token may need a request).
    Identity(IdentitySettings, Identity),
    /// What the store holds when it cannot be offered as it is (a check or renewal due, expired,
    /// unwritable), or nothing: the rest of [`get`] decides.
    Stored(Option<Credential>),
}

/// The first steps of [`get`], the ones that need nothing but reading: the build identity chosen,
/// the environment's PAT, the stored PAT when it may be offered as it is. The front binary answers
/// git from this alone and hands everything else to the full one.
pub(super) fn at_hand(run: &Run, request: &Request, target: &Target) -> Result<Hand, Error> {
    let settings = &run.settings;
    let identities = identity::settings(run, Some(target))?;
    if let Some(identity) = identity::choose(settings, &identities, target) {
        return Ok(Hand::Identity(identities, identity));
    }
    // The Azure CLI's variable holds a PAT of the real service: never for a Server collection or
    // another `azdo.url` origin.
    if let Some(pat) = settings.env_pat.as_ref().filter(|_| target.is_real_service()) {
        tracing::info!(%target, source = config::PAT_ENV, "answering from the environment");
        return Ok(Hand::Answer(answer(request, target, pat.clone(), None, None)));
    }
    let stored = run.store.get(target)?;
    let now = now();
    let offer = stored.as_ref().is_some_and(|c| {
        protocol::is_writable(&c.pat)
            && check::plan(&c.meta, settings.validate_interval, now) == Plan::Offer
            && !renew::due(settings, target, c, now)
    });
    match stored {
        Some(Credential { pat, meta }) if offer => {
            tracing::info!(%target, store = run.store.kind(), "answering with the stored PAT");
            Ok(Hand::Answer(answer(request, target, pat, meta.expires_at, meta.username.as_deref())))
        }
        stored => Ok(Hand::Stored(stored)),
    }
}

/// git's answer: the URL's user name, else the stored one, else the target's default.
fn answer(
    request: &Request,
    target: &Target,
    password: Secret,
    expiry: Option<i64>,
    stored_user: Option<&str>,
) -> Answer {
    Answer {
        username: request
            .username
            .clone()
            .or(stored_user.map(str::to_owned))
            .unwrap_or_else(|| target.default_username().to_owned()),
        password,
        password_expiry_utc: expiry,
    }
}

pub(super) fn get(run: &Run, request: &Request, target: &Target, out: &mut impl Write) -> Result<(), Error> {
    let (settings, store) = (&run.settings, run.store.as_ref());
    let answer = |password: Secret, expiry: Option<i64>, stored_user: Option<&str>| {
        answer(request, target, password, expiry, stored_user)
    };
    let stored = match at_hand(run, request, target)? {
        Hand::Answer(answer) => return write(&answer, out),
        // A build identity comes first and is authoritative: when it fails, git is told to stop
        // (`quit=1`), so no PAT, prompt or other helper stands in for it.
        Hand::Identity(identities, identity) => {
            tracing::info!(%target, identity = identity.kind(), why = %identity.why(), "answering with a build identity");
            // Every failure on this path, the final write included, tells git to stop.
            let answered = match identity::token(run, &identities, target, &identity) {
                Ok(token) => write_token(request, target, token.token, token.expires_at, out),
                Err(e) => Err(Error::Identity(e)),
            };
            if answered.is_err() {
                let _ = protocol::write_quit(out);
            }
            return answered;
        }
        Hand::Stored(stored) => stored,
    };
    match stored {
        // A PAT git cannot be given (a line break or NUL in it) would fail every `get`.
        Some(credential) if !protocol::is_writable(&credential.pat) => {
            store.delete_if(target, &credential.pat)?;
            run.messages
                .say(format!("the stored PAT for {target} holds control characters git cannot take; removed it"));
        }
        Some(credential) => match checked(run, target, credential)? {
            Ok(credential) => {
                let Credential { pat, meta } = renewed(run, target, credential)?;
                if live(meta.expires_at) {
                    tracing::info!(%target, store = store.kind(), "answering with the stored PAT");
                    return write(&answer(pat, meta.expires_at, meta.username.as_deref()), out);
                }
                tracing::info!(%target, "the PAT renewal left has expired; obtaining a new one");
            }
            Err((pat, reason)) => {
                // Only that PAT: another git process may have stored a new one meanwhile.
                store.delete_if(target, &pat)?;
                run.messages.say(format!("the stored PAT for {target} is no longer valid ({reason}); removed it"));
                tracing::info!(%target, "removed a dead PAT; obtaining a new one");
            }
        },
        None => tracing::info!(%target, store = store.kind(), "no stored PAT"),
    }
    // Sign in and mint one. Parallel git processes wait for each other here, then find the PAT.
    if settings.may_mint(target) {
        match org_lock(run, target, Duration::from_secs(120)) {
            // Another process is still signing in: a second sign-in would mint a second PAT.
            None => run
                .messages
                .say(format!("another git process is signing in for {target}; not starting a second sign-in")),
            Some(_lock) => {
                if let Some(Credential { pat, meta }) =
                    store.get(target)?.filter(|c| live(c.meta.expires_at) && protocol::is_writable(&c.pat))
                {
                    tracing::info!(%target, "another git process stored a PAT meanwhile");
                    return write(&answer(pat, meta.expires_at, meta.username.as_deref()), out);
                }
                match auth::obtain(run, target) {
                    // A minted PAT already past its expiry (a skewed clock, a broken reply) is not
                    // handed to git.
                    Some(Obtained::Pat(credential)) => {
                        if let Err(e) = store.put(target, &credential) {
                            run.messages.say(format!("minted a PAT for {target} but could not store it: {e}"));
                        }
                        let Credential { pat, meta } = credential;
                        if live(meta.expires_at) {
                            return write(&answer(pat, meta.expires_at, None), out);
                        }
                        run.messages.say(format!("the PAT minted for {target} has already expired; not using it"));
                    }
                    Some(Obtained::AccessToken(tokens)) => {
                        tracing::info!(%target, "answering with the Entra access token (not stored)");
                        return write_token(request, target, tokens.access_token, Some(tokens.expires_at), out);
                    }
                    None => {}
                }
            }
        }
    }
    // Ask for one. It is returned to git but stored only when git confirms it with `store`.
    if let Some(pat) = crate::prompt::ask_pat(target, settings, &run.messages) {
        return write(&answer(pat, None, None), out);
    }
    tracing::info!(%target, "nothing to offer");
    Ok(())
}

/// The stored `credential` after its check, when one is due: `Ok` to offer it (its check
/// recorded), `Err` with its PAT and the reason when it is dead.
fn checked(run: &Run, target: &Target, credential: Credential) -> Result<Result<Credential, (Secret, String)>, Error> {
    let now = now();
    let meta = match check::plan(&credential.meta, run.settings.validate_interval, now) {
        Plan::Dead(reason) => return Ok(Err((credential.pat, reason))),
        Plan::Offer => return Ok(Ok(credential)),
        Plan::Check => match check::judge(&credential.meta, run.validate(target, &credential.pat), now) {
            Judged::Dead(reason) => return Ok(Err((credential.pat, reason))),
            Judged::Valid(meta) => meta,
            Judged::Unknown { meta, reason } => {
                run.messages.say(format!("could not check the stored PAT for {target} ({reason}); using it"));
                meta
            }
        },
    };
    if let Err(e) = run.store.set_metadata_if(target, &credential.pat, &meta) {
        tracing::warn!(%target, error = %e, "could not record the check");
    }
    Ok(Ok(Credential { pat: credential.pat, meta }))
}

/// `current`, or its replacement when renewal is due: under the org lock, whatever is stored
/// then is used (another process may have renewed it already); a new PAT is stored, then the one
/// it replaces revoked; a failed attempt is recorded so the git commands that follow do not each
/// pay for one.
fn renewed(run: &Run, target: &Target, current: Credential) -> Result<Credential, Error> {
    if !renew::due(&run.settings, target, &current, now()) {
        return Ok(current);
    }
    let Some(_lock) = org_lock(run, target, Duration::from_secs(30)) else {
        return Ok(current);
    };
    let store = run.store.as_ref();
    let stored = match store.get(target)? {
        Some(stored) if stored.pat == current.pat => stored,
        Some(stored) => return Ok(stored),
        None => return Ok(current),
    };
    if !renew::due(&run.settings, target, &stored, now()) {
        return Ok(stored);
    }
    match renew::renew(run, target, &stored) {
        renew::Renewal::Failed => {
            let meta = Metadata { renew_attempted: Some(now()), ..stored.meta.clone() };
            let _ = store.set_metadata_if(target, &stored.pat, &meta);
            Ok(stored)
        }
        renew::Renewal::Renewed { fresh, session } => {
            if let Err(e) = store.put(target, &fresh) {
                tracing::info!(%target, error = %e, "could not store the renewed PAT; keeping the current one");
                return Ok(stored);
            }
            tracing::info!(%target, "renewed the PAT before it expires");
            if let Some(id) = &stored.meta.authorization_id {
                match session.revoke(run, target, id) {
                    Ok(()) => tracing::info!(%target, authorization_id = %id, "revoked the replaced PAT"),
                    Err(e) => tracing::info!(%target, error = %e, "could not revoke the replaced PAT"),
                }
            }
            Ok(fresh)
        }
    }
}

/// Whether a credential with this known expiry may still be handed to git.
fn live(expires_at: Option<i64>) -> bool {
    expires_at.is_none_or(|t| t > now())
}

pub(super) fn write(answer: &Answer, out: &mut impl Write) -> Result<(), Error> {
    protocol::write_answer(answer, out).map_err(Error::Output)
}

/// An access token for git: Bearer where git takes it, else as the password. Never stored.
fn write_token(
    request: &Request,
    target: &Target,
    token: Secret,
    expires_at: Option<i64>,
    out: &mut impl Write,
) -> Result<(), Error> {
    let username = request.username.clone().unwrap_or_else(|| target.default_username().to_owned());
    let answer = protocol::TokenAnswer { username, token, expires_at };
    tracing::info!(%target, bearer = request.authtype, "answering with an access token (not stored)");
    protocol::write_token(&answer, request.authtype, out).map_err(Error::Output)
}
