//! Obtaining a credential without a person typing a PAT, under one sign-in policy used by `get`
//! and by the verbs: an Entra access token (silently from a stored refresh token or the Azure CLI,
//! or interactively in the browser or with the device code flow, [`interactive`]), then a PAT minted through the lifecycle API and
//! stored with its expiry and authorization id. Also the per-org lock, so that parallel git
//! processes sign in and mint once; renewal is in [`renew`].

pub mod browser;
pub mod interactive;
pub mod renew;

use std::rc::Rc;
use std::time::Duration;

use crate::azure::entra::{self, Tokens};
use crate::azure::{cli, pats, tenant};
use crate::config::{CredentialType, TokenSource};
use crate::context::Context;
use crate::net::{self, Client};
use crate::org::Target;
use crate::secret::Secret;
use crate::store::{Credential, Metadata, Origin, TokenStore};
use crate::text::printable;
use crate::time::{now, timestamp};

/// How a new credential was obtained.
pub enum Obtained {
    /// A PAT, minted and stored.
    Pat(Credential),
    /// The Entra access token itself (`azdo.credentialType=oauth`, or PAT creation refused by
    /// policy): handed to git, never stored as a PAT (kept beside the refresh token until shortly
    /// before it expires).
    AccessToken(Tokens),
}

/// Who wants a sign-in, which decides which interactive sign-ins may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// git's `get`: the browser where one can be shown; the device code flow needs a person
    /// watching a terminal, or an explicit `azdo.tokenSource=device`; an IDE's background fetch
    /// must not wait 15 minutes for nobody.
    Get,
    /// A verb a person typed (`logout --revoke`, `list --remote`).
    Command,
    /// `login --device`: silently if possible, else the device code flow.
    Device,
    /// `login --browser`: the browser, always (to pick the account).
    Browser,
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

/// Refresh tokens are kept per authority, tenant and client (one for a test authority can never
/// be sent to another), and per account when one is named.
pub(crate) fn refresh_key(ctx: &Context, target: &Target, tenant: &str) -> String {
    let base = format!("refresh-token:{}:{tenant}:{}", ctx.settings.authority, ctx.settings.client_id);
    match target.account() {
        Some(account) => format!("{base}:{account}"),
        None => base,
    }
}

/// An access token handed to git is used again until this many seconds before it expires.
const ACCESS_TOKEN_MARGIN: i64 = 300;

/// Where the access token handed to git for `target` is kept (beside the refresh token, in the
/// same store): per authority, client, organization URL and account.
fn access_key(ctx: &Context, target: &Target) -> String {
    let base = format!("access-token:{}:{}:{}", ctx.settings.authority, ctx.settings.client_id, target.url());
    match target.account() {
        Some(account) => format!("{base}:{account}"),
        None => base,
    }
}

