//! Identities that are not a person, for build machines: the Azure Pipelines job token, a
//! managed identity, workload identity federation, a service principal (secret or certificate). Which one serves an
//! organization ([`choose`]), and its access token for that organization ([`token`]).
//!
//! Precedence: pipeline token, managed identity, workload identity federation, service principal; after them `get` goes on to
//! `AZURE_DEVOPS_EXT_PAT`, the stored PAT, minting and the prompt. A configured identity is
//! authoritative: when it fails, `get` says why in one line and offers nothing else. Tokens are
//! fetched on every `get` and kept nowhere: not in the store, not in a file, not in a cache.

pub mod assertion;
pub mod federation;
pub mod managed;
pub mod pipeline;
pub mod principal;
mod settings;
pub mod sources;

use std::fmt;

use crate::config::{self, Settings};
use crate::org::Target;
use crate::run::Run;
use crate::secret::Secret;

pub use self::managed::ManagedIdentity;
pub use self::principal::ServicePrincipal;
pub use self::settings::{read as settings, IdentitySettings};

/// The identity chosen for an organization, and the setting that chose it.
#[derive(Debug, Clone)]
pub enum Identity {
    /// `SYSTEM_ACCESSTOKEN` of the Azure Pipelines job serving this organization.
    Pipeline(Secret),
    ManagedIdentity(ManagedIdentity),
    Federation(Box<federation::Federation>),
    ServicePrincipal(ServicePrincipal),
}

