//! Which Azure DevOps organization a request is for: from the URL path, the URL's username or the
//! legacy `{org}.visualstudio.com` host, or which Azure DevOps Server collection (declared in
//! `azdo.server`). Hosts are matched exactly; names are validated and compared case-insensitively
//! (stored lower-case). A [`Target`] knows its one URL, on whatever origin it was found.

use std::fmt;

use crate::text::printable;

mod resolve;

pub use self::resolve::{resolve, Resolution, UrlParts};

/// The Azure DevOps Services host.
pub const SERVICES_HOST: &str = "dev.azure.com";
const LEGACY_SUFFIX: &str = ".visualstudio.com";

/// What one PAT is for: an Azure DevOps Services organization on its origin (dev.azure.com, or
/// the `azdo.url` origin), or an Azure DevOps Server collection, which plays the org's role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// `org` is a validated name, lower-case; `account` the account (UPN, lower-case) whose
    /// credential serves it, when one is named (`azdo.account`, a URL user name with `@`).
    Services { origin: ServiceUrl, org: String, account: Option<String> },
    /// `collection` is the normalised collection URL, lower-case.
    Server { collection: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("'{0}' is not a valid Azure DevOps organization name (letters, digits, '-' and '_', at most 50)")]
    InvalidName(String),
    #[error("'{0}' is not a valid account name (expected a user principal name such as alice@contoso.com)")]
    InvalidAccount(String),
    #[error("'{0}' is not an Azure DevOps URL (expected https://dev.azure.com/ORG or https://ORG.visualstudio.com)")]
    NotAzureDevOps(String),
    #[error("the URL '{0}' does not name an organization: use https://dev.azure.com/ORG")]
    NoOrganization(String),
    #[error("'{0}' is not a valid Azure DevOps Server collection URL: {1}")]
    InvalidServer(String, &'static str),
    #[error("{0}")]
    BadOrigin(&'static str),
}

/// The instances this helper serves: the Services origin (`azdo.url`) and the declared Azure DevOps
/// Server collections (`azdo.server`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instances {
    pub services: ServiceUrl,
    /// Only [`Target::Server`]s.
    pub servers: Vec<Target>,
}

impl Instances {
    /// Whether this is the default: dev.azure.com and no Server collection.
    pub fn is_default(&self) -> bool {
        *self == Instances::default()
    }
}

/// Validate an organization name: ASCII letters, digits, '-' and '_', not starting or ending with
/// '-', 1 to 50 long. Lower-cased.
pub(crate) fn org_name(name: &str) -> Result<String, Error> {
    let ok = !name.is_empty()
        && name.len() <= 50
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(Error::InvalidName(printable(name)))
    }
}

impl Target {
    /// An organization of the real service (dev.azure.com).
    pub fn org(name: &str) -> Result<Target, Error> {
        Target::org_in(&ServiceUrl::default(), name)
    }

    /// An organization on the Services origin `origin`.
    pub fn org_in(origin: &ServiceUrl, name: &str) -> Result<Target, Error> {
        Ok(Target::Services { origin: origin.clone(), org: org_name(name)?, account: None })
    }

    /// The same organization, served by `account`'s credential (a Server collection has none).
    pub fn with_account(self, account: Option<&str>) -> Result<Target, Error> {
        match (self, account) {
            (Target::Services { origin, org, .. }, Some(a)) => {
                Ok(Target::Services { origin, org, account: Some(account_name(a)?) })
            }
            (Target::Services { origin, org, .. }, None) => Ok(Target::Services { origin, org, account: None }),
            (server, _) => Ok(server),
        }
    }

    /// The account named for this target, if any.
    pub fn account(&self) -> Option<&str> {
        match self {
            Target::Services { account, .. } => account.as_deref(),
            Target::Server { .. } => None,
        }
    }

    /// The name its credentials are stored under: the org, or `org/account` (org names hold no
    /// `/`, so the two never meet).
    pub fn store_key(&self) -> String {
        match self.account() {
            Some(account) => format!("{}/{account}", self.name()),
            None => self.name().to_owned(),
        }
    }

