//! Obtaining a PAT without a person typing one: an Entra access token (silently from a stored
//! refresh token or the Azure CLI, or interactively with the device code flow), then a PAT minted
//! through the lifecycle API, stored with its expiry and authorization id. Also: renewing a PAT
//! before it expires, and a per-org lock so that parallel git processes sign in and mint once.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::azure::Client;
use crate::config::{Settings, TokenSource};
use crate::entra::{self, Tokens};
use crate::org::Org;
use crate::pats;
use crate::store::{Credential, Metadata, Origin, Store};
use crate::text::{now, printable, timestamp};

/// How a new credential was obtained.
pub enum Obtained {
    /// A PAT, minted and stored.
    Pat(Credential),
    /// The Entra access token itself (`azdo.credentialType=oauth`, or PAT creation refused by
    /// policy): handed to git, never stored.
    AccessToken(Tokens),
}

/// The Entra tenant for `org`: `azdo.tenant`, else a cached discovery, else ask the org.
fn tenant(org: &Org, settings: &Settings, client: &Client) -> String {
    if let Some(t) = &settings.tenant {
        return t.clone();
    }
    let cache = settings.data_dir.join("tenants.json");
    let mut known: std::collections::BTreeMap<String, String> =
        std::fs::read(&cache).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    if let Some(t) = known.get(org.name()).filter(|t| entra::is_tenant(t)) {
        return t.clone();
    }
    match entra::discover_tenant(client, &settings.api_url(org)) {
        // "common" is the fallback when no header named a tenant (a proxy, an outage): not cached.
        Ok(t) if t == "common" => t,
        Ok(t) => {
            tracing::info!(%org, tenant = %t, "discovered the organization's tenant");
            known.insert(org.name().to_owned(), t.clone());
            if let Ok(bytes) = serde_json::to_vec(&known) {
                let _ = crate::store::write_private(&cache, &bytes);
            }
            t
        }
        Err(e) => {
            tracing::info!(%org, error = %e, "tenant discovery failed; using organizations");
            "organizations".into()
        }
    }
}

/// Refresh tokens are kept per authority, tenant and client: one for a test authority can never
/// be sent to another.
fn refresh_key(tenant: &str, settings: &Settings) -> String {
    format!("refresh-token:{}:{tenant}:{}", settings.authority, settings.client_id)
}