impl Identity {
    /// What it is, for messages and `doctor`.
    pub fn kind(&self) -> &'static str {
        match self {
            Identity::Pipeline(_) => "the Azure Pipelines job token",
            Identity::ManagedIdentity(_) => "managed identity",
            Identity::Federation(_) => "workload identity federation",
            Identity::ServicePrincipal(_) => "service principal",
        }
    }

    /// Why it serves the organization (the variables or the setting), without any secret.
    pub fn why(&self) -> String {
        match self {
            Identity::Pipeline(_) => {
                "TF_BUILD=True, SYSTEM_ACCESSTOKEN set, SYSTEM_COLLECTIONURI names this organization".into()
            }
            Identity::ManagedIdentity(mi) => format!("azdo.managedIdentity = {mi}"),
            Identity::Federation(fed) => format!("azdo.workloadFederation = {}", federation::describe(fed)),
            Identity::ServicePrincipal(sp) => format!("azdo.servicePrincipal = {sp}"),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

/// An access token for git, and its expiry.
#[derive(Debug)]
pub struct Token {
    pub token: Secret,
    /// Unix seconds, when known.
    pub expires_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{kind} for {target}: {source}")]
    Failed {
        kind: &'static str,
        target: String,
        #[source]
        source: Failure,
    },
    #[error("{kind} is configured for {target}, which is not an organization on Azure DevOps Services: refusing to send its token there")]
    Refused { kind: &'static str, target: String },
    #[error("{kind} for {target}: {what} is a real platform credential and azdo.authority is a test endpoint: it goes only to the real authority")]
    Mixed { kind: &'static str, target: String, what: &'static str },
    #[error("{kind} for {target}: the token it was given is not one git can take (empty, or not printable ASCII)")]
    Unusable { kind: &'static str, target: String },
}

/// Why a token could not be had, in one line (never a secret).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Managed(#[from] managed::Error),
    #[error(transparent)]
    Principal(#[from] principal::Error),
    #[error(transparent)]
    Federation(#[from] federation::Error),
    #[error(transparent)]
    Net(#[from] crate::net::Error),
}

/// The identity that serves `target`, first in the precedence order, if any is configured. An
/// Entra identity is not chosen for a target its token may not go to (an Azure DevOps Server
/// collection, another origin with the real endpoints): that target keeps its own PATs.
pub fn choose(settings: &Settings, ids: &IdentitySettings, target: &Target) -> Option<Identity> {
    if let Some(token) = pipeline::token_for(settings, ids, target) {
        return Some(Identity::Pipeline(token));
    }
    if target.is_server() || !settings.may_sign_in(target) {
        return None;
    }
    if ids.managed_identity.is_some() && ids.imds_url_is_default() && !target.is_real_service() {
        return None;
    }
    if let Some(mi) = &ids.managed_identity {
        return Some(Identity::ManagedIdentity(mi.clone()));
    }
    if ids.federation.scenario.is_some() {
        return Some(Identity::Federation(Box::new(ids.federation.clone())));
    }
    if let Some(sp) = &ids.service_principal {
        return Some(Identity::ServicePrincipal(sp.clone()));
    }
    None
}

/// Whether `token` can be handed to git as it came: not empty, printable ASCII only (no space,
/// CR, LF, NUL or other control character that would end or corrupt git's answer).
pub fn is_usable(token: &Secret) -> bool {
    !token.is_empty() && token.expose().bytes().all(|b| b.is_ascii_graphic())
}

/// The access token of `identity` for `target`: one request (a managed identity's endpoint may
/// be retried within its bound), nothing stored. A token git could not take is refused here,
/// when it is received, not when the answer is written.
/// A federation assertion of Azure DevOps' retiring issuer is said on stderr once a day.
pub fn token(run: &Run, ids: &IdentitySettings, target: &Target, identity: &Identity) -> Result<Token, Error> {
    let mut retiring = None;
    let token = checked(run, ids, target, identity, &mut retiring);
    if let Some(issuer) = retiring {
        federation::warn_daily(run, &issuer);
    }
    token
}

/// [`fetch`], and the token refused unless git can take it; `retiring` as in [`federation::token`].
fn checked(
    run: &Run,
    ids: &IdentitySettings,
    target: &Target,
    identity: &Identity,
    retiring: &mut Option<String>,
) -> Result<Token, Error> {
    let token = fetch(run, ids, target, identity, retiring)?;
    if !is_usable(&token.token) {
        return Err(Error::Unusable { kind: identity.kind(), target: target.to_string() });
    }
    Ok(token)
}

fn fetch(
    run: &Run,
    ids: &IdentitySettings,
    target: &Target,
    identity: &Identity,
    retiring: &mut Option<String>,
) -> Result<Token, Error> {
    let settings = &run.settings;
    let fail = |source: Failure| Error::Failed { kind: identity.kind(), target: target.to_string(), source };
    match identity {
        Identity::Pipeline(token) => Ok(Token { token: token.clone(), expires_at: crate::jwt::expiry(token) }),
        Identity::ManagedIdentity(mi) => {
            // An Entra token for Azure DevOps goes only to an organization: with the real
            // endpoint, only to the real service.
            if target.is_server() || (ids.imds_url_is_default() && !target.is_real_service()) {
                return Err(Error::Refused { kind: identity.kind(), target: target.to_string() });
            }
            managed::token(settings, ids, mi).map_err(|e| fail(e.into()))
        }
        Identity::Federation(fed) => {
            if !settings.may_sign_in(target) {
                return Err(Error::Refused { kind: identity.kind(), target: target.to_string() });
            }
            allowed(settings, target, identity, federation::source(ids, fed, &settings.authority))?;
            federation::token(settings, ids, &|url| run.http(url), fed, retiring).map_err(|e| fail(e.into()))
        }
        Identity::ServicePrincipal(sp) => {
            if !settings.may_sign_in(target) {
                return Err(Error::Refused { kind: identity.kind(), target: target.to_string() });
            }
            allowed(settings, target, identity, ids.sp_credentials.source())?;
            let url = format!("{}/{}/oauth2/v2.0/token", settings.authority.trim_end_matches('/'), sp.tenant);
            let client = run.http(&url).map_err(|e| fail(e.into()))?;
            principal::token(&client, ids, sp, &url).map_err(|e| fail(e.into()))
        }
    }
}

/// The rule of [`sources::may_send`] for `identity`'s proof, before anything is asked.
fn allowed(settings: &Settings, target: &Target, identity: &Identity, source: sources::Source) -> Result<(), Error> {
    let real_authority = settings.authority == config::keys::AUTHORITY.setting.default;
    if sources::may_send(source, real_authority) {
        return Ok(());
    }
    Err(Error::Mixed { kind: identity.kind(), target: target.to_string(), what: source.describe() })
}

/// For `status` and `doctor`: which identity serves `target` and why, the Git Credential
/// Manager settings read for it, and the outcome of one token request (the token is never
/// shown). `None` when no build identity serves it.
/// `scope`: the target the settings are read for (`status ORG`), or `None` for the unscoped ones
/// (`doctor`).
pub fn report(run: &Run, scope: Option<&Target>, target: &Target) -> Result<Option<Report>, config::Error> {
    let ids = settings(run, scope)?;
    let Some(identity) = choose(&run.settings, &ids, target) else { return Ok(None) };
    let mut lines = vec![format!("{target}: served by {} ({})", identity.kind(), identity.why())];
    for alias in &ids.aliases {
        lines.push(format!("{target}: read Git Credential Manager's {alias}"));
    }
    let mut retiring = None;
    let tested = checked(run, &ids, target, &identity, &mut retiring).map(|t| match t.expires_at {
        Some(at) => format!("{target}: {} gave a token (expires {})", identity.kind(), crate::time::timestamp(at)),
        None => format!("{target}: {} gives the job's token", identity.kind()),
    });
    let warnings = retiring.iter().map(|issuer| federation::retiring_issuer_notice(issuer)).collect();
    Ok(Some(Report { lines, tested, warnings }))
}

/// What [`report`] says: the lines, the outcome of one token request, and warnings (what, fix):
/// a federation assertion of Azure DevOps' retiring issuer.
pub struct Report {
    pub lines: Vec<String>,
    pub tested: Result<String, Error>,
    pub warnings: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_printable_ascii_token_is_usable() {
        assert!(is_usable(&Secret::new("eyJ0eXAi.eyJhdWQi.c2ln-_~+/=")));
        for bad in ["", "a b", "a\rb", "a\nquit=0", "a\0b", "tab\t", "caf\u{e9}", "\u{202e}x", "del\x7f"] {
            assert!(!is_usable(&Secret::new(bad)), "{bad:?}");
        }
    }
}