    /// An Azure DevOps Server collection, e.g. `https://tfs.example.com/tfs/DefaultCollection`:
    /// https (or http on loopback), a host and a path.
    pub fn server(url: &str) -> Result<Target, Error> {
        let bad = |why: &'static str| Error::InvalidServer(printable(url), why);
        let (scheme, rest) = url.trim().split_once("://").ok_or_else(|| bad("not a URL"))?;
        let scheme = scheme.to_ascii_lowercase();
        let rest = rest.trim_end_matches('/');
        let (host, path) = rest.split_once('/').ok_or_else(|| bad("it has no collection path"))?;
        if host.is_empty()
            || host.contains('@')
            || !port_is_valid(host)
            || rest.contains(['?', '#'])
            || rest.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(bad("expected scheme://host[:port]/path"));
        }
        if path.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
            return Err(bad("odd path"));
        }
        check_scheme(&scheme, host).map_err(bad)?;
        let collection = format!("{scheme}://{}/{}", normalize_host(host, &scheme), path.to_ascii_lowercase());
        Ok(Target::Server { collection })
    }

    /// The target a store key names on the Services origin `origin` (the inverse of
    /// [`Target::store_key`]).
    pub fn from_key(key: &str, origin: &ServiceUrl) -> Result<Target, Error> {
        if key.contains("://") {
            Target::server(key)
        } else if let Some((org, account)) = key.split_once('/') {
            Target::org_in(origin, org)?.with_account(Some(account))
        } else {
            Target::org_in(origin, key)
        }
    }

    /// A Server collection's origin (`scheme://host[:port]`), where git's config keys attach.
    pub fn server_origin(&self) -> Option<String> {
        let Target::Server { collection } = self else { return None };
        let (scheme, rest) = collection.split_once("://")?;
        Some(format!("{scheme}://{}", rest.split('/').next()?))
    }

    /// The user name to give git with a PAT when the URL has none (any works with a PAT; it must
    /// not hold a `:`).
    pub fn default_username(&self) -> &str {
        match self {
            Target::Services { org, .. } => org,
            Target::Server { .. } => "pat",
        }
    }

    /// Whether this is an Azure DevOps Server collection (no minting there).
    pub fn is_server(&self) -> bool {
        matches!(self, Target::Server { .. })
    }

    /// Whether this organization is on the real service's origin.
    pub fn is_real_service(&self) -> bool {
        matches!(self, Target::Services { origin, .. } if *origin == ServiceUrl::default())
    }

    /// An org name or any Azure DevOps URL naming one, as a person types it on the command line.
    /// A name, or a dev.azure.com / visualstudio.com URL, names an org on the configured Services
    /// origin; a URL of a declared Server collection names that collection.
    pub fn from_arg(arg: &str, instances: &Instances) -> Result<Target, Error> {
        let Some((scheme, rest)) = arg.split_once("://") else {
            return Target::org_in(&instances.services, arg);
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        let protocol = scheme.to_ascii_lowercase();
        let parts = UrlParts {
            protocol: &protocol,
            host,
            path: Some(path.as_bytes()).filter(|p| !p.is_empty()),
            username: user,
        };
        let named = match resolve(&parts, &Instances::default()) {
            Resolution::Target(Target::Services { org, .. }) => return Target::org_in(&instances.services, &org),
            other if instances.is_default() => other,
            _ => resolve(&parts, instances),
        };
        match named {
            Resolution::Target(target) => Ok(target),
            Resolution::NeedsOrganization => Err(Error::NoOrganization(printable(arg))),
            Resolution::Refused(err) => Err(err),
            Resolution::NotOurs | Resolution::Insecure => Err(Error::NotAzureDevOps(printable(arg))),
        }
    }

    /// The store key: the org name, or the collection URL.
    pub fn name(&self) -> &str {
        match self {
            Target::Services { org, .. } => org,
            Target::Server { collection } => collection,
        }
    }

    /// The organization's URL on its origin, or the collection's URL: where its API calls go,
    /// and the URL its URL-scoped settings are matched against.
    pub fn url(&self) -> String {
        match self {
            Target::Services { origin, org, .. } => format!("{}/{org}", origin.base()),
            Target::Server { collection } => collection.clone(),
        }
    }

    /// Where a person creates a PAT for this organization.
    pub fn tokens_url(&self) -> String {
        format!("{}/_usersSettings/tokens", self.url())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self.account() {
            Some(account) => write!(f, " ({account})"),
            None => Ok(()),
        }
    }
}

