//! The sign-in policy, used by `get` and by the verbs: an Entra access token silently (a stored
//! refresh token, the Azure CLI), else interactively for whoever may be asked ([`interactive`]:
//! the browser, the device code flow); then, for `get`, a PAT minted with it ([`mint`]) or the
//! access token itself. The tenant is looked up once per sign-in. Every token request declares the
//! `cp1` capability, and answers a pending continuous access evaluation challenge ([`cae`]).
//! Decisions come back as values: a minted PAT is returned, never stored here (the helper and the
//! verbs write credentials); what auth keeps of its own, refresh and access tokens, is kept by
//! [`tokens`], and claims pending from a challenge by [`cae`].

pub mod browser;
pub mod cae;
pub mod interactive;
pub mod mint;
pub mod policy;
pub mod renew;
pub mod tokens;

use std::rc::Rc;
use std::time::Duration;

use crate::azure::entra::{self, Tokens};
use crate::azure::{pats, tenant};
use crate::config::{CredentialType, TokenSource};
use crate::net::{self, Client};
use crate::org::Target;
use crate::run::Run;
use crate::store::{Credential, Provenance};

pub use self::cae::ClaimsRequest;
pub use self::interactive::Method;

/// How a new credential was obtained for `get`.
pub enum Obtained {
    /// A PAT, minted and not yet stored.
    Pat(Credential),
    /// The Entra access token itself (`azdo.credentialType=oauth`, or PAT creation refused by
    /// policy): handed to git, never stored as a PAT (kept by [`tokens`] until shortly before it
    /// expires).
    AccessToken(Tokens),
}