/// An access token without asking anyone: the stored refresh token (rotated on use), then the
/// Azure CLI, as `azdo.tokenSource` allows.
pub fn silent_token(org: &Org, settings: &Settings, store: &dyn Store, client: &Client) -> Option<Tokens> {
    let tenant = tenant(org, settings, client);
    if settings.token_source != TokenSource::AzureCli {
        let key = refresh_key(&tenant, settings);
        match store.get_token(&key) {
            Ok(Some(rt)) => match entra::refresh(client, &settings.authority, &tenant, &settings.client_id, &rt) {
                Ok(tokens) => {
                    if let Some(new_rt) = &tokens.refresh_token {
                        if let Err(e) = store.put_token(&key, new_rt) {
                            tracing::warn!(error = %e, "could not keep the rotated refresh token");
                        }
                    }
                    tracing::info!(%org, "access token from the stored refresh token");
                    return Some(tokens);
                }
                Err(entra::Error::Refused(reason))
                    if ["invalid_grant", "interaction_required", "invalid_client", "unauthorized_client"]
                        .iter()
                        .any(|code| reason.starts_with(code)) =>
                {
                    tracing::info!(%org, %reason, "the stored refresh token no longer works; forgetting it");
                    let _ = store.delete_token(&key);
                }
                // An outage or an odd reply says nothing about the token: keep it for next time.
                Err(e) => tracing::info!(%org, error = %e, "refresh failed; keeping the refresh token"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the stored sign-in"),
        }
    }
    if settings.token_source != TokenSource::Device {
        match entra::azure_cli_token(Some(&tenant), settings.timeout.max(Duration::from_secs(10))) {
            Ok(tokens) => {
                tracing::info!(%org, "access token from the Azure CLI");
                return Some(tokens);
            }
            Err(e) => tracing::info!(%org, error = %e, "no token from the Azure CLI"),
        }
    }
    None
}

/// Sign in with the device code flow: the instructions go to the terminal (or stderr), never to
/// stdout. The refresh token is kept for later silent use.
pub fn device_sign_in(
    org: &Org,
    settings: &Settings,
    store: &dyn Store,
    client: &Client,
) -> Result<Tokens, entra::Error> {
    let tenant = tenant(org, settings, client);
    let code = entra::start_device_flow(client, &settings.authority, &tenant, &settings.client_id)?;
    tell_person(&format!(
        "git-credential-azdo: to create a PAT for Azure DevOps organization '{org}', open {} and enter the code {}",
        code.verification_uri, code.user_code
    ));
    let wait = |d: Duration| {
        std::thread::sleep(d);
        true
    };
    let tokens = entra::poll_device_flow(client, &settings.authority, &tenant, &settings.client_id, &code, &wait)?;
    if let Some(rt) = &tokens.refresh_token {
        if let Err(e) = store.put_token(&refresh_key(&tenant, settings), rt) {
            eprintln!("git-credential-azdo: could not keep the sign-in for next time: {e}");
        }
    }
    Ok(tokens)
}

/// Whether a person can be reached on a terminal.
fn has_terminal() -> bool {
    // git passes our stderr through: a terminal there means someone runs git in it (an IDE's
    // background fetch has a pipe there, even when the IDE was started from a terminal).
    #[cfg(unix)]
    {
        std::io::IsTerminal::is_terminal(&std::io::stderr()) && OpenOptions::new().write(true).open("/dev/tty").is_ok()
    }
    #[cfg(not(unix))]
    {
        std::io::IsTerminal::is_terminal(&std::io::stderr())
    }
}

/// Instructions for a person: the terminal when there is one, else stderr.
fn tell_person(text: &str) {
    #[cfg(unix)]
    if let Ok(mut tty) = OpenOptions::new().write(true).open("/dev/tty") {
        if writeln!(tty, "{text}").is_ok() {
            return;
        }
    }
    eprintln!("{text}");
}

/// Mint a PAT for `org` with `tokens` and describe it (not stored yet).
pub fn mint_pat(org: &Org, settings: &Settings, client: &Client, tokens: &Tokens) -> Result<Credential, pats::Error> {
    let now = now();
    let display_name = format!("git-credential-azdo on {} {}", hostname(), &timestamp(now)[..10]);
    let valid_to = now + i64::from(settings.pat_lifetime_days) * 86_400;
    let info = pats::create(
        client,
        &settings.vssps_url,
        org.name(),
        &tokens.access_token,
        &display_name,
        &settings.scope,
        valid_to,
    )?;
    let pat = info.token.ok_or_else(|| pats::Error::Failed("the reply holds no PAT".into()))?;
    tracing::info!(%org, authorization_id = %info.authorization_id, valid_to = ?info.valid_to, "minted a PAT");
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

/// Obtain a new credential for `org`: silent sign-in first, the device code flow when the person
/// may be asked, then a minted PAT (or the access token itself). `None`: fall back to prompting.
pub fn obtain(org: &Org, settings: &Settings, store: &dyn Store, client: &Client) -> Option<Obtained> {
    let tokens = match silent_token(org, settings, store, client) {
        Some(tokens) => tokens,
        // The device code flow needs a person watching: a terminal, or an explicit
        // `azdo.tokenSource=device`. An IDE's background fetch must not wait 15 minutes for nobody.
        None if settings.interactive
            && (settings.token_source == TokenSource::Device
                || (settings.token_source == TokenSource::Auto && has_terminal())) =>
        {
            match device_sign_in(org, settings, store, client) {
                Ok(tokens) => tokens,
                Err(e) => {
                    eprintln!("git-credential-azdo: sign-in for {org} failed: {e}");
                    return None;
                }
            }
        }
        None => return None,
    };
    if settings.oauth {
        return Some(Obtained::AccessToken(tokens));
    }
    match mint_pat(org, settings, client, &tokens) {
        Ok(credential) => match store.put(org, &credential) {
            Ok(()) => Some(Obtained::Pat(credential)),
            Err(e) => {
                eprintln!("git-credential-azdo: minted a PAT for {org} but could not store it: {e}");
                Some(Obtained::Pat(credential))
            }
        },
        Err(e @ pats::Error::Policy(_)) => {
            eprintln!("git-credential-azdo: {org}: {e}; using the sign-in token itself");
            Some(Obtained::AccessToken(tokens))
        }
        Err(e) => {
            eprintln!("git-credential-azdo: {org}: {e}");
            None
        }
    }
}

/// Replace a PAT this helper can renew when it expires within `azdo.renewBefore`, silently only:
/// mint, store, then revoke the old one. On any failure the old PAT stays in use.
/// Whether `current` should be renewed now: minting allowed, and less than `azdo.renewBefore`
/// left, or less than half its lifetime when the organization keeps PATs shorter than that (else
/// every git command would renew).
pub fn renewal_due(org: &Org, current: &Credential, settings: &Settings) -> bool {
    let Some(expires) = current.meta.expires_at else { return false };
    let lifetime = (expires - current.meta.stored_at).max(0);
    let window = (i64::from(settings.renew_before_days) * 86_400).min(lifetime / 2);
    may_mint(org, settings)
        && expires - now() <= window
        && current.meta.renew_attempted.is_none_or(|t| now() - t >= 3600)
}

/// Minting needs the real Microsoft endpoints, or test ones set explicitly: with only `azdo.url`
/// changed, tokens and PATs for the real service must not be used for another origin.
pub fn may_mint(org: &Org, settings: &Settings) -> bool {
    let defaults = settings.vssps_url == "https://vssps.dev.azure.com"
        && settings.authority == "https://login.microsoftonline.com";
    settings.mint && !org.is_server() && (settings.services == crate::org::ServiceUrl::default() || !defaults)
}

/// Replace a PAT this helper can renew when [`renewal_due`], silently only: mint, store, then
/// revoke the old one. On any failure the old PAT stays in use. Call it under the org lock.
pub fn renew_if_due(org: &Org, current: &Credential, settings: &Settings, store: &dyn Store) -> Option<Credential> {
    if !renewal_due(org, current, settings) {
        return None;
    }
    // A failed attempt is recorded, so the git commands that follow do not each pay for one.
    let failed = || {
        let meta = Metadata { renew_attempted: Some(now()), ..current.meta.clone() };
        let _ = store.set_metadata_if(org, &current.pat, &meta);
        None
    };
    let Ok(client) = Client::new(&settings.network(&settings.vssps_url)) else { return failed() };
    let Some(tokens) = silent_token(org, settings, store, &client) else {
        tracing::info!(%org, "renewal due, but no sign-in without asking; keeping the current PAT");
        return failed();
    };
    let fresh = match mint_pat(org, settings, &client, &tokens) {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(%org, error = %e, "renewal failed; keeping the current PAT");
            return failed();
        }
    };
    if fresh.meta.expires_at < current.meta.expires_at {
        tracing::info!(%org, "the new PAT would expire sooner; keeping the current one");
        if let Some(id) = &fresh.meta.authorization_id {
            let _ = pats::revoke(&client, &settings.vssps_url, org.name(), &tokens.access_token, id);
        }
        return failed();
    }
    if let Err(e) = store.put(org, &fresh) {
        tracing::info!(%org, error = %e, "could not store the renewed PAT; keeping the current one");
        return None;
    }
    tracing::info!(%org, "renewed the PAT before it expires");
    if let Some(id) = &current.meta.authorization_id {
        match pats::revoke(&client, &settings.vssps_url, org.name(), &tokens.access_token, id) {
            Ok(()) => tracing::info!(%org, authorization_id = %id, "revoked the replaced PAT"),
            Err(e) => tracing::info!(%org, error = %e, "could not revoke the replaced PAT"),
        }
    }
    Some(fresh)
}

fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let name: String = printable(name.trim())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .take(40)
        .collect();
    if name.is_empty() {
        "this machine".into()
    } else {
        name
    }
}

/// An exclusive per-org lock across processes, waited for at most `limit`. A process that dies
/// releases it (the OS drops the file lock with the process).
pub struct OrgLock {
    _file: File,
}

impl OrgLock {
    pub fn acquire(dir: &std::path::Path, org: &Org, limit: Duration) -> Option<OrgLock> {
        let name: String =
            org.name().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let path: PathBuf = dir.join("locks").join(format!("{name}.lock"));
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(path.parent()?).ok()?;
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).ok()?;
        let deadline = Instant::now() + limit;
        loop {
            match file.try_lock() {
                Ok(()) => return Some(OrgLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(_) => return None,
            }
        }
    }
}
