//! The three operations git runs: `get`, `store`, `erase`.
//!
//! `get` is a pipeline of sources tried in order: the `AZURE_DEVOPS_EXT_PAT` variable; the stored
//! PAT, checked against Azure DevOps when a check is due ([`check`]); then obtaining a new one (a
//! prompt today; minting will plug in before it). A dead PAT is removed and replaced within the same
//! `get`, so git's command succeeds instead of failing once. Nothing to offer means no output.

use std::io::{Read, Write};
use std::time::Duration;

use crate::azure::{self, Verdict};
use crate::config::{GitConfig, Settings};
use crate::error::Error;
use crate::mint;
use crate::org::{self, Org, Resolution, ServiceUrl};
use crate::protocol::{self, Answer, Operation, Request};
use crate::secret::Secret;
use crate::store::{self, Credential, Metadata, Origin, Store};
use crate::text::{now, printable, timestamp};

/// Run one operation: read the request from `input`, answer on `out` (for `get`).
pub fn run(op: Operation, input: impl Read, out: &mut impl Write) -> Result<(), Error> {
    let request = protocol::read_request(input)?;
    let env = |name: &str| std::env::var_os(name);
    let default = org::resolve(&request, &ServiceUrl::default(), &[]);
    // For other hosts nothing is written, not even the config cache; for ours the cache is used.
    let (config, save) = GitConfig::load_readonly_with_save();
    let custom = match (Settings::services_url(&config, &env), Settings::servers(&config, &env)) {
        (Ok(services), Ok(servers)) => {
            (services != ServiceUrl::default() || !servers.is_empty()).then_some((services, servers))
        }
        (Err(e), _) | (_, Err(e)) if default == Resolution::NotOurs => {
            tracing::debug!(error = %e, "azdo.url or azdo.server unusable");
            None
        }
        (Err(e), _) | (_, Err(e)) => return Err(e.into()),
    };
    // With `azdo.url` naming another origin, that origin replaces dev.azure.com (its PATs must
    // never go elsewhere); `azdo.server` adds collections.
    let resolution = match custom {
        Some((services, servers)) => org::resolve(&request, &services, &servers),
        None => default,
    };
    let Some(org) = organization(op, &request, resolution) else {
        return Ok(());
    };
    save.remember(&config);
    let settings = Settings::from_sources(config, Some(&org.url()), &env)?;
    let store = store::open(&settings);
    tracing::info!(op = ?op, %org, store = store.kind(), "request");
    match op {
        Operation::Get => get(&request, &org, &settings, store.as_ref(), out),
        Operation::Store => store_op(&request, &org, &settings, store.as_ref()),
        Operation::Erase => erase(&request, &org, store.as_ref()),
    }
}

/// The request's organization, or `None` (with a one-line hint on `get` where one helps).
fn organization(op: Operation, request: &Request, resolution: Resolution) -> Option<Org> {
    let warn = |msg: String| {
        if op == Operation::Get {
            eprintln!("git-credential-azdo: {msg}");
        }
    };
    match resolution {
        Resolution::Org(org) => return Some(org),
        Resolution::NotOurs => tracing::debug!(host = %printable(&request.host), "not an Azure DevOps host"),
        Resolution::Insecure => warn(format!(
            "refusing to send a PAT to {} over plain http: use an https:// remote",
            printable(&request.host)
        )),
        Resolution::NeedsOrganization => warn(
            "cannot tell the Azure DevOps organization from this URL: run 'git credential-azdo configure' \
             (it sets credential.useHttpPath for dev.azure.com), or use https://ORG@dev.azure.com/..."
                .into(),
        ),
        Resolution::Refused(e) => warn(e.to_string()),
    }
    None
}