/// Who asks for a sign-in, which decides which interactive sign-ins may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    /// git's `get`: the browser where one can be shown; the device code flow needs a person
    /// watching a terminal, or an explicit `azdo.tokenSource=device`; an IDE's background fetch
    /// must not wait 15 minutes for nobody.
    Git,
    /// A verb a person typed.
    Person,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Azure DevOps Server has no Entra sign-in: use login with a PAT")]
    Server,
    #[error("no Entra sign-in for {0}: azdo.url, azdo.vsspsUrl and azdo.authority must all be the real service's, or the last two both test endpoints")]
    MixedEndpoints(String),
    #[error("no sign-in without asking is available, and prompts are off")]
    NoSilentSignIn,
    #[error(transparent)]
    Net(#[from] net::Error),
    #[error("sign-in failed: {0}")]
    SignIn(#[source] entra::Error),
    #[error("sign-in failed: {0}")]
    Browser(#[source] browser::Error),
    #[error("Conditional Access blocks the device code sign-in")]
    Blocked,
    #[error("the sign-in was for {got}, not {wanted}; nothing was kept")]
    WrongUser { wanted: String, got: String },
}

/// A signed-in session with the identity service: its client and the access token.
pub struct Session {
    pub client: Rc<Client>,
    pub tokens: Tokens,
}

impl Session {
    /// Revoke the PAT with authorization id `id` in `target`'s organization.
    pub fn revoke(&self, run: &Run, target: &Target, id: &str) -> Result<(), pats::Error> {
        pats::revoke(&self.client, &run.settings.vssps_url, target.name(), &self.tokens.access_token, id)
    }
}

/// Whether `tokens` are for the account `target` names (always, when it names none).
pub(crate) fn for_account(target: &Target, tokens: &Tokens) -> Result<(), Error> {
    let Some(wanted) = target.account() else { return Ok(()) };
    match crate::jwt::user(&tokens.access_token) {
        Some(user) if user == wanted => Ok(()),
        other => {
            Err(Error::WrongUser { wanted: wanted.to_owned(), got: other.unwrap_or_else(|| "an unknown user".into()) })
        }
    }
}

/// An access token without asking anyone: the stored refresh token (rotated on use), then the
/// Azure CLI, as `azdo.tokenSource` allows. Looks the tenant up itself (renewal, revocation).
pub fn silent_token(run: &Run, target: &Target, client: &Client) -> Option<Tokens> {
    let tenant = tenant::for_target(&run.settings, target, client);
    silent_token_in(run, target, client, &tenant, &ClaimsRequest::capabilities())
}

/// An access token without asking anyone, for `claims`: a token another program signed in for
/// (the Azure CLI, `ado-auth-helper`) cannot answer a claims challenge, so only the refresh
/// token may when `claims` carries one.
fn silent_token_in(
    run: &Run,
    target: &Target,
    client: &Client,
    tenant: &str,
    claims: &ClaimsRequest,
) -> Option<Tokens> {
    let settings = &run.settings;
    if settings.token_source != TokenSource::AzureCli {
        if let Some(fresh) = tokens::refreshed(run, target, client, tenant, claims) {
            return Some(fresh);
        }
    }
    if claims.answers_challenge() {
        tracing::info!(%target, "no other program's token can answer the claims challenge");
        return None;
    }
    // The Azure CLI's token is for the real service: it goes to the real identity service only.
    if settings.token_source != TokenSource::Device && target.is_real_service() && settings.real_endpoints() {
        match crate::azure::cli::azure_cli_token(Some(tenant), settings.timeout.max(Duration::from_secs(10))) {
            Ok(fresh) => {
                if let Some(fresh) = for_this_account(target, fresh, "the Azure CLI") {
                    return Some(fresh);
                }
            }
            Err(e) => tracing::info!(%target, error = %e, "no token from the Azure CLI"),
        }
    }
    // The ADO Codespaces Auth extension's `~/ado-auth-helper`: a token for the real service too.
    #[cfg(unix)]
    if settings.token_source == TokenSource::Auto && target.is_real_service() && settings.real_endpoints() {
        if let Some(home) = run.env.var("HOME").filter(|h| !h.is_empty()) {
            let limit = settings.timeout.max(Duration::from_secs(10));
            match crate::azure::codespaces::token(std::path::Path::new(&home), limit) {
                Ok(fresh) => {
                    if let Some(fresh) = for_this_account(target, fresh, "ado-auth-helper") {
                        return Some(fresh);
                    }
                }
                Err(e) => tracing::debug!(%target, error = %e, "no token from ado-auth-helper"),
            }
        }
    }
    None
}

/// In a GitHub Codespace (`CODESPACES=true`) git gets the access token itself: a minted PAT would
/// outlive the Codespace.
fn in_codespace(run: &Run) -> bool {
    run.env.var("CODESPACES").is_some_and(|v| v == "true")
}

/// A token another program (`source`) signed in for: kept when it is for the account `target`
/// names (any, when it names none).
fn for_this_account(target: &Target, fresh: Tokens, source: &str) -> Option<Tokens> {
    if for_account(target, &fresh).is_err() {
        tracing::info!(%target, source, "signed in as another account");
        return None;
    }
    tracing::info!(%target, source, "access token");
    Some(fresh)
}

/// The one sign-in policy: silently if possible (not when the person chose the browser, to pick
/// the account); else, when a person may be asked and can be reached, the ways
/// [`interactive::methods`] allows (`chosen`: the one a person asked for with `login`).
pub fn sign_in(run: &Run, target: &Target, asker: Asker, chosen: Option<Method>) -> Result<Session, Error> {
    sign_in_with(run, target, asker, chosen, &ClaimsRequest::capabilities())
}

/// [`sign_in`] whose token requests carry `claims` (a pending challenge's, for `get`).
fn sign_in_with(
    run: &Run,
    target: &Target,
    asker: Asker,
    chosen: Option<Method>,
    claims: &ClaimsRequest,
) -> Result<Session, Error> {
    if target.is_server() {
        return Err(Error::Server);
    }
    let settings = &run.settings;
    if !settings.may_sign_in(target) {
        return Err(Error::MixedEndpoints(target.to_string()));
    }
    let client = run.http(&settings.vssps_url)?;
    let tenant = tenant::for_target(settings, target, &client);
    if chosen != Some(Method::Browser) {
        if let Some(tokens) = silent_token_in(run, target, &client, &tenant, claims) {
            return Ok(Session { client, tokens });
        }
    }
    let ways = interactive::methods(settings, asker, chosen);
    if ways.is_empty() {
        return Err(Error::NoSilentSignIn);
    }
    let tokens = interactive::sign_in(run, target, &client, &tenant, &ways, claims)?;
    Ok(Session { client, tokens })
}

/// Obtain a new credential for `get`: a sign-in git may ask for, then a minted PAT (returned, not
/// stored), or the access token itself. `None`: fall back to prompting. Where the access token
/// goes to git, claims a challenge left pending ([`cae::pending`]) are answered first: no kept
/// token is used, the sign-in carries them, and they are cleared once it brought a token.
pub fn obtain(run: &Run, target: &Target) -> Option<Obtained> {
    let settings = &run.settings;
    // The access token itself goes to git: the one kept from an earlier `get`, while it lives.
    let oauth = settings.credential_type == CredentialType::OAuth || in_codespace(run);
    // After an unusable mint (for the hour) or a refusal by the organization's policy (for
    // RETRY_AFTER_DAYS): the access token directly, no mint request on every `get`.
    let direct = oauth || mint::held(run, target) || policy::refused(run, target).is_some();
    let mut claims = ClaimsRequest::capabilities();
    if direct && settings.may_sign_in(target) && !target.is_server() {
        match cae::pending(run, target) {
            Some(pending) => {
                tracing::info!(%target, "a claims challenge is pending; signing in again with its claims");
                claims = ClaimsRequest::answering(&pending);
            }
            None => {
                if let Some(tokens) = tokens::kept_access_token(run, target) {
                    return Some(Obtained::AccessToken(tokens));
                }
            }
        }
    }
    let session = match sign_in_with(run, target, Asker::Git, None, &claims) {
        Ok(session) => {
            if claims.answers_challenge() {
                cae::clear(run, target);
            }
            session
        }
        Err(e @ (Error::SignIn(_) | Error::Browser(_) | Error::WrongUser { .. })) => {
            run.messages.say(format!("sign-in for {target} failed: {e}"));
            return None;
        }
        Err(e) => {
            tracing::info!(%target, error = %e, "no sign-in");
            return None;
        }
    };
    if oauth {
        return Some(access_token(run, target, session.tokens));
    }
    if direct {
        tracing::info!(%target, "minting for this organization is held (unusable, or refused by policy); using the access token");
        return Some(access_token(run, target, session.tokens));
    }
    match mint::mint_pat(run, target, &session) {
        Ok(credential) => Some(Obtained::Pat(credential)),
        // The policy will not change within the hour either: no mint request on every `get`.
        Err(e @ (pats::Error::Unusable { .. } | pats::Error::Policy(_))) => {
            mint::hold(run, target);
            let until = match policy::refused(run, target) {
                Some(r) => format!(
                    "no new PAT is asked for before {}: git credential-azdo status {} says more",
                    &crate::time::timestamp(r.at + policy::RETRY_AFTER_DAYS * 86_400)[..10],
                    target.name()
                ),
                None => "no new PAT for an hour".into(),
            };
            run.messages.say(format!("{target}: {e}; using the sign-in token itself ({until})"));
            Some(access_token(run, target, session.tokens))
        }
        Err(e) => {
            run.messages.say(format!("{target}: {e}"));
            None
        }
    }
}

/// The access token itself for git, kept until shortly before it expires.
fn access_token(run: &Run, target: &Target, tokens: Tokens) -> Obtained {
    tokens::keep_access_token(run, target, &tokens);
    Obtained::AccessToken(tokens)
}

/// A minted PAT git rejected (`erase`): revoke it on the service by its authorization id, with a
/// silent sign-in only, so that it does not stay alive where `logout --revoke` can no longer
/// reach it. Best effort: a failure is one line, and the PAT is forgotten anyway.
pub fn revoke_rejected(run: &Run, target: &Target, credential: &Credential) {
    let Some(id) =
        credential.meta.authorization_id.as_deref().filter(|_| credential.meta.provenance == Provenance::Minted)
    else {
        return;
    };
    let settings = &run.settings;
    if !settings.may_sign_in(target) {
        return;
    }
    let client = match run.http(&settings.vssps_url) {
        Ok(client) => client,
        Err(e) => return tracing::info!(%target, error = %e, "cannot revoke the rejected PAT"),
    };
    let Some(tokens) = silent_token(run, target, &client) else {
        return tracing::info!(%target, "no silent sign-in to revoke the rejected PAT with");
    };
    match (Session { client, tokens }).revoke(run, target, id) {
        Ok(()) => tracing::info!(%target, authorization_id = %id, "revoked the rejected minted PAT"),
        Err(e) => run.messages.say(format!("could not revoke the rejected PAT for {target}: {e}")),
    }
}
