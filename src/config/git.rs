//! A snapshot of git's configuration, reduced to the keys this helper reads, and which keys those
//! are: read in process ([`super::files`]) when the configuration is inside its whitelist, else
//! one `git config -z --list --show-origin`. Whether the snapshot comes from the config cache
//! instead (so the hot path runs no `git` at all) is decided in `config::load`; this module knows
//! nothing of the cache.

use std::path::PathBuf;

/// Whether this helper reads `key`: only these are kept (and cached), so no other config value,
/// secret or not, is copied anywhere.
pub fn is_relevant(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.starts_with("azdo.")
        || lower == "core.askpass"
        || (lower.starts_with("credential.") && lower.ends_with(".interactive"))
        || (lower.starts_with("credential.") && lower.rsplit('.').next().is_some_and(|n| n.starts_with("azrepos")))
        // Git Credential Manager's binding of an account to an org.
        || (lower.starts_with("credential.azrepos:org/") && lower.ends_with(".username"))
}

/// Whether `key` holds a secret (a client secret, a federation assertion): a snapshot with one
/// is never written to the config cache.
pub fn holds_secret(key: &str) -> bool {
    let name = key.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    matches!(
        name.as_str(),
        "serviceprincipalsecret"
            | "workloadfederationassertion"
            | "azreposserviceprincipalsecret"
            | "azreposworkloadfederationassertion"
    )
}

/// git's network settings this helper honours. Read only when a request is to be made, never
/// cached (a proxy URL may carry a password).
pub fn is_network(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.starts_with("http.")
        && (lower.ends_with(".proxy") || lower.ends_with(".sslcainfo") || lower.ends_with(".sslverify"))
}

/// A snapshot of git's configuration (all scopes, includes resolved by git), in git's order.
#[derive(Default, Clone)]
pub struct GitConfig {
    /// (key with section and name lower-cased, value; `None` for a bare boolean key).
    pub(super) entries: Vec<(String, Option<String>)>,
    /// Whether the network keys are in it (not when it came from the cache).
    pub(super) complete: bool,
}

/// Keys only: values (a proxy URL, say) may hold a password.
impl std::fmt::Debug for GitConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitConfig")
            .field("keys", &self.entries.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())
            .field("complete", &self.complete)
            .finish()
    }
}

impl GitConfig {
    /// The configuration straight from git, never from the cache.
    pub fn load_fresh() -> GitConfig {
        GitConfig::read_from_git().0
    }

    /// One `git config --list --show-origin`, reduced to what this helper reads; with the files
    /// the entries came from (`None` if any came from elsewhere, like `git -c`).
    pub(super) fn read_from_git() -> (GitConfig, Option<Vec<PathBuf>>) {
        let env = |name: &str| std::env::var_os(name);
        match std::env::current_dir().map_err(|_| super::files::Decline("no current directory")) {
            Ok(cwd) => match super::files::list(&env, &cwd) {
                Ok(listed) => return GitConfig::from_listed(listed),
                Err(why) => tracing::debug!(why = why.0, "git config is left to git"),
            },
            Err(why) => tracing::debug!(why = why.0, "git config is left to git"),
        }
        tracing::debug!("running git config --list");
        let out = match crate::git::run(["config", "-z", "--list", "--show-origin"]) {
            Ok(out) if out.success() => out.stdout,
            Ok(_) | Err(_) => {
                tracing::debug!("git config --list gave nothing; using defaults");
                return (GitConfig { entries: Vec::new(), complete: true }, None);
            }
        };
        let (config, origins) = GitConfig::parse_z_with_origins(&out);
        let entries = config.entries.into_iter().filter(|(k, _)| is_relevant(k) || is_network(k)).collect();
        let files = origins.iter().map(|o| o.strip_prefix("file:").map(PathBuf::from)).collect();
        (GitConfig { entries, complete: true }, files)
    }

    /// What [`super::files`] read in process, as [`GitConfig::read_from_git`] gives it.
    fn from_listed(listed: Vec<super::files::Listed>) -> (GitConfig, Option<Vec<PathBuf>>) {
        tracing::debug!("git config read in process");
        let files = listed
            .iter()
            .map(|l| match &l.origin {
                super::files::Origin::File(path) => Some(path.clone()),
                super::files::Origin::CommandLine => None,
            })
            .collect();
        let entries = listed
            .into_iter()
            .filter(|l| is_relevant(&l.key) || is_network(&l.key))
            .map(|l| (l.key, l.value))
            .collect();
        (GitConfig { entries, complete: true }, files)
    }

    /// Parse `git config -z --list --show-origin`: `origin\0key\nvalue\0` (or `origin\0key\0`).
    pub fn parse_z_with_origins(bytes: &[u8]) -> (GitConfig, Vec<String>) {
        let mut fields = bytes.split(|b| *b == 0);
        let mut lines = Vec::new();
        let mut origins = Vec::new();
        while let (Some(origin), Some(entry)) = (fields.next(), fields.next()) {
            let origin = String::from_utf8_lossy(origin).into_owned();
            if !origins.contains(&origin) {
                origins.push(origin);
            }
            lines.extend_from_slice(entry);
            lines.push(0);
        }
        (GitConfig::parse_z(&lines), origins)
    }

