//! The three operations git runs: `get`, `store`, `erase`, over a [`Context`].
//!
//! `get` is a pipeline of sources tried in order: the `AZURE_DEVOPS_EXT_PAT` variable; the stored
//! PAT, checked against Azure DevOps when a check is due ([`crate::check`]) and renewed when due
//! ([`crate::auth::renew`]); then a new one, minted after an Entra sign-in ([`crate::auth`]) or
//! typed at a prompt. A dead PAT is removed and replaced within the same `get`, so git's command
//! succeeds instead of failing once. Nothing to offer means no output.

use std::io::{Read, Write};
use std::time::Duration;

use crate::auth::{self, Obtained};
use crate::check::{self, looks_like_jwt};
use crate::config::{self, GitConfig, Settings};
use crate::context::Context;
use crate::error::Error;
use crate::identity;
use crate::org::{self, Origins, Resolution, Target};
use crate::protocol::{self, Answer, Operation, Request};
use crate::secret::Secret;
use crate::store::{Credential, Metadata, Origin};
use crate::text::printable;
use crate::time::now;

/// Run one operation: read the request from `input`, answer on `out` (for `get`).
pub fn run(op: Operation, input: impl Read, out: &mut impl Write) -> Result<(), Error> {
    let request = protocol::read_request(input)?;
    let snapshot = config::EnvSnapshot::take();
    let env = |name: &str| snapshot.var(name);
    // For other hosts nothing is written, not even the config cache; for ours the cache is used.
    let (config, save) = GitConfig::load_readonly_with_save();
    // With `azdo.url` naming another origin, that origin replaces dev.azure.com (its PATs must
    // never go elsewhere); `azdo.server` adds collections.
    let url = org::UrlParts {
        protocol: &request.protocol,
        host: &request.host,
        path: request.path.as_deref(),
        username: request.username.as_deref(),
    };
    let origins = match config::origins(&config, &env) {
        Ok(origins) => origins,
        Err(e) if org::resolve(&url, &Origins::default()) == Resolution::NotOurs => {
            tracing::debug!(error = %e, "azdo.url or azdo.server unusable");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let Some(target) = target(op, &request, org::resolve(&url, &origins)) else {
        return Ok(());
    };
    tracing::debug!(%target, "resolved the request");
    save.remember(&config);
    let ctx = Context::open(Settings::from_sources(config, origins, Some(&target), &env)?);
    // The account whose credential serves this URL: a URL user name with '@' names it, else
    // `azdo.account` (or Git Credential Manager's binding). Without one: one PAT per org.
    // A URL user name that is no account name (outside the UPN alphabet, too long) names none.
    let url_account = request.username.as_deref().filter(|u| u.contains('@')).filter(|u| {
        let valid = org::account_name(u).is_ok();
        if !valid {
            tracing::debug!("the URL's user name is not an account name; ignoring it");
        }
        valid
    });
    let target = target.with_account(url_account.or(ctx.settings.account.as_deref()))?;
    tracing::info!(op = ?op, %target, store = ctx.store.kind(), "request");
    match op {
        Operation::Get => get(&ctx, &request, &target, out),
        Operation::Store => store(&ctx, &request, &target),
        Operation::Erase => erase(&ctx, &request, &target),
    }
}

/// The request's target, or `None` (with a one-line hint on `get` where one helps).
fn target(op: Operation, request: &Request, resolution: Resolution) -> Option<Target> {
    let warn = |msg: String| {
        if op == Operation::Get {
            eprintln!("git-credential-azdo: {msg}");
        }
    };
    match resolution {
        Resolution::Target(target) => return Some(target),
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

fn get(ctx: &Context, request: &Request, target: &Target, out: &mut impl Write) -> Result<(), Error> {
    let (settings, store) = (&ctx.settings, ctx.store.as_ref());
    let answer = |password: Secret, expiry: Option<i64>, stored_user: Option<&str>| Answer {
        username: request
            .username
            .clone()
            .or(stored_user.map(str::to_owned))
            .unwrap_or_else(|| target.default_username().to_owned()),
        password,
        password_expiry_utc: expiry,
    };
    // A build identity comes first and is authoritative: when it fails, git is told to stop
    // (`quit=1`), so no PAT, prompt or other helper stands in for it.
    if let Some(identity) = identity::choose(settings, target) {
        tracing::info!(%target, identity = identity.kind(), why = %identity.why(), "answering with a build identity");
        return match identity::token(ctx, target, &identity) {
            Ok(token) => write_token(request, target, token.token, token.expires_at, out),
            Err(e) => {
                let _ = protocol::write_quit(out);
                Err(Error::Identity(e))
            }
        };
    }
    // The Azure CLI's variable holds a PAT of the real service: never for a Server collection or
    // another `azdo.url` origin.
    if let Some(pat) = settings.env_pat.as_ref().filter(|_| target.is_real_service()) {
        tracing::info!(%target, source = config::PAT_ENV, "answering from the environment");
        return write(&answer(pat.clone(), None, None), out);
    }
    match store.get(target)? {
        // A PAT git cannot be given (a line break or NUL in it) would fail every `get`.
        Some(credential) if !protocol::is_writable(&credential.pat) => {
            store.delete_if(target, &credential.pat)?;
            eprintln!(
                "git-credential-azdo: the stored PAT for {target} holds control characters git cannot take; removed it"
            );
        }
        Some(credential) => {
            let ask = |pat: &Secret| ctx.validate(target, pat);
            match check::check(target, &credential, settings.validate_interval, store, ask) {
                Ok(()) => {
                    let Credential { pat, meta } = auth::renew::renew(ctx, target, credential)?;
                    if live(meta.expires_at) {
                        tracing::info!(%target, store = store.kind(), "answering with the stored PAT");
                        return write(&answer(pat, meta.expires_at, meta.username.as_deref()), out);
                    }
                    tracing::info!(%target, "the PAT renewal left has expired; obtaining a new one");
                }
                Err(reason) => {
                    // Only that PAT: another git process may have stored a new one meanwhile.
                    store.delete_if(target, &credential.pat)?;
                    eprintln!(
                        "git-credential-azdo: the stored PAT for {target} is no longer valid ({reason}); removed it"
                    );
                    tracing::info!(%target, "removed a dead PAT; obtaining a new one");
                }
            }
        }
        None => tracing::info!(%target, store = store.kind(), "no stored PAT"),
    }
    // Sign in and mint one. Parallel git processes wait for each other here, then find the PAT.
    if settings.may_mint(target) {
        match auth::org_lock(ctx, target, Duration::from_secs(120)) {
            // Another process is still signing in: a second sign-in would mint a second PAT.
            None => eprintln!(
                "git-credential-azdo: another git process is signing in for {target}; not starting a second sign-in"
            ),
            Some(_lock) => {
                if let Some(Credential { pat, meta }) =
                    store.get(target)?.filter(|c| live(c.meta.expires_at) && protocol::is_writable(&c.pat))
                {
                    tracing::info!(%target, "another git process stored a PAT meanwhile");
                    return write(&answer(pat, meta.expires_at, meta.username.as_deref()), out);
                }
                match auth::obtain(ctx, target) {
                    // A minted PAT already past its expiry (a skewed clock, a broken reply) is not
                    // handed to git.
                    Some(Obtained::Pat(Credential { pat, meta })) if live(meta.expires_at) => {
                        return write(&answer(pat, meta.expires_at, None), out);
                    }
                    Some(Obtained::Pat(_)) => {
                        eprintln!("git-credential-azdo: the PAT minted for {target} has already expired; not using it");
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
    if let Some(pat) = crate::prompt::ask_pat(target, settings) {
        return write(&answer(pat, None, None), out);
    }
    tracing::info!(%target, "nothing to offer");
    Ok(())
}

/// Whether a credential with this known expiry may still be handed to git.
fn live(expires_at: Option<i64>) -> bool {
    expires_at.is_none_or(|t| t > now())
}

fn write(answer: &Answer, out: &mut impl Write) -> Result<(), Error> {
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

fn store(ctx: &Context, request: &Request, target: &Target) -> Result<(), Error> {
    let store = ctx.store.as_ref();
    if request.ephemeral {
        tracing::info!(%target, "an ephemeral or pre-encoded credential (an access token); never stored");
        return Ok(());
    }
    let Some(password) = &request.password else {
        tracing::info!(%target, "store without a password; ignored");
        return Ok(());
    };
    if ctx.settings.env_pat.as_ref() == Some(password) {
        tracing::info!(%target, "the PAT came from the environment; not storing it");
        return Ok(());
    }
    if looks_like_jwt(password.expose()) || identity::choose(&ctx.settings, target).is_some() {
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
        if existing.meta.origin == Origin::Minted {
            tracing::info!(%target, "keeping the minted PAT; not replacing it with the one git reported");
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
    store.put(target, &Credential { pat: password.clone(), meta })?;
    tracing::info!(%target, store = store.kind(), "stored the PAT git confirmed");
    Ok(())
}

fn erase(ctx: &Context, request: &Request, target: &Target) -> Result<(), Error> {
    let store = ctx.store.as_ref();
    // A refused access token (it comes with no password) says nothing about a stored PAT.
    if identity::choose(&ctx.settings, target).is_some() {
        tracing::info!(%target, "erase of a build identity's token; nothing is stored");
        return Ok(());
    }
    if request.ephemeral {
        tracing::info!(%target, "erase of an access token; the stored PAT is left alone");
        auth::forget_access_token(ctx, target, None);
        return Ok(());
    }
    // A rejected access token handed out as a password (git without the authtype capability).
    if let Some(password) = request.password.as_ref().filter(|p| looks_like_jwt(p.expose())) {
        auth::forget_access_token(ctx, target, Some(password));
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
        Some(password) if *password != existing.pat => {
            tracing::info!(%target, "erase for a different PAT; keeping the stored one");
        }
        _ => {
            auth::revoke_rejected(ctx, target, &existing);
            store.delete_if(target, &existing.pat)?;
            tracing::info!(%target, store = store.kind(), "erased the stored PAT");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    /// A context over an empty memory store, with prompts off.
    fn ctx() -> Context {
        let env = |name: &str| (name == "GIT_TERMINAL_PROMPT").then(|| "0".into());
        let settings = Settings::from_sources(GitConfig::default(), Origins::default(), None, &env).expect("valid");
        Context::new(settings, Box::new(MemoryStore::new()))
    }

    fn request(extra: &str) -> Request {
        protocol::parse_request(
            format!("protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n{extra}").as_bytes(),
        )
        .expect("valid")
    }

    fn contoso() -> Target {
        Target::org("contoso").expect("valid")
    }

    fn stored(ctx: &Context, pat: &str, expires_at: Option<i64>) {
        let meta = Metadata { expires_at, ..Metadata::default() };
        ctx.store.put(&contoso(), &Credential { pat: Secret::new(pat), meta }).expect("put");
    }

    fn get_output(ctx: &Context, extra: &str) -> String {
        let mut out = Vec::new();
        get(ctx, &request(extra), &contoso(), &mut out).expect("get");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn get_answers_with_stored_pat_and_expiry() {
        let ctx = ctx();
        stored(&ctx, "pat-1", Some(now() + 3600));
        let out = get_output(&ctx, "");
        assert!(out.starts_with("username=contoso\npassword=pat-1\npassword_expiry_utc="), "{out}");
        assert_eq!(get_output(&ctx, "username=me\n").lines().next(), Some("username=me"));
    }

    #[test]
    fn get_removes_an_expired_pat_and_prints_nothing_without_prompts() {
        let ctx = ctx();
        stored(&ctx, "old", Some(now() - 1));
        assert_eq!(get_output(&ctx, ""), "");
        assert!(ctx.store.get(&contoso()).expect("get").is_none(), "an expired PAT must be removed");
    }

    #[test]
    fn store_replaces_and_erase_matches_the_password() {
        let ctx = ctx();
        store(&ctx, &request("username=u\npassword=new\npassword_expiry_utc=1900000000\n"), &contoso()).expect("store");
        let c = ctx.store.get(&contoso()).expect("get").expect("stored");
        assert_eq!(c.pat, Secret::new("new"));
        assert_eq!(c.meta.expires_at, Some(1_900_000_000));
        assert_eq!(c.meta.origin, Origin::Git);

        erase(&ctx, &request("password=other\n"), &contoso()).expect("erase");
        assert!(ctx.store.get(&contoso()).expect("get").is_some(), "a different password erases nothing");
        erase(&ctx, &request("password=new\n"), &contoso()).expect("erase");
        assert!(ctx.store.get(&contoso()).expect("get").is_none());

        stored(&ctx, "p", None);
        erase(&ctx, &request("password=\n"), &contoso()).expect("erase");
        assert!(ctx.store.get(&contoso()).expect("get").is_some(), "an empty password erases nothing");
        erase(&ctx, &request(""), &contoso()).expect("erase");
        assert!(ctx.store.get(&contoso()).expect("get").is_none(), "no password given erases");
    }

    #[test]
    fn an_ephemeral_credential_is_neither_stored_nor_erases_the_stored_pat() {
        let ctx = ctx();
        stored(&ctx, "pat", None);
        let bearer = "capability[]=authtype\nauthtype=Bearer\ncredential=eyJ.a.b\nephemeral=1\n";
        erase(&ctx, &request(bearer), &contoso()).expect("erase");
        assert!(ctx.store.get(&contoso()).expect("get").is_some(), "a refused token erases no PAT");
        store(&ctx, &request("username=u\npassword=other\nephemeral=1\n"), &contoso()).expect("store");
        assert_eq!(ctx.store.get(&contoso()).expect("get").expect("some").pat, Secret::new("pat"));
    }

    #[test]
    fn storing_the_same_pat_keeps_its_metadata() {
        let ctx = ctx();
        let meta = Metadata {
            origin: Origin::Login,
            stored_at: 5,
            authorization_id: Some("id".into()),
            ..Metadata::default()
        };
        ctx.store.put(&contoso(), &Credential { pat: Secret::new("p"), meta: meta.clone() }).expect("put");
        store(&ctx, &request("password=p\n"), &contoso()).expect("store");
        let after = ctx.store.get(&contoso()).expect("get").expect("some").meta;
        assert!(after.last_validated.is_some_and(|t| t >= now() - 5), "git's success counts as a check");
        assert_eq!(Metadata { last_validated: None, ..after }, meta, "everything else is kept");
    }
}
