//! Resolving a URL's parts (from git's request, or a command-line URL) to a [`Target`]: the org
//! from the dev.azure.com path or user name, the legacy `{org}.visualstudio.com` host, or the
//! longest declared Server collection. Hosts are matched exactly. [`UrlParts`] is this module's
//! own view of a URL, so org knows nothing of the wire format: the caller lends the parts.

use super::{normalize_host, org_name, Error, Instances, ServiceUrl, Target, LEGACY_SUFFIX};

/// The parts of a URL that decide its target, borrowed from whoever read the URL (git's
/// request, a command-line argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub protocol: &'a str,
    /// Host as given, with a port when the URL had one.
    pub host: &'a str,
    /// The path (without the leading `/`), when there is one; may hold any bytes.
    pub path: Option<&'a [u8]>,
    /// The URL's user name, when there is one.
    pub username: Option<&'a str>,
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

/// Resolve a URL to an organization, with `instances.services` playing dev.azure.com's role and
/// `instances.servers` the declared Azure DevOps Server collections.
pub fn resolve(req: &UrlParts<'_>, instances: &Instances) -> Resolution {
    let services = &instances.services;
    let protocol = req.protocol.to_ascii_lowercase();
    let host = normalize_host(req.host, &protocol);
    let is_services = host == services.host;
    // The legacy hosts belong to the real service: not served when another origin replaces it.
    let legacy_org = host
        .strip_suffix(LEGACY_SUFFIX)
        .filter(|label| !label.is_empty() && !label.contains('.') && *services == ServiceUrl::default());
    if !is_services && legacy_org.is_none() {
        return resolve_server(req, &protocol, &host, &instances.servers);
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
    let first_segment = req.path.and_then(|p| p.split(|b| *b == b'/').find(|s| !s.is_empty()));
    if let Some(segment) = first_segment {
        return match std::str::from_utf8(segment) {
            Ok(name) if org_name(name).is_ok() => found(name),
            _ => Resolution::Refused(Error::InvalidName(crate::text::printable_bytes(segment))),
        };
    }
    match req.username.map(|name| Target::org_in(services, name)) {
        Some(Ok(target)) => Resolution::Target(target),
        _ => Resolution::NeedsOrganization,
    }
}

/// A request to a declared Azure DevOps Server: the longest collection path that prefixes the
/// request's path (at a segment boundary, case-insensitively) names the collection.
fn resolve_server(req: &UrlParts<'_>, protocol: &str, host: &str, servers: &[Target]) -> Resolution {
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
    let Some(path) = req.path else { return Resolution::NeedsOrganization };
    let path = String::from_utf8_lossy(path).trim_matches('/').to_ascii_lowercase();
    on_host
        .into_iter()
        .filter(|(scheme, collection, _)| {
            *scheme == protocol && (path == *collection || path.starts_with(&format!("{collection}/")))
        })
        .max_by_key(|(_, collection, _)| collection.len())
        .map_or(Resolution::NotOurs, |(_, _, target)| Resolution::Target(target.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(protocol: &'a str, host: &'a str, path: Option<&'a str>, user: Option<&'a str>) -> UrlParts<'a> {
        UrlParts { protocol, host, path: path.map(str::as_bytes), username: user }
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
                &resolve(&req(protocol, host, *path, *user), &Instances::default()),
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
                    resolve(&req("https", "dev.azure.com", Some(path), None), &Instances::default()),
                    Resolution::Refused(_)
                ),
                "{path}"
            );
        }
        let Resolution::Refused(err) =
            resolve(&req("https", "dev.azure.com", Some("a\u{1b}b"), None), &Instances::default())
        else {
            panic!("expected refusal")
        };
        assert!(!err.to_string().contains('\u{1b}'));
    }

    #[test]
    fn a_loopback_service_url_plays_dev_azure_com() {
        let fake = ServiceUrl::parse("http://127.0.0.1:8123/").expect("loopback http");
        let fake_origins = Instances { services: fake.clone(), servers: Vec::new() };
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
    fn server_collections_play_the_orgs_role() {
        let servers = [
            Target::server("https://tfs.example.com/tfs/DefaultCollection/").expect("valid"),
            Target::server("https://tfs.example.com/tfs/Other").expect("valid"),
            Target::server("http://127.0.0.1:8080/coll").expect("loopback http"),
        ];
        let instances = Instances { services: ServiceUrl::default(), servers: servers.to_vec() };
        let r = |p: &str, h: &str, path: Option<&str>| resolve(&req(p, h, path, None), &instances);
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
        assert_eq!(Target::from_arg("https://tfs.example.com/tfs/Other/p/_git/r", &instances), Ok(servers[1].clone()));
    }
}