    /// Parse `git config -z --list` output: `key\nvalue\0`, or `key\0` for a bare key.
    pub fn parse_z(bytes: &[u8]) -> GitConfig {
        let entries = bytes
            .split(|b| *b == 0)
            .filter(|e| !e.is_empty())
            .map(|entry| {
                let entry = String::from_utf8_lossy(entry);
                match entry.split_once('\n') {
                    Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
                    None => (entry.into_owned(), None),
                }
            })
            .collect();
        GitConfig { entries, complete: true }
    }

    /// Every value of a plain `section.name` key, in order (bare keys are skipped).
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.entries.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key)).filter_map(|(_, v)| v.as_deref()).collect()
    }

    /// The last value of a plain `section.name` key (`Some(None)` for a bare boolean key).
    pub fn get(&self, key: &str) -> Option<Option<&str>> {
        self.entries.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_deref())
    }

    /// The value of `section.name` for `url` under git's urlmatch rules ([`super::urlmatch`]).
    pub fn get_urlmatch(&self, key: &str, url: &str) -> Option<Option<&str>> {
        super::urlmatch::best(&self.entries, key, url)
    }

    /// Every entry, in git's order (for `doctor`, which reads `credential.*` itself).
    pub fn entries(&self) -> &[(String, Option<String>)] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised_in_every_form() {
        for key in [
            "azdo.servicePrincipalSecret",
            "azdo.https://dev.azure.com/x.serviceprincipalsecret",
            "credential.azreposServicePrincipalSecret",
            "credential.https://dev.azure.com.azreposWorkloadFederationAssertion",
            "azdo.workloadFederationAssertion",
        ] {
            assert!(holds_secret(key) && is_relevant(key), "{key}");
        }
        assert!(!holds_secret("azdo.servicePrincipal") && !holds_secret("credential.helper"));
    }

    fn config(pairs: &[(&str, &str)]) -> GitConfig {
        GitConfig { complete: true, entries: pairs.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect() }
    }

    #[test]
    fn parses_show_origin_output_and_keeps_order() {
        let raw = b"file:/etc/gitconfig\0azdo.store\nfile\0command line:\0azdo.interactive\0file:/h/.gitconfig\0core.askpass\n/a\0";
        let (c, origins) = GitConfig::parse_z_with_origins(raw);
        assert_eq!(origins, ["file:/etc/gitconfig", "command line:", "file:/h/.gitconfig"]);
        assert_eq!(c.get("azdo.store"), Some(Some("file")));
        assert_eq!(c.get("azdo.interactive"), Some(None));
        assert_eq!(c.get("core.askPass"), Some(Some("/a")));
    }

    #[test]
    fn only_settings_of_this_helper_are_relevant() {
        for key in [
            "azdo.store",
            "azdo.https://dev.azure.com/x.interactive",
            "core.askpass",
            "credential.interactive",
            "credential.https://x.interactive",
        ] {
            assert!(is_relevant(key), "{key}");
        }
        for key in ["http.extraheader", "user.name", "credential.helper", "remote.origin.url", "core.editor"] {
            assert!(!is_relevant(key), "{key}");
        }
    }

    #[test]
    fn parses_list_z_output() {
        let c = GitConfig::parse_z(b"core.askpass\n/bin/ask\0azdo.interactive\0user.name\nA\nB\0");
        assert_eq!(c.get("core.askPass"), Some(Some("/bin/ask")));
        assert_eq!(c.get("azdo.interactive"), Some(None));
        assert_eq!(c.get("user.name"), Some(Some("A\nB")));
        assert_eq!(c.get("missing.key"), None);
    }

    #[test]
    fn urlmatch_prefers_the_most_specific_entry() {
        let c = config(&[
            ("azdo.https://dev.azure.com/contoso.interactive", "false"),
            ("azdo.interactive", "true"),
            ("azdo.https://dev.azure.com.interactive", "yes"),
            ("azdo.https://*.visualstudio.com.interactive", "wild"),
            ("azdo.https://fabrikam.visualstudio.com.interactive", "exact"),
            ("azdo.https://fabrikam.visualstudio.com.interactive", "exact-later"),
        ]);
        let get = |url| c.get_urlmatch("azdo.interactive", url).flatten();
        assert_eq!(get("https://dev.azure.com/contoso"), Some("false"));
        assert_eq!(get("https://dev.azure.com/contoso/proj/_git/r"), Some("false"));
        assert_eq!(get("https://dev.azure.com/contosox"), Some("yes"));
        assert_eq!(get("https://dev.azure.com:443/other"), Some("yes"));
        assert_eq!(get("https://other.visualstudio.com"), Some("wild"));
        assert_eq!(get("https://fabrikam.visualstudio.com"), Some("exact-later"));
        assert_eq!(get("https://example.com"), Some("true"));
        assert_eq!(get("http://dev.azure.com/contoso"), Some("true"));
    }

    #[test]
    fn debug_output_shows_no_config_values() {
        let c = config(&[("http.proxy", "http://user:hunter2@proxy:3128")]);
        let shown = format!("{c:?}");
        assert!(shown.contains("http.proxy") && !shown.contains("hunter2"), "{shown}");
    }
}