/// An account name (a UPN such as `alice@contoso.com`): ASCII letters, digits and `.-_+'`, one
/// `@` with something on each side, at most 256 characters; compared lower-case.
pub fn account_name(name: &str) -> Result<String, Error> {
    let name = name.trim();
    let ok = name.len() <= 256
        && name
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && !domain.is_empty() && !domain.contains('@'))
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"@.-_+'".contains(&b));
    if ok {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(Error::InvalidAccount(printable(name)))
    }
}

/// The Azure DevOps Services origin: `https://dev.azure.com` unless `azdo.url` names another
/// (a loopback fake, in tests and the demo). Requests to it are read exactly as for dev.azure.com.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceUrl {
    pub(super) scheme: String,
    /// Lower-case host, with a port only when it is not the scheme's default.
    pub(super) host: String,
}

impl Default for ServiceUrl {
    fn default() -> Self {
        ServiceUrl { scheme: "https".into(), host: SERVICES_HOST.into() }
    }
}

/// https, or plain http for a loopback host; else why not.
fn check_scheme(scheme: &str, host: &str) -> Result<(), &'static str> {
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        "http" => Err("plain http is allowed only for loopback hosts"),
        _ => Err("expected an https:// URL"),
    }
}

impl ServiceUrl {
    /// Parse `scheme://host[:port]` (a trailing `/` is fine). Plain http only for loopback hosts.
    pub fn parse(url: &str) -> Result<ServiceUrl, Error> {
        let (scheme, rest) = url.split_once("://").ok_or(Error::BadOrigin("not a URL"))?;
        let scheme = scheme.to_ascii_lowercase();
        let host = rest.trim_end_matches('/');
        if host.is_empty()
            || host.contains(['/', '@', '?', '#'])
            || !port_is_valid(host)
            || host.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(Error::BadOrigin("expected scheme://host[:port] without a path"));
        }
        check_scheme(&scheme, host).map_err(Error::BadOrigin)?;
        Ok(ServiceUrl { host: normalize_host(host, &scheme), scheme })
    }

    /// The base URL, e.g. `https://dev.azure.com`.
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }
}

/// Whether `host` is a name with at most one port, a numeric one (`name`, `name:port`,
/// `[v6]:port`): `h:443:443` or `:443` would lose a `:443` each time it is normalised, and never
/// name the same URL twice.
fn port_is_valid(host: &str) -> bool {
    let (name, after_name) = match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').unwrap_or(("", "")),
        None => host.split_at(host.find(':').unwrap_or(host.len())),
    };
    if name.is_empty() {
        return false;
    }
    match after_name.strip_prefix(':') {
        Some(port) => !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
        None => after_name.is_empty(),
    }
}

