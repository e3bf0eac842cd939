//! `login` (a typed or piped PAT, or `--device` / `--browser`: sign in and mint one now) and `logout` (forget
//! the PAT, and with `--revoke` revoke it on Azure DevOps when it was minted here).

use std::io::{IsTerminal, Read};

use super::{open_org as open, Error, Outcome};
use crate::auth::{self, Asker, Method};
use crate::azure::connection_data::Verdict;
use crate::secret::Secret;
use crate::store::{Credential, Metadata, Provenance};
use crate::time::{now, timestamp};

/// Store a PAT typed at a hidden prompt or piped in, after Azure DevOps accepted it (unless
/// checks are off or nobody can tell).
pub fn login(arg: &str, account: Option<&str>, pat_stdin: bool) -> Result<Outcome, Error> {
    let (run, target) = open(arg, account)?;
    let typed = if pat_stdin {
        let mut input = String::new();
        std::io::stdin().take(64 * 1024).read_to_string(&mut input).map_err(Error::Stdin)?;
        Secret::from(input)
    } else if let Some(hint) = crate::prompt::no_console_prompt(cfg!(unix), false) {
        return Err(Error::CannotAsk(hint));
    } else if std::io::stdin().is_terminal() {
        let answer = gix_prompt::securely(crate::prompt::pat_prompt(&target))
            .map_err(|_| Error::CannotAsk("cannot prompt on this terminal: use --pat-stdin"))?;
        Secret::from(answer)
    } else {
        return Err(Error::CannotAsk("no terminal to prompt on: pipe the PAT in with --pat-stdin"));
    };
    let pat = crate::prompt::clean(typed.expose()).map(Secret::new).ok_or(Error::NoPat)?;
    let mut meta = Metadata { provenance: Provenance::Login, stored_at: now(), ..Metadata::default() };
    if run.settings.validate_interval.is_some() {
        meta.last_checked = Some(now());
        match run.validate(&target, &pat) {
            Verdict::Valid { user } => {
                run.messages.tell(format!("Azure DevOps accepts this PAT (signed in as {user})."));
                meta.last_validated = Some(now());
            }
            Verdict::Invalid { reason } => {
                return Err(Error::Refused(reason));
            }
            Verdict::Unknown { reason } => {
                run.messages.tell(format!("Could not check this PAT now ({reason}); storing it anyway."))
            }
        }
    }
    run.store.put(&target, &Credential { pat, meta })?;
    run.messages.tell(format!("Stored a PAT for {target} in the {} store.", run.store.kind()));
    Ok(Outcome::Done)
}

/// Sign in (`DeviceCode`: silently, else with the device code flow; `Browser`: in the browser,
/// always, to pick the account) and mint a PAT now; the PAT it replaces, when minted here too, is
/// revoked as renewal does.
pub fn login_minted(arg: &str, account: Option<&str>, way: Method) -> Result<Outcome, Error> {
    let (run, target) = open(arg, account)?;
    let session = auth::sign_in(&run, &target, Asker::Person, Some(way))?;
    let credential = auth::mint::mint_pat(&run, &target, &session)
        .map_err(|source| Error::Pats { target: target.to_string(), source })?;
    let replaced = run.store.get(&target)?.and_then(|c| c.meta.authorization_id);
    run.store.put(&target, &credential)?;
    if let Some(id) = replaced {
        match session.revoke(&run, &target, &id) {
            Ok(()) => run.messages.tell("Revoked the PAT it replaces."),
            Err(e) => run.messages.tell(format!("Could not revoke the PAT it replaces: {e}")),
        }
    }
    let until = credential.meta.expires_at.map(timestamp).unwrap_or_else(|| "an unknown date".into());
    run.messages.tell(format!(
        "Minted a PAT for {target} (scope {}, valid until {until}) and stored it in the {} store.",
        run.settings.scope,
        run.store.kind()
    ));
    Ok(Outcome::Done)
}

/// Forget the stored PAT; with `revoke`, first revoke it on Azure DevOps (only a PAT minted here
/// has a known authorization id).
pub fn logout(arg: &str, account: Option<&str>, revoke: bool) -> Result<Outcome, Error> {
    let (run, target) = open(arg, account)?;
    if revoke {
        match run.store.get(&target)?.and_then(|c| c.meta.authorization_id) {
            Some(id) => {
                let session = auth::sign_in(&run, &target, Asker::Person, None)?;
                session
                    .revoke(&run, &target, &id)
                    .map_err(|source| Error::Revoke { target: target.to_string(), source })?;
                run.messages.tell(format!("Revoked the PAT for {target} on Azure DevOps."));
            }
            None => run.messages.tell(format!(
                "The PAT for {target} was not minted here, so its authorization id is unknown: revoke it at {}.",
                target.tokens_url()
            )),
        }
    }
    // An access token kept for oauth mode (or after a refused mint) goes too.
    let had_token = auth::tokens::forget_access_token(&run, &target, None);
    if run.store.delete(&target)? {
        run.messages.tell(format!("Removed the PAT for {target} from the {} store.", run.store.kind()));
        Ok(Outcome::Done)
    } else if had_token {
        run.messages.tell(format!("Removed the access token kept for {target} from the {} store.", run.store.kind()));
        Ok(Outcome::Done)
    } else {
        Err(Error::NothingStored { target: target.to_string(), store: Some(run.store.kind()) })
    }
}