fn get(
    request: &Request,
    org: &Org,
    settings: &Settings,
    store: &dyn Store,
    out: &mut impl Write,
) -> Result<(), Error> {
    let answer = |password: Secret, expiry: Option<i64>, stored_user: Option<&str>| Answer {
        username: request
            .username
            .clone()
            .or(stored_user.map(str::to_owned))
            .unwrap_or_else(|| org.default_username().to_owned()),
        password,
        password_expiry_utc: expiry,
    };
    // The Azure CLI's variable is for Azure DevOps Services, never for a Server collection.
    if let Some(pat) = settings.env_pat.as_ref().filter(|_| !org.is_server()) {
        tracing::info!(%org, source = crate::config::PAT_ENV, "answering from the environment");
        return write(&answer(pat.clone(), None, None), out);
    }
    match store.get(org)? {
        Some(credential) => match check(org, &credential, settings, store) {
            Ok(()) => {
                let Credential { pat, meta } = renew(org, credential, settings, store)?;
                tracing::info!(%org, store = store.kind(), "answering with the stored PAT");
                return write(&answer(pat, meta.expires_at, meta.username.as_deref()), out);
            }
            Err(reason) => {
                // Only that PAT: another git process may have stored a new one meanwhile.
                store.delete_if(org, &credential.pat)?;
                eprintln!("git-credential-azdo: the stored PAT for {org} is no longer valid ({reason}); removed it");
                tracing::info!(%org, "removed a dead PAT; obtaining a new one");
            }
        },
        None => tracing::info!(%org, store = store.kind(), "no stored PAT"),
    }
    // Sign in and mint one. Parallel git processes wait for each other here, then find the PAT.
    if mint::may_mint(org, settings) {
        match mint::OrgLock::acquire(&settings.data_dir, org, Duration::from_secs(120)) {
            // Another process is still signing in: a second sign-in would mint a second PAT.
            None => eprintln!(
                "git-credential-azdo: another git process is signing in for {org}; not starting a second sign-in"
            ),
            Some(_lock) => {
                if let Some(Credential { pat, meta }) =
                    store.get(org)?.filter(|c| c.meta.expires_at.is_none_or(|t| t > now()))
                {
                    tracing::info!(%org, "another git process stored a PAT meanwhile");
                    return write(&answer(pat, meta.expires_at, meta.username.as_deref()), out);
                }
                match azure::Client::new(&settings.network(&settings.vssps_url)) {
                    Ok(client) => match mint::obtain(org, settings, store, &client) {
                        Some(mint::Obtained::Pat(Credential { pat, meta })) => {
                            return write(&answer(pat, meta.expires_at, None), out);
                        }
                        Some(mint::Obtained::AccessToken(tokens)) => {
                            tracing::info!(%org, "answering with the Entra access token (not stored)");
                            return write(&answer(tokens.access_token, Some(tokens.expires_at), None), out);
                        }
                        None => {}
                    },
                    Err(e) => tracing::info!(%org, error = %e, "cannot mint"),
                }
            }
        }
    }
    // Ask for one. It is returned to git but stored only when git confirms it with `store`.
    if let Some(pat) = crate::prompt::ask_pat(org, settings) {
        return write(&answer(pat, None, None), out);
    }
    tracing::info!(%org, "nothing to offer");
    Ok(())
}

/// Renew `current` if due, under the org lock, so parallel git processes renew once: after the
/// lock, whatever is stored is used (another process may have renewed it already).
fn renew(org: &Org, current: Credential, settings: &Settings, store: &dyn Store) -> Result<Credential, Error> {
    if !mint::renewal_due(org, &current, settings) {
        return Ok(current);
    }
    let Some(_lock) = mint::OrgLock::acquire(&settings.data_dir, org, Duration::from_secs(30)) else {
        return Ok(current);
    };
    match store.get(org)? {
        Some(stored) if stored.pat == current.pat => {
            Ok(mint::renew_if_due(org, &stored, settings, store).unwrap_or(stored))
        }
        Some(stored) => Ok(stored),
        None => Ok(current),
    }
}

