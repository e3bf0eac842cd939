//! `import`: adopt PATs that Git Credential Manager (`git:https://dev.azure.com/ORG`) or the Azure
//! CLI (`azdevops-cli:https://dev.azure.com/ORG`) left in the same OS store. It shows what it
//! found, checks each with Azure DevOps (unless offline), stores the ones confirmed, and never
//! deletes the originals. Linux (Secret Service) only; elsewhere it says so.

use crate::org::Org;
use crate::secret::Secret;

/// One PAT another tool stored.
#[derive(Debug)]
pub struct Found {
    pub source: &'static str,
    pub org: Org,
    /// The account the tool recorded (GCM: the UPN), when any.
    pub account: Option<String>,
    pub pat: Secret,
}

/// Which tool wrote an item with this `service` attribute, and for which org.
pub fn classify(service: &str) -> Option<(&'static str, Org)> {
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
    Org::from_arg(url).ok().map(|org| (source, org))
}

#[cfg(target_os = "linux")]
pub fn find(timeout: std::time::Duration) -> Result<Vec<Found>, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(search());
    });
    rx.recv_timeout(timeout).map_err(|_| format!("the Secret Service did not answer within {timeout:?}"))?
}

#[cfg(target_os = "linux")]
fn search() -> Result<Vec<Found>, String> {
    use dbus_secret_service::{EncryptionType, SecretService};
    let text = |e: dbus_secret_service::Error| crate::text::printable(&e.to_string());
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
pub fn find(_timeout: std::time::Duration) -> Result<Vec<Found>, String> {
    Err("import reads the Secret Service, which only Linux has; on this system, use git credential-azdo login".into())
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