/// Whether `host` (with or without a port) is this machine.
pub fn is_loopback(host: &str) -> bool {
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { host })
    };
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Lower-case the host and drop the protocol's default port.
pub(crate) fn normalize_host(host: &str, protocol: &str) -> String {
    let host = host.to_ascii_lowercase();
    let default_port = match protocol {
        "https" => ":443",
        "http" => ":80",
        _ => return host,
    };
    match host.strip_suffix(default_port) {
        Some(bare) => bare.to_owned(),
        None => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_arg_accepts_names_and_urls() {
        for arg in [
            "contoso",
            "Contoso",
            "https://dev.azure.com/contoso",
            "https://dev.azure.com/Contoso/proj/_git/repo",
            "https://contoso@dev.azure.com/contoso/proj/_git/repo",
            "https://contoso@dev.azure.com",
            "https://contoso.visualstudio.com/DefaultCollection",
        ] {
            assert_eq!(
                Target::from_arg(arg, &Instances::default()),
                Ok(Target::org("contoso").expect("valid")),
                "{arg}"
            );
        }
        assert!(Target::from_arg("https://github.com/contoso", &Instances::default()).is_err());
        assert!(Target::from_arg("http://dev.azure.com/contoso", &Instances::default()).is_err());
        assert!(Target::from_arg("https://dev.azure.com", &Instances::default()).is_err());
        assert!(Target::from_arg("bad/name", &Instances::default()).is_err());
    }

    #[test]
    fn service_urls_must_be_https_unless_loopback() {
        for ok in [
            "https://dev.azure.com",
            "https://azdo.example:8443",
            "http://localhost:1",
            "http://[::1]:80",
            "http://127.0.0.2",
        ] {
            assert!(ServiceUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://dev.azure.com",
            "http://10.0.0.1:80",
            "ftp://x",
            "dev.azure.com",
            "https://x/y",
            "https://u@x",
            "http://127.0.0.1.evil.example",
            "https://h:443:443",
            "https://h:x",
            "https://h:",
            "http://[::1]x",
            "https://:443",
            "http://[]:80",
        ] {
            assert!(ServiceUrl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ServiceUrl::parse("https://DEV.azure.com:443").expect("ok"), ServiceUrl::default());
    }

    /// Found by the `resolve` fuzz target: a second port, an empty host or a trailing no-break
    /// space was dropped by each normalisation, so a stored collection's key named another
    /// collection when read back.
    #[test]
    fn a_normalised_url_reads_back_as_itself() {
        // A URL is trimmed before it is read: whitespace inside (a no-break space) would be lost.
        for bad in [
            "https://tfs.example.com:443:443/tfs/c",
            "https://tfs.example.c:ttom/tfs/c",
            "https://:443/c",
            "https://tfs.example.com/c\u{a0}/",
        ] {
            assert!(Target::server(bad).is_err(), "{bad}");
        }
        for ok in ["https://TFS.example.com:443/tfs/C", "http://[::1]:8080/c", "https://tfs.example.com:8443/c"] {
            let target = Target::server(ok).expect(ok);
            assert_eq!(Target::server(target.name()), Ok(target.clone()), "{ok}");
        }
    }

    #[test]
    fn accounts_are_kept_apart_and_read_back() {
        let org = Target::org("Contoso").expect("valid");
        let alice = org.clone().with_account(Some(" Alice@Contoso.COM ")).expect("valid");
        assert_eq!((alice.name(), alice.account()), ("contoso", Some("alice@contoso.com")));
        assert_eq!(alice.store_key(), "contoso/alice@contoso.com");
        assert_eq!(alice.to_string(), "contoso (alice@contoso.com)");
        assert_eq!(alice.url(), org.url(), "settings and API calls are the org's");
        assert_eq!(Target::from_key(&alice.store_key(), &ServiceUrl::default()), Ok(alice.clone()));
        assert_eq!(org.store_key(), "contoso");
        assert_ne!(alice, org);
        for bad in ["alice", "@x", "a@", "a@b@c", "a b@c", "a/b@c", "a:b@c", "é@c"] {
            assert!(account_name(bad).is_err(), "{bad}");
        }
        assert!(Target::from_key("contoso/not-an-account", &ServiceUrl::default()).is_err());
    }

    #[test]
    fn urls() {
        let org = Target::org("Contoso").expect("valid");
        assert_eq!(org.url(), "https://dev.azure.com/contoso");
        assert_eq!(org.tokens_url(), "https://dev.azure.com/contoso/_usersSettings/tokens");
    }
}
