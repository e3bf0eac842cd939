//! Which Azure DevOps organization a request is for: from the URL path, the URL's username or the
//! legacy `{org}.visualstudio.com` host, or which Azure DevOps Server collection (declared in
//! `azdo.server`). Hosts are matched exactly; names are validated and compared case-insensitively
//! (stored lower-case). A [`Target`] knows its one URL, on whatever origin it was found.

use std::fmt;

use crate::protocol::Request;
use crate::text::printable;

/// The Azure DevOps Services host.
pub const SERVICES_HOST: &str = "dev.azure.com";
const LEGACY_SUFFIX: &str = ".visualstudio.com";

/// What one PAT is for: an Azure DevOps Services organization on its origin (dev.azure.com, or
/// the `azdo.url` origin), or an Azure DevOps Server collection, which plays the org's role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// `org` is a validated name, lower-case.
    Services { origin: ServiceUrl, org: String },
    /// `collection` is the normalised collection URL, lower-case.
    Server { collection: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("'{0}' is not a valid Azure DevOps organization name (letters, digits, '-' and '_', at most 50)")]
    InvalidName(String),
    #[error("'{0}' is not an Azure DevOps URL (expected https://dev.azure.com/ORG or https://ORG.visualstudio.com)")]
    NotAzureDevOps(String),
    #[error("the URL '{0}' does not name an organization: use https://dev.azure.com/ORG")]
    NoOrganization(String),
    #[error("'{0}' is not a valid Azure DevOps Server collection URL: {1}")]
    InvalidServer(String, &'static str),
    #[error("{0}")]
    BadOrigin(&'static str),
}

/// The origins this helper serves: the Services origin (`azdo.url`) and the declared Azure DevOps
/// Server collections (`azdo.server`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    pub services: ServiceUrl,
    /// Only [`Target::Server`]s.
    pub servers: Vec<Target>,
}

impl Origins {
    /// Whether this is the default: dev.azure.com and no Server collection.
    pub fn is_default(&self) -> bool {
        *self == Origins::default()
    }
}

