//! `login` (a typed or piped PAT, or `--device` / `--browser`: sign in and mint one now) and `logout` (forget
//! the PAT, and with `--revoke` revoke it on Azure DevOps when it was minted here).

use std::io::{IsTerminal, Read};

use crate::auth::{self, Purpose};
use crate::azure::connection_data::Verdict;
use crate::azure::pats;
use crate::context::Context;
use crate::error::Error;
use crate::org::Target;
use crate::secret::Secret;
use crate::store::{Credential, Metadata, Origin};
use crate::time::{now, timestamp};

/// The context and target a verb's organization argument names, served by `account` (else the
/// configured `azdo.account`, if any).
fn open(arg: &str, account: Option<&str>) -> Result<(Context, Target), Error> {
    let (ctx, target) = Context::for_verb(Some(arg))?;
    let target = target.ok_or_else(|| Error::User("no organization given".into()))?;
    let target = ctx.with_account(target, account)?;
    Ok((ctx, target))
}

/// Store a PAT typed at a hidden prompt or piped in, after Azure DevOps accepted it (unless
/// checks are off or nobody can tell).
pub fn login(arg: &str, account: Option<&str>, pat_stdin: bool) -> Result<(), Error> {
    let (ctx, target) = open(arg, account)?;
    let typed = if pat_stdin {
        let mut input = String::new();
        std::io::stdin().take(64 * 1024).read_to_string(&mut input).map_err(Error::Stdin)?;
        Secret::from(input)
    } else if let Some(hint) = crate::prompt::no_console_prompt(cfg!(unix), false) {
        return Err(Error::User(hint.into()));
    } else if std::io::stdin().is_terminal() {
        let answer = gix_prompt::securely(crate::prompt::pat_prompt(&target))
            .map_err(|_| Error::User("cannot prompt on this terminal: use --pat-stdin".into()))?;
        Secret::from(answer)
    } else {
        return Err(Error::User("no terminal to prompt on: pipe the PAT in with --pat-stdin".into()));
    };
    let pat = crate::prompt::clean(typed.expose())
        .map(Secret::new)
        .ok_or_else(|| Error::User("no PAT given (empty, or it contains control characters)".into()))?;
    let mut meta = Metadata { origin: Origin::Login, stored_at: now(), ..Metadata::default() };
    if ctx.settings.validate_interval.is_some() {
        meta.last_checked = Some(now());
        match ctx.validate(&target, &pat) {
            Verdict::Valid { user } => {
                eprintln!("Azure DevOps accepts this PAT (signed in as {user}).");
                meta.last_validated = Some(now());
            }
            Verdict::Invalid { reason } => {
                return Err(Error::User(format!("Azure DevOps refused this PAT ({reason}); nothing was stored")));
            }
            Verdict::Unknown { reason } => eprintln!("Could not check this PAT now ({reason}); storing it anyway."),
        }
    }
    ctx.store.put(&target, &Credential { pat, meta })?;
    eprintln!("Stored a PAT for {target} in the {} store.", ctx.store.kind());
    Ok(())
}

/// Sign in (`Purpose::Device`: silently, else with the device code flow; `Purpose::Browser`: in
/// the browser) and mint a PAT now; the PAT it replaces,
/// when minted here too, is revoked as renewal does.
pub fn login_device(arg: &str, account: Option<&str>, purpose: Purpose) -> Result<(), Error> {
    let (ctx, target) = open(arg, account)?;
    let (client, tokens) = auth::sign_in(&ctx, &target, purpose)?;
    let credential = auth::mint_pat(&ctx, &target, &client, &tokens)
        .map_err(|source| Error::Pats { target: target.to_string(), source })?;
    let replaced = ctx.store.get(&target)?.and_then(|c| c.meta.authorization_id);
    ctx.store.put(&target, &credential)?;
    if let Some(id) = replaced {
        match pats::revoke(&client, &ctx.settings.vssps_url, target.name(), &tokens.access_token, &id) {
            Ok(()) => eprintln!("Revoked the PAT it replaces."),
            Err(e) => eprintln!("Could not revoke the PAT it replaces: {e}"),
        }
    }
    let until = credential.meta.expires_at.map(timestamp).unwrap_or_else(|| "an unknown date".into());
    eprintln!(
        "Minted a PAT for {target} (scope {}, valid until {until}) and stored it in the {} store.",
        ctx.settings.scope,
        ctx.store.kind()
    );
    Ok(())
}

/// Forget the stored PAT; with `revoke`, first revoke it on Azure DevOps (only a PAT minted here
/// has a known authorization id).
pub fn logout(arg: &str, account: Option<&str>, revoke: bool) -> Result<(), Error> {
    let (ctx, target) = open(arg, account)?;
    if revoke {
        match ctx.store.get(&target)?.and_then(|c| c.meta.authorization_id) {
            Some(id) => {
                let (client, tokens) = auth::sign_in(&ctx, &target, Purpose::Command)?;
                pats::revoke(&client, &ctx.settings.vssps_url, target.name(), &tokens.access_token, &id)
                    .map_err(|source| Error::Revoke { target: target.to_string(), source })?;
                eprintln!("Revoked the PAT for {target} on Azure DevOps.");
            }
            None => eprintln!(
                "The PAT for {target} was not minted here, so its authorization id is unknown: revoke it at {}.",
                target.tokens_url()
            ),
        }
    }
    // An access token kept for oauth mode (or after a refused mint) goes too.
    let had_token = auth::forget_access_token(&ctx, &target, None);
    if ctx.store.delete(&target)? {
        eprintln!("Removed the PAT for {target} from the {} store.", ctx.store.kind());
        Ok(())
    } else if had_token {
        eprintln!("Removed the access token kept for {target} from the {} store.", ctx.store.kind());
        Ok(())
    } else {
        Err(Error::User(format!("no PAT stored for {target} in the {} store", ctx.store.kind())))
    }
}