/// Whether a stored PAT may be offered: `Err(reason)` when it is known to be dead. A PAT past its
/// known expiry is dead without a request; otherwise Azure DevOps is asked once per
/// `azdo.validateInterval`. When nobody can tell (throttling, outage, timeout), the PAT is kept.
pub fn check(org: &Org, credential: &Credential, settings: &Settings, store: &dyn Store) -> Result<(), String> {
    let now = now();
    let meta = &credential.meta;
    if let Some(t) = meta.expires_at.filter(|t| *t <= now) {
        return Err(format!("it expired at {}", timestamp(t)));
    }
    let Some(interval) = settings.validate_interval.map(|d| d.as_secs() as i64) else {
        tracing::debug!(%org, "checks are off (azdo.validateInterval=never)");
        return Ok(());
    };
    let last = meta.last_validated.max(meta.last_checked);
    if interval > 0 && last.is_some_and(|t| now >= t && now - t < interval) {
        tracing::debug!(%org, "checked recently; no request");
        return Ok(());
    }
    let verdict = validate(org, &credential.pat, settings);
    let mut updated = Metadata { last_checked: Some(now), ..meta.clone() };
    let result = match verdict {
        Verdict::Valid { user } => {
            tracing::info!(%org, %user, "Azure DevOps accepted the stored PAT");
            updated.last_validated = Some(now);
            Ok(())
        }
        Verdict::Invalid { reason } => return Err(reason),
        Verdict::Unknown { reason } => {
            eprintln!("git-credential-azdo: could not check the stored PAT for {org} ({reason}); using it");
            Ok(())
        }
    };
    if let Err(e) = store.set_metadata_if(org, &credential.pat, &updated) {
        tracing::warn!(%org, error = %e, "could not record the check");
    }
    result
}

/// One validation request, with the network settings git users already have.
pub fn validate(org: &Org, pat: &Secret, settings: &Settings) -> Verdict {
    let url = settings.api_url(org);
    let network = settings.network(&url);
    if !network.verify_tls {
        eprintln!(
            "git-credential-azdo: WARNING: TLS certificate checks are off (http.sslVerify=false or GIT_SSL_NO_VERIFY)"
        );
    }
    tracing::info!(%org, %url, "checking the PAT with Azure DevOps");
    match azure::Client::new(&network) {
        Ok(client) => client.validate(&url, pat),
        Err(e) => Verdict::Unknown { reason: e.to_string() },
    }
}

fn write(answer: &Answer, out: &mut impl Write) -> Result<(), Error> {
    protocol::write_answer(answer, out).map_err(Error::Output)
}

fn store_op(request: &Request, org: &Org, settings: &Settings, store: &dyn Store) -> Result<(), Error> {
    let Some(password) = &request.password else {
        tracing::info!(%org, "store without a password; ignored");
        return Ok(());
    };
    if settings.env_pat.as_ref() == Some(password) {
        tracing::info!(%org, "the PAT came from the environment; not storing it");
        return Ok(());
    }
    if looks_like_jwt(password.expose()) {
        tracing::info!(%org, "an Entra access token, not a PAT; never stored");
        return Ok(());
    }
    let now = now();
    if let Some(existing) = store.get(org)? {
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
                store.set_metadata_if(org, password, &meta)?;
            }
            tracing::info!(%org, "already stored");
            return Ok(());
        }
        // A minted PAT is replaced only by minting (or renewal): a different password reported
        // by git is an older one still in flight, perhaps one renewal just revoked.
        if existing.meta.origin == Origin::Minted {
            tracing::info!(%org, "keeping the minted PAT; not replacing it with the one git reported");
            return Ok(());
        }
    }
    let meta = Metadata {
        origin: Origin::Git,
        stored_at: now,
        username: request.username.clone(),
        expires_at: request.password_expiry_utc,
        last_validated: Some(now),
        ..Metadata::default()
    };
    store.put(org, &Credential { pat: password.clone(), meta })?;
    tracing::info!(%org, store = store.kind(), "stored the PAT git confirmed");
    Ok(())
}

/// Entra access tokens are JWTs (`eyJ…` header, three dot-separated base64url parts); PATs have
/// no dots. One handed to git with `azdo.credentialType=oauth` must not be stored as a PAT.
pub fn looks_like_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    s.starts_with("eyJ")
        && parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