/// Validate an organization name: ASCII letters, digits, '-' and '_', not starting or ending with
/// '-', 1 to 50 long. Lower-cased.
fn org_name(name: &str) -> Result<String, Error> {
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
        Ok(Target::Services { origin: origin.clone(), org: org_name(name)? })
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
            || rest.contains(['?', '#'])
            || rest.chars().any(|c| c.is_control() || c == ' ')
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

    /// The target a store key names on the Services origin `origin` (the inverse of [`Target::name`]).
    pub fn from_key(key: &str, origin: &ServiceUrl) -> Result<Target, Error> {
        if key.contains("://") {
            Target::server(key)
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
    pub fn from_arg(arg: &str, origins: &Origins) -> Result<Target, Error> {
        let Some((scheme, rest)) = arg.split_once("://") else {
            return Target::org_in(&origins.services, arg);
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        let request = Request {
            protocol: scheme.to_ascii_lowercase(),
            host: host.to_owned(),
            path: Some(path.as_bytes().to_vec()).filter(|p| !p.is_empty()),
            username: user.map(str::to_owned),
            password: None,
            password_expiry_utc: None,
        };
        let named = match resolve(&request, &Origins::default()) {
            Resolution::Target(Target::Services { org, .. }) => return Target::org_in(&origins.services, &org),
            other if origins.is_default() => other,
            _ => resolve(&request, origins),
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
            Target::Services { origin, org } => format!("{}/{org}", origin.base()),
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
        f.write_str(self.name())
    }
}

/// What a request means for this helper.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Not an Azure DevOps host: print nothing, touch nothing.
    NotOurs,
    /// An Azure DevOps host over plain http: never send a PAT there.
    Insecure,
    /// dev.azure.com without a path or username: the user needs `configure` (useHttpPath).
    NeedsOrganization,
    /// The URL names something that is not a valid organization.
    Refused(Error),
    Target(Target),
}

/// The Azure DevOps Services origin: `https://dev.azure.com` unless `azdo.url` names another
/// (a loopback fake, in tests and the demo). Requests to it are read exactly as for dev.azure.com.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceUrl {
    scheme: String,
    /// Lower-case host, with a port only when it is not the scheme's default.
    host: String,
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
        if host.is_empty() || host.contains(['/', '@', '?', '#']) || host.chars().any(|c| c.is_control() || c == ' ') {
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

/// Whether `host` (with or without a port) is this machine.
pub fn is_loopback(host: &str) -> bool {
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { host })
    };
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Resolve a request to an organization, with `origins.services` playing dev.azure.com's role and
/// `origins.servers` the declared Azure DevOps Server collections.
pub fn resolve(req: &Request, origins: &Origins) -> Resolution {
    let services = &origins.services;
    let protocol = req.protocol.to_ascii_lowercase();
    let host = normalize_host(&req.host, &protocol);
    let is_services = host == services.host;
    // The legacy hosts belong to the real service: not served when another origin replaces it.
    let legacy_org = host
        .strip_suffix(LEGACY_SUFFIX)
        .filter(|label| !label.is_empty() && !label.contains('.') && *services == ServiceUrl::default());
    if !is_services && legacy_org.is_none() {
        return resolve_server(req, &protocol, &host, &origins.servers);
    }
    let expected = if is_services { services.scheme.as_str() } else { "https" };
    match protocol.as_str() {
        p if p == expected => {}
        "http" => return Resolution::Insecure,
        _ => return Resolution::NotOurs,
    }
    let found = |name: &str| match Target::org_in(services, name) {
        Ok(target) => Resolution::Target(target),
        Err(err) => Resolution::Refused(err),
    };
    if let Some(label) = legacy_org {
        return found(label);
    }
    // dev.azure.com: the first path segment names the org, else the URL's username does.
    let first_segment = req.path.as_deref().and_then(|p| p.split(|b| *b == b'/').find(|s| !s.is_empty()));
    if let Some(segment) = first_segment {
        return match std::str::from_utf8(segment) {
            Ok(name) if org_name(name).is_ok() => found(name),
            _ => Resolution::Refused(Error::InvalidName(crate::text::printable_bytes(segment))),
        };
    }
    match req.username.as_deref().map(|name| Target::org_in(services, name)) {
        Some(Ok(target)) => Resolution::Target(target),
        _ => Resolution::NeedsOrganization,
    }
}

/// A request to a declared Azure DevOps Server: the longest collection path that prefixes the
/// request's path (at a segment boundary, case-insensitively) names the collection.
fn resolve_server(req: &Request, protocol: &str, host: &str, servers: &[Target]) -> Resolution {
    let on_host: Vec<(&str, &str, &Target)> = servers
        .iter()
        .filter_map(|target| {
            let Target::Server { collection } = target else { return None };
            let (scheme, rest) = collection.split_once("://")?;
            let (h, path) = rest.split_once('/')?;
            (h == host).then_some((scheme, path, target))
        })
        .collect();
    if on_host.is_empty() {
        return Resolution::NotOurs;
    }
    if !on_host.iter().any(|(scheme, _, _)| *scheme == protocol) {
        return if protocol == "http" { Resolution::Insecure } else { Resolution::NotOurs };
    }
    let Some(path) = req.path.as_deref() else { return Resolution::NeedsOrganization };
    let path = String::from_utf8_lossy(path).trim_matches('/').to_ascii_lowercase();
    on_host
        .into_iter()
        .filter(|(scheme, collection, _)| {
            *scheme == protocol && (path == *collection || path.starts_with(&format!("{collection}/")))
        })
        .max_by_key(|(_, collection, _)| collection.len())
        .map_or(Resolution::NotOurs, |(_, _, target)| Resolution::Target(target.clone()))
}

/// Lower-case the host and drop the protocol's default port.
fn normalize_host(host: &str, protocol: &str) -> String {
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

    fn req(protocol: &str, host: &str, path: Option<&str>, user: Option<&str>) -> Request {
        Request {
            protocol: protocol.into(),
            host: host.into(),
            path: path.map(|p| p.as_bytes().to_vec()),
            username: user.map(Into::into),
            password: None,
            password_expiry_utc: None,
        }
    }

    fn org(name: &str) -> Resolution {
        Resolution::Target(Target::org(name).expect("valid"))
    }

    /// protocol, host, path, username → expected.
    type Case = (&'static str, &'static str, Option<&'static str>, Option<&'static str>, Resolution);

    #[test]
    fn resolution_table() {
        let cases: &[Case] = &[
            ("https", "dev.azure.com", Some("contoso/proj/_git/repo"), None, org("contoso")),
            ("https", "dev.azure.com", Some("Contoso/proj/_git/repo"), None, org("contoso")),
            ("https", "DEV.AZURE.COM:443", Some("contoso/p/_git/r"), None, org("contoso")),
            ("https", "dev.azure.com", None, Some("contoso"), org("contoso")),
            ("https", "dev.azure.com", Some("fabrikam/p/_git/r"), Some("contoso"), org("fabrikam")),
            ("https", "dev.azure.com", None, Some("alice@example.com"), Resolution::NeedsOrganization),
            ("https", "dev.azure.com", None, None, Resolution::NeedsOrganization),
            ("https", "contoso.visualstudio.com", Some("proj/_git/repo"), None, org("contoso")),
            ("https", "contoso.visualstudio.com", Some("DefaultCollection/proj/_git/repo"), None, org("contoso")),
            ("https", "Contoso.VisualStudio.com:443", None, None, org("contoso")),
            ("https", "contoso.visualstudio.com", None, Some("someone"), org("contoso")),
            ("http", "dev.azure.com", Some("contoso"), None, Resolution::Insecure),
            ("http", "contoso.visualstudio.com", None, None, Resolution::Insecure),
            ("https", "github.com", Some("contoso/x"), None, Resolution::NotOurs),
            ("https", "dev.azure.com.evil.example", Some("contoso"), None, Resolution::NotOurs),
            ("https", "evil-dev.azure.com", Some("contoso"), None, Resolution::NotOurs),
            ("https", "test.dev.azure.com", Some("contoso"), None, Resolution::NotOurs),
            ("https", "visualstudio.com", None, None, Resolution::NotOurs),
            ("https", "a.b.visualstudio.com", None, None, Resolution::NotOurs),
            ("https", "dev.azure.com:8443", Some("contoso"), None, Resolution::NotOurs),
            ("https", "dev.azure.com.", Some("contoso"), None, Resolution::NotOurs),
            ("ssh", "dev.azure.com", Some("contoso"), None, Resolution::NotOurs),
        ];
        for (protocol, host, path, user, expected) in cases {
            assert_eq!(
                &resolve(&req(protocol, host, *path, *user), &Origins::default()),
                expected,
                "{protocol}://{host} {path:?} {user:?}"
            );
        }
    }

    #[test]
    fn hostile_path_segments_are_refused() {
        for path in ["con\u{1b}[31mtoso/x", "../x", "a b/x", "-lead/x", "x".repeat(51).as_str()] {
            assert!(
                matches!(
                    resolve(&req("https", "dev.azure.com", Some(path), None), &Origins::default()),
                    Resolution::Refused(_)
                ),
                "{path}"
            );
        }
        let Resolution::Refused(err) =
            resolve(&req("https", "dev.azure.com", Some("a\u{1b}b"), None), &Origins::default())
        else {
            panic!("expected refusal")
        };
        assert!(!err.to_string().contains('\u{1b}'));
    }

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
            assert_eq!(Target::from_arg(arg, &Origins::default()), Ok(Target::org("contoso").expect("valid")), "{arg}");
        }
        assert!(Target::from_arg("https://github.com/contoso", &Origins::default()).is_err());
        assert!(Target::from_arg("http://dev.azure.com/contoso", &Origins::default()).is_err());
        assert!(Target::from_arg("https://dev.azure.com", &Origins::default()).is_err());
        assert!(Target::from_arg("bad/name", &Origins::default()).is_err());
    }

    #[test]
    fn a_loopback_service_url_plays_dev_azure_com() {
        let fake = ServiceUrl::parse("http://127.0.0.1:8123/").expect("loopback http");
        let fake_origins = Origins { services: fake.clone(), servers: Vec::new() };
        let fake_org = || Resolution::Target(Target::org_in(&fake, "contoso").expect("org"));
        assert_eq!(fake.base(), "http://127.0.0.1:8123");
        assert_eq!(resolve(&req("http", "127.0.0.1:8123", Some("Contoso/p/_git/r"), None), &fake_origins), fake_org());
        assert_eq!(resolve(&req("http", "127.0.0.1:8123", None, Some("contoso")), &fake_origins), fake_org());
        assert_eq!(resolve(&req("http", "127.0.0.1:9999", Some("contoso"), None), &fake_origins), Resolution::NotOurs);
        assert_eq!(resolve(&req("https", "dev.azure.com", Some("contoso"), None), &fake_origins), Resolution::NotOurs);
        // The legacy host form belongs to the real service: not served while the fake replaces it.
        assert_eq!(resolve(&req("https", "contoso.visualstudio.com", None, None), &fake_origins), Resolution::NotOurs);
        assert_eq!(Target::org_in(&fake, "Contoso").expect("org").url(), "http://127.0.0.1:8123/contoso");
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
        ] {
            assert!(ServiceUrl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ServiceUrl::parse("https://DEV.azure.com:443").expect("ok"), ServiceUrl::default());
    }

    #[test]
    fn server_collections_play_the_orgs_role() {
        let servers = [
            Target::server("https://tfs.example.com/tfs/DefaultCollection/").expect("valid"),
            Target::server("https://tfs.example.com/tfs/Other").expect("valid"),
            Target::server("http://127.0.0.1:8080/coll").expect("loopback http"),
        ];
        let origins = Origins { services: ServiceUrl::default(), servers: servers.to_vec() };
        let r = |p: &str, h: &str, path: Option<&str>| resolve(&req(p, h, path, None), &origins);
        assert_eq!(
            r("https", "TFS.example.com:443", Some("tfs/defaultcollection/Proj/_git/r")),
            Resolution::Target(servers[0].clone())
        );
        assert_eq!(r("https", "tfs.example.com", Some("tfs/Other/p/_git/r")), Resolution::Target(servers[1].clone()));
        assert_eq!(r("https", "tfs.example.com", Some("tfs/DefaultCollectionX/p")), Resolution::NotOurs);
        assert_eq!(r("https", "tfs.example.com", None), Resolution::NeedsOrganization);
        assert_eq!(r("http", "tfs.example.com", Some("tfs/Other/p")), Resolution::Insecure);
        assert_eq!(r("http", "127.0.0.1:8080", Some("coll/p/_git/r")), Resolution::Target(servers[2].clone()));
        assert_eq!(r("https", "other.example.com", Some("tfs/Other")), Resolution::NotOurs);
        assert_eq!(servers[0].name(), "https://tfs.example.com/tfs/defaultcollection");
        assert_eq!(servers[0].url(), "https://tfs.example.com/tfs/defaultcollection");
        assert!(servers[0].is_server() && !Target::org("contoso").expect("org").is_server());
        assert_eq!(servers[0].default_username(), "pat", "a URL is no user name for Basic auth");
        assert_eq!(servers[2].server_origin().as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(Target::from_key(servers[0].name(), &ServiceUrl::default()), Ok(servers[0].clone()));
        for bad in [
            "https://tfs.example.com",
            "http://tfs.example.com/tfs/c",
            "tfs.example.com/c",
            "https://u@h/c",
            "https://h/a/../b",
        ] {
            assert!(Target::server(bad).is_err(), "{bad}");
        }
        assert_eq!(Target::from_arg("https://tfs.example.com/tfs/Other/p/_git/r", &origins), Ok(servers[1].clone()));
    }

    #[test]
    fn urls() {
        let org = Target::org("Contoso").expect("valid");
        assert_eq!(org.url(), "https://dev.azure.com/contoso");
        assert_eq!(org.tokens_url(), "https://dev.azure.com/contoso/_usersSettings/tokens");
    }
}
