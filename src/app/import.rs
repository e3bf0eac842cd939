//! `import`: adopt PATs that Git Credential Manager (`git:https://dev.azure.com/ORG`) or the Azure
//! CLI (`azdevops-cli:https://dev.azure.com/ORG`) left in the same OS store. It shows what it
//! found, checks each with Azure DevOps (unless offline), stores the ones confirmed, and never
//! deletes the originals. Linux (Secret Service) only; elsewhere it says so.

use std::io::IsTerminal;

use super::{open, Error as AppError, Outcome};
use crate::azure::connection_data::Verdict;
use crate::jwt::looks_like_jwt;
use crate::org::{Instances, Target};
use crate::secret::Secret;
use crate::store::{Credential, Metadata, Provenance};
use crate::time::now;

/// Why the OS store could not be searched.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the Secret Service did not answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("{0}")]
    SecretService(String),
    #[error("import reads the Secret Service, which only Linux has; on this system, use git credential-azdo login")]
    Unsupported,
}

/// One PAT another tool stored.
#[derive(Debug)]
pub struct Found {
    pub source: &'static str,
    pub org: Target,
    /// The account the tool recorded (GCM: the UPN), when any.
    pub account: Option<String>,
    pub pat: Secret,
}

#[allow(clippy::print_stdout)] // what was found and adopted is the command's output
pub fn run(yes: bool, offline: bool) -> Result<Outcome, AppError> {
    let (run, _) = open(None, None)?;
    let store = run.store.as_ref();
    let found = find(run.settings.keyring_timeout)?;
    if found.is_empty() {
        run.messages.tell("No PATs from Git Credential Manager or the Azure CLI in the OS keyring.");
        return Ok(Outcome::Done);
    }
    let can_ask = std::io::stdin().is_terminal();
    let mut held_back = 0;
    for f in found {
        // Another tool's item names an org of the real service; it is kept on the configured origin.
        let org = &match &f.org {
            Target::Services { org, .. } => Target::org_in(&run.settings.instances.services, org)?,
            other => other.clone(),
        };
        let from = match &f.account {
            Some(account) => format!("{} ({account})", f.source),
            None => f.source.to_owned(),
        };
        match store.get(org)? {
            Some(c) if c.pat == f.pat => {
                println!("{org}: from {from}: already stored");
                continue;
            }
            Some(_) => {
                println!("{org}: from {from}: not adopted: a PAT is already stored (logout {org} first to replace it)");
                continue;
            }
            None => {}
        }
        if looks_like_jwt(f.pat.expose()) {
            println!("{org}: from {from}: a sign-in token, not a PAT; not adopted");
            continue;
        }
        let verdict = (!offline).then(|| run.validate(org, &f.pat));
        match &verdict {
            None => println!("{org}: from {from}: not checked"),
            Some(Verdict::Valid { user }) => println!("{org}: from {from}: valid (signed in as {user})"),
            Some(Verdict::Invalid { reason }) if crate::azure::connection_data::global_pat_retired(reason) => {
                let (what, fix) = super::doctor::global_pat_advice(org, reason);
                println!("{org}: from {from}: not adopted: {what}; {fix}");
                continue;
            }
            Some(Verdict::Invalid { reason }) => {
                println!("{org}: from {from}: invalid ({reason}); not adopted");
                continue;
            }
            Some(Verdict::Unknown { reason }) => println!("{org}: from {from}: could not check ({reason})"),
        }
        let adopt = yes
            || (can_ask
                && gix_prompt::openly(format!("Adopt the PAT for {org} from {}? [y/N] ", f.source))
                    .is_ok_and(|a| matches!(a.trim(), "y" | "Y" | "yes")));
        if !adopt {
            held_back += 1;
            continue;
        }
        let meta = Metadata {
            provenance: Provenance::Imported,
            stored_at: now(),
            last_validated: matches!(verdict, Some(Verdict::Valid { .. })).then(now),
            ..Metadata::default()
        };
        store.put(org, &Credential { pat: f.pat, meta })?;
        println!("{org}: adopted into the {} store (the original is kept)", store.kind());
    }
    if held_back > 0 && !can_ask {
        run.messages.tell("Nothing adopted without confirmation: run with --yes to adopt what was found.");
    }
    Ok(Outcome::Done)
}

/// Which tool wrote an item with this `service` attribute, and for which org.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the search is Linux's Secret Service
pub fn classify(service: &str) -> Option<(&'static str, Target)> {
    let (source, url) = if let Some(url) = service.strip_prefix("git:") {
        ("Git Credential Manager", url)
    } else if let Some(url) = service.strip_prefix("azdevops-cli:") {
        ("Azure CLI", url.trim())
    } else {
        return None;
    };
    if !url.starts_with("https://") {
        return None;
    }
    Target::from_arg(url, &Instances::default()).ok().map(|org| (source, org))
}

#[cfg(target_os = "linux")]
pub fn find(timeout: std::time::Duration) -> Result<Vec<Found>, Error> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(search());
    });
    rx.recv_timeout(timeout).map_err(|_| Error::Timeout(timeout))?
}

#[cfg(target_os = "linux")]
fn search() -> Result<Vec<Found>, Error> {
    use dbus_secret_service::{EncryptionType, SecretService};
    let text = |e: dbus_secret_service::Error| Error::SecretService(crate::text::printable(&e.to_string()));
    let ss = SecretService::connect(EncryptionType::Dh).map_err(text)?;
    let mut found = Vec::new();
    for collection in ss.get_all_collections().map_err(text)? {
        if collection.is_locked().unwrap_or(true) {
            continue;
        }
        for item in collection.get_all_items().map_err(text)? {
            let Ok(attributes) = item.get_attributes() else { continue };
            let Some((source, org)) = attributes.get("service").and_then(|s| classify(s)) else { continue };
            let Ok(secret) = item.get_secret() else { continue };
            let Ok(pat) = String::from_utf8(secret) else { continue };
            let pat = pat.trim().to_owned();
            if pat.is_empty() || pat.chars().any(char::is_control) {
                continue;
            }
            let account =
                attributes.get("account").or_else(|| attributes.get("username")).map(|a| crate::text::printable(a));
            found.push(Found { source, org, account, pat: Secret::new(pat) });
        }
    }
    found.sort_by(|a, b| (a.org.name(), a.source).cmp(&(b.org.name(), b.source)));
    Ok(found)
}

#[cfg(not(target_os = "linux"))]
pub fn find(_timeout: std::time::Duration) -> Result<Vec<Found>, Error> {
    Err(Error::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_of_other_tools_are_recognised() {
        let (source, org) = classify("git:https://dev.azure.com/Contoso").expect("gcm");
        assert_eq!((source, org.name()), ("Git Credential Manager", "contoso"));
        let (source, org) = classify("azdevops-cli:https://dev.azure.com/fabrikam").expect("az");
        assert_eq!((source, org.name()), ("Azure CLI", "fabrikam"));
        assert_eq!(
            classify("git:https://contoso.visualstudio.com").map(|(_, o)| o.name().to_owned()).as_deref(),
            Some("contoso")
        );
        for other in [
            "git:https://github.com",
            "azdevops-cli: default",
            "git:http://dev.azure.com/x",
            "gh:github.com",
            "git-credential-azdo:https://dev.azure.com/x",
        ] {
            assert!(classify(other).is_none(), "{other}");
        }
    }
}