/// The kept access token for `target`, while it has more than [`ACCESS_TOKEN_MARGIN`] to live:
/// a hot `get` in oauth mode (or after a refused mint) then makes no request. Stored as
/// `EXPIRY TOKEN` (Unix seconds); anything else is no token.
fn kept_access_token(ctx: &Context, target: &Target) -> Option<Tokens> {
    let kept = match ctx.store.get_token(&access_key(ctx, target)) {
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
fn keep_access_token(ctx: &Context, target: &Target, tokens: &Tokens) {
    if tokens.expires_at - ACCESS_TOKEN_MARGIN <= now() {
        return;
    }
    let value = Secret::from(format!("{} {}", tokens.expires_at, tokens.access_token.expose()));
    if let Err(e) = ctx.store.put_token(&access_key(ctx, target), &value) {
        tracing::info!(%target, error = %e, "could not keep the access token");
    }
}

/// git rejected an access token for `target` (`erase`): forget the kept one when it is that
/// token, or when git does not say which (a Bearer credential comes back without it); `None`
/// (also `logout`): whichever is kept. Whether one was forgotten.
pub fn forget_access_token(ctx: &Context, target: &Target, rejected: Option<&Secret>) -> bool {
    let key = access_key(ctx, target);
    let matches = match rejected {
        None => true,
        Some(rejected) => ctx
            .store
            .get_token(&key)
            .ok()
            .flatten()
            .and_then(|kept| kept.expose().split_once(' ').map(|(_, t)| Secret::new(t) == *rejected))
            .unwrap_or(false),
    };
    let forgot = matches && ctx.store.delete_token(&key).unwrap_or(false);
    if forgot {
        tracing::info!(%target, "forgot the kept access token");
    }
    forgot
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
/// Azure CLI, as `azdo.tokenSource` allows.
pub fn silent_token(ctx: &Context, target: &Target, client: &Client) -> Option<Tokens> {
    let settings = &ctx.settings;
    let tokens: &dyn TokenStore = ctx.store.as_ref();
    let tenant = tenant::for_target(settings, target, client);
    if settings.token_source != TokenSource::AzureCli {
        let key = refresh_key(ctx, target, &tenant);
        match tokens.get_token(&key) {
            Ok(Some(rt)) => match entra::refresh(client, &settings.authority, &tenant, &settings.client_id, &rt) {
                Ok(fresh) => {
                    if let Some(new_rt) = &fresh.refresh_token {
                        if let Err(e) = tokens.put_token(&key, new_rt) {
                            tracing::warn!(error = %e, "could not keep the rotated refresh token");
                        }
                    }
                    tracing::info!(%target, "access token from the stored refresh token");
                    return Some(fresh);
                }
                Err(entra::Error::Refused(reason))
                    if ["invalid_grant", "interaction_required", "invalid_client", "unauthorized_client"]
                        .iter()
                        .any(|code| reason.starts_with(code)) =>
                {
                    tracing::info!(%target, %reason, "the stored refresh token no longer works; forgetting it");
                    let _ = tokens.delete_token(&key);
                }
                // An outage or an odd reply says nothing about the token: keep it for next time.
                Err(e) => tracing::info!(%target, error = %e, "refresh failed; keeping the refresh token"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the stored sign-in"),
        }
    }
    // The Azure CLI's token is for the real service: it goes to the real identity service only.
    if settings.token_source != TokenSource::Device && target.is_real_service() && settings.real_endpoints() {
        match cli::azure_cli_token(Some(&tenant), settings.timeout.max(Duration::from_secs(10))) {
            Ok(fresh) if for_account(target, &fresh).is_err() => {
                tracing::info!(%target, "the Azure CLI is signed in as another account");
            }
            Ok(fresh) => {
                tracing::info!(%target, "access token from the Azure CLI");
                return Some(fresh);
            }
            Err(e) => tracing::info!(%target, error = %e, "no token from the Azure CLI"),
        }
    }
    None
}

/// The one sign-in policy: silently if possible (not for `login --browser`, which signs in on
/// purpose); else, when a person may be asked and can be reached for `purpose`, the browser and
/// the device code flow ([`interactive::methods`]). The client is the one for the identity service.
pub fn sign_in(ctx: &Context, target: &Target, purpose: Purpose) -> Result<(Rc<Client>, Tokens), Error> {
    if target.is_server() {
        return Err(Error::Server);
    }
    let settings = &ctx.settings;
    if !settings.may_sign_in(target) {
        return Err(Error::MixedEndpoints(target.to_string()));
    }
    let client = ctx.http(&settings.vssps_url)?;
    if purpose != Purpose::Browser {
        if let Some(tokens) = silent_token(ctx, target, &client) {
            return Ok((client, tokens));
        }
    }
    let ways = interactive::methods(ctx, purpose);
    if ways.is_empty() {
        return Err(Error::NoSilentSignIn);
    }
    let tokens = interactive::sign_in(ctx, target, &client, &ways)?;
    Ok((client, tokens))
}

/// Mint a PAT for `target` with `tokens` and describe it (not stored yet).
pub fn mint_pat(ctx: &Context, target: &Target, client: &Client, tokens: &Tokens) -> Result<Credential, pats::Error> {
    let settings = &ctx.settings;
    let now = now();
    let display_name = format!("git-credential-azdo on {} {}", hostname(), &timestamp(now)[..10]);
    let valid_to = now + i64::from(settings.pat_lifetime_days) * 86_400;
    let info = pats::create(
        client,
        &settings.vssps_url,
        target.name(),
        &tokens.access_token,
        &display_name,
        &settings.scope,
        valid_to,
    )?;
    let pat = info.token.ok_or_else(|| pats::Error::Failed("the reply holds no PAT".into()))?;
    tracing::info!(%target, authorization_id = %info.authorization_id, valid_to = ?info.valid_to, "minted a PAT");
    if let Some(why) = unusable(&settings.scope, &info.scope, &pat, info.valid_to, now) {
        // Never stored nor handed to git; revoked so that it does not stay alive unreachable.
        let revoked =
            pats::revoke(client, &settings.vssps_url, target.name(), &tokens.access_token, &info.authorization_id)
                .inspect_err(|e| tracing::info!(%target, error = %e, "could not revoke the unusable PAT"))
                .is_ok();
        return Err(pats::Error::Unusable { why, revoked });
    }
    Ok(Credential {
        pat,
        meta: Metadata {
            origin: Origin::Minted,
            stored_at: now,
            expires_at: info.valid_to.or(Some(valid_to)),
            last_validated: Some(now),
            last_checked: Some(now),
            authorization_id: Some(info.authorization_id),
            username: None,
            renew_attempted: None,
        },
    })
}

/// Why a freshly minted PAT cannot serve git, if it cannot: a scope without code access where
/// code access was asked for (a "restrict PAT creation" policy that allows packaging only), a
/// `validTo` not in the future (a skewed clock, a broken reply), or a token with characters
/// outside the PAT alphabet (letters and digits).
fn unusable(requested: &str, scope: &str, pat: &Secret, valid_to: Option<i64>, now: i64) -> Option<&'static str> {
    let code = |s: &str| s.split_whitespace().any(|x| x.starts_with("vso.code") || x == "app_token");
    // A reply that names no scope says nothing about it (only a named scope can lack code).
    if code(requested) && !scope.trim().is_empty() && !code(scope) {
        return Some("its scope lacks code access");
    }
    if valid_to.is_some_and(|t| t <= now) {
        return Some("it has already expired");
    }
    if pat.is_empty() || !pat.expose().bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some("its token is not a PAT");
    }
    None
}

/// Where an org's hold on minting is kept: `{org: unix seconds until}`.
fn holds_file(ctx: &Context) -> std::path::PathBuf {
    ctx.settings.data_dir.join("mint-holds.json")
}

fn holds(ctx: &Context) -> std::collections::BTreeMap<String, i64> {
    match crate::fs::read_private(&holds_file(ctx)) {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_default(),
        _ => Default::default(),
    }
}

/// Whether minting for `target` is held after an unusable mint (for an hour).
fn mint_held(ctx: &Context, target: &Target) -> bool {
    holds(ctx).get(&target.store_key()).is_some_and(|until| *until > now())
}

/// Hold minting for `target` for an hour, so that a skewed clock or a broken reply cannot cause
/// a mint on every `get`.
fn hold_minting(ctx: &Context, target: &Target) {
    let mut all = holds(ctx);
    let now = now();
    all.retain(|_, until| *until > now);
    all.insert(target.store_key(), now + 3600);
    if let Ok(bytes) = serde_json::to_vec(&all) {
        if let Err(e) = crate::fs::write_private(&holds_file(ctx), &bytes, crate::fs::Durability::Cache) {
            tracing::warn!(error = %e, "could not record the hold on minting");
        }
    }
}

/// Obtain a new credential for `get`: a sign-in under [`Purpose::Get`], then a minted PAT (or
/// the access token itself). `None`: fall back to prompting.
pub fn obtain(ctx: &Context, target: &Target) -> Option<Obtained> {
    // The access token itself goes to git: the one kept from an earlier `get`, while it lives.
    let direct = ctx.settings.credential_type == CredentialType::OAuth || mint_held(ctx, target);
    if direct && ctx.settings.may_sign_in(target) && !target.is_server() {
        if let Some(tokens) = kept_access_token(ctx, target) {
            return Some(Obtained::AccessToken(tokens));
        }
    }
    let (client, tokens) = match sign_in(ctx, target, Purpose::Get) {
        Ok(signed_in) => signed_in,
        Err(Error::SignIn(e)) => {
            eprintln!("git-credential-azdo: sign-in for {target} failed: {e}");
            return None;
        }
        Err(e @ (Error::Browser(_) | Error::WrongUser { .. })) => {
            eprintln!("git-credential-azdo: sign-in for {target} failed: {e}");
            return None;
        }
        Err(e) => {
            tracing::info!(%target, error = %e, "no sign-in");
            return None;
        }
    };
    if ctx.settings.credential_type == CredentialType::OAuth {
        keep_access_token(ctx, target, &tokens);
        return Some(Obtained::AccessToken(tokens));
    }
    if direct {
        tracing::info!(%target, "a mint for this organization was unusable within the hour; using the access token");
        keep_access_token(ctx, target, &tokens);
        return Some(Obtained::AccessToken(tokens));
    }
    match mint_pat(ctx, target, &client, &tokens) {
        Err(e @ pats::Error::Unusable { .. }) => {
            hold_minting(ctx, target);
            eprintln!("git-credential-azdo: {target}: {e}; using the sign-in token itself (no new PAT for an hour)");
            keep_access_token(ctx, target, &tokens);
            Some(Obtained::AccessToken(tokens))
        }
        Ok(credential) => {
            if let Err(e) = ctx.store.put(target, &credential) {
                eprintln!("git-credential-azdo: minted a PAT for {target} but could not store it: {e}");
            }
            Some(Obtained::Pat(credential))
        }
        // The policy will not change within the hour either: no mint request on every `get`.
        Err(e @ pats::Error::Policy(_)) => {
            hold_minting(ctx, target);
            eprintln!("git-credential-azdo: {target}: {e}; using the sign-in token itself (no new PAT for an hour)");
            keep_access_token(ctx, target, &tokens);
            Some(Obtained::AccessToken(tokens))
        }
        Err(e) => {
            eprintln!("git-credential-azdo: {target}: {e}");
            None
        }
    }
}

/// A minted PAT git rejected (`erase`): revoke it on the service by its authorization id, with a
/// silent sign-in only, so that it does not stay alive where `logout --revoke` can no longer
/// reach it. Best effort: a failure is one line, and the PAT is forgotten anyway.
pub fn revoke_rejected(ctx: &Context, target: &Target, credential: &Credential) {
    let Some(id) = credential.meta.authorization_id.as_deref().filter(|_| credential.meta.origin == Origin::Minted)
    else {
        return;
    };
    let settings = &ctx.settings;
    if !settings.may_sign_in(target) {
        return;
    }
    let client = match ctx.http(&settings.vssps_url) {
        Ok(client) => client,
        Err(e) => return tracing::info!(%target, error = %e, "cannot revoke the rejected PAT"),
    };
    let Some(tokens) = silent_token(ctx, target, &client) else {
        return tracing::info!(%target, "no silent sign-in to revoke the rejected PAT with");
    };
    match pats::revoke(&client, &settings.vssps_url, target.name(), &tokens.access_token, id) {
        Ok(()) => tracing::info!(%target, authorization_id = %id, "revoked the rejected minted PAT"),
        Err(e) => eprintln!("git-credential-azdo: could not revoke the rejected PAT for {target}: {e}"),
    }
}

/// An exclusive per-org lock across processes, waited for at most `limit`; `None` when it could
/// not be had in time (or at all).
pub fn org_lock(ctx: &Context, target: &Target, limit: Duration) -> Option<crate::fs::Lock> {
    let name: String =
        target.store_key().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let path = ctx.settings.data_dir.join("locks").join(format!("{name}.lock"));
    match crate::fs::lock(&path, Some(limit)) {
        Ok(lock) => Some(lock),
        Err(e) => {
            tracing::info!(%target, error = %e, "no org lock");
            None
        }
    }
}

/// This machine's name for a minted PAT's display name: the kernel's node name on Unix
/// (uname, which macOS and Linux both have), `COMPUTERNAME` on Windows.
fn hostname() -> String {
    #[cfg(unix)]
    let name = Some(rustix::system::uname().nodename().to_string_lossy().into_owned());
    #[cfg(not(unix))]
    let name = None;
    display_host([name, std::env::var("COMPUTERNAME").ok(), std::env::var("HOSTNAME").ok()])
}

/// The first usable name among `candidates`, reduced to letters, digits, `-` and `.` (40 at
/// most), else "this machine".
fn display_host(candidates: [Option<String>; 3]) -> String {
    candidates
        .into_iter()
        .flatten()
        .map(|name| {
            printable(name.trim())
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
                .take(40)
                .collect::<String>()
        })
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "this machine".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unusable_mint_is_told_apart() {
        let pat = Secret::new("a".repeat(52) + "JQQJ99BAACAAAAAAAAAAAAASAZDO1234");
        let now = 1_000;
        assert_eq!(unusable("vso.code_write", "vso.code_write", &pat, Some(now + 60), now), None);
        assert_eq!(
            unusable("vso.code_write", "vso.packaging", &pat, Some(now + 60), now),
            Some("its scope lacks code access")
        );
        assert_eq!(unusable("vso.packaging", "vso.packaging", &pat, None, now), None, "what was asked for");
        assert_eq!(unusable("vso.code_write", "", &pat, Some(now + 60), now), None, "a reply without a scope");
        assert_eq!(unusable("vso.code", "app_token", &pat, Some(now), now), Some("it has already expired"));
        let bad = Secret::new("abc-def");
        assert_eq!(unusable("vso.code", "vso.code", &bad, None, now), Some("its token is not a PAT"));
        assert_eq!(unusable("vso.code", "vso.code", &Secret::new(""), None, now), Some("its token is not a PAT"));
    }

    #[test]
    fn the_host_name_comes_from_the_first_usable_source() {
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(display_host([s("build-01.corp"), s("WIN"), None]), "build-01.corp");
        assert_eq!(display_host([None, s("DESKTOP-42"), s("x")]), "DESKTOP-42");
        // Control characters are escaped, then only letters, digits, '-' and '.' are kept.
        assert_eq!(display_host([s(" \u{1b}[2J "), None, s("ok")]), "u1b2J");
        assert_eq!(display_host([s("[]"), s(""), s("ok")]), "ok", "an empty result is no name");
        assert_eq!(display_host([None, None, None]), "this machine");
        assert_eq!(display_host([s(&"a".repeat(99)), None, None]).len(), 40);
        assert!(!hostname().is_empty());
    }
}