fn erase(request: &Request, org: &Org, store: &dyn Store) -> Result<(), Error> {
    let Some(existing) = store.get(org)? else {
        tracing::info!(%org, "nothing stored to erase");
        return Ok(());
    };
    match &request.password {
        Some(password) if *password != existing.pat => {
            tracing::info!(%org, "erase for a different PAT; keeping the stored one");
        }
        _ => {
            store.delete_if(org, &existing.pat)?;
            tracing::info!(%org, store = store.kind(), "erased the stored PAT");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn settings() -> Settings {
        Settings::from_sources(crate::config::GitConfig::default(), None, &|name| {
            (name == "GIT_TERMINAL_PROMPT").then(|| "0".into())
        })
        .expect("valid")
    }

    fn request(extra: &str) -> Request {
        protocol::parse_request(
            format!("protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n{extra}").as_bytes(),
        )
        .expect("valid")
    }

    fn contoso() -> Org {
        Org::new("contoso").expect("valid")
    }

    fn stored(store: &MemoryStore, pat: &str, expires_at: Option<i64>) {
        let meta = Metadata { expires_at, ..Metadata::default() };
        store.put(&contoso(), &Credential { pat: Secret::new(pat), meta }).expect("put");
    }

    fn get_output(store: &MemoryStore, extra: &str) -> String {
        let mut out = Vec::new();
        get(&request(extra), &contoso(), &settings(), store, &mut out).expect("get");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn get_answers_with_stored_pat_and_expiry() {
        let store = MemoryStore::new();
        stored(&store, "pat-1", Some(now() + 3600));
        let out = get_output(&store, "");
        assert!(out.starts_with("username=contoso\npassword=pat-1\npassword_expiry_utc="), "{out}");
        assert_eq!(get_output(&store, "username=me\n").lines().next(), Some("username=me"));
    }

    #[test]
    fn get_removes_an_expired_pat_and_prints_nothing_without_prompts() {
        let store = MemoryStore::new();
        stored(&store, "old", Some(now() - 1));
        assert_eq!(get_output(&store, ""), "");
        assert!(store.get(&contoso()).expect("get").is_none(), "an expired PAT must be removed");
    }

    #[test]
    fn store_replaces_and_erase_matches_the_password() {
        let store = MemoryStore::new();
        let s = settings();
        store_op(&request("username=u\npassword=new\npassword_expiry_utc=1900000000\n"), &contoso(), &s, &store)
            .expect("store");
        let c = store.get(&contoso()).expect("get").expect("stored");
        assert_eq!(c.pat, Secret::new("new"));
        assert_eq!(c.meta.expires_at, Some(1_900_000_000));
        assert_eq!(c.meta.origin, Origin::Git);

        erase(&request("password=other\n"), &contoso(), &store).expect("erase");
        assert!(store.get(&contoso()).expect("get").is_some(), "a different password erases nothing");
        erase(&request("password=new\n"), &contoso(), &store).expect("erase");
        assert!(store.get(&contoso()).expect("get").is_none());

        stored(&store, "p", None);
        erase(&request(""), &contoso(), &store).expect("erase");
        assert!(store.get(&contoso()).expect("get").is_none(), "no password given erases");
    }

    #[test]
    fn storing_the_same_pat_keeps_its_metadata() {
        let store = MemoryStore::new();
        let meta = Metadata {
            origin: Origin::Login,
            stored_at: 5,
            authorization_id: Some("id".into()),
            ..Metadata::default()
        };
        store.put(&contoso(), &Credential { pat: Secret::new("p"), meta: meta.clone() }).expect("put");
        store_op(&request("password=p\n"), &contoso(), &settings(), &store).expect("store");
        let after = store.get(&contoso()).expect("get").expect("some").meta;
        assert!(after.last_validated.is_some_and(|t| t >= now() - 5), "git's success counts as a check");
        assert_eq!(Metadata { last_validated: None, ..after }, meta, "everything else is kept");
    }
}
