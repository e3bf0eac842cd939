//! Routing: which endpoint a request is for, by its `Host` as the real service splits its routes
//! across hosts, then by method and path.

use crate::util::{percent_decode, query_param};
use crate::Route;

/// The git smart-HTTP endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GitEndpoint {
    InfoRefs,
    UploadPack,
    ReceivePack,
}

/// The Entra endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntraEndpoint {
    DeviceCode,
    Token,
    /// `GET /{tenant}/oauth2/v2.0/authorize`: the page a browser is sent to.
    Authorize,
}

/// The PAT lifecycle API operations (by method, and for GET by `authorizationId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatOp {
    Create,
    List,
    Get,
    Update,
    Revoke,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Challenge {
        org: String,
    },
    ConnectionData {
        org: String,
    },
    /// Any other REST API path (`org` is `None` for `/_apis/...`).
    Api {
        org: Option<String>,
    },
    Git {
        org: String,
        project: String,
        repo: String,
        endpoint: GitEndpoint,
    },
    /// `/{org}/_apis/tokens/pats`; `op` is `None` for a method the API does not have.
    Pats {
        org: String,
        op: Option<PatOp>,
    },
    /// `GET /metadata/identity/oauth2/token` (instance metadata) and `GET /msi/token` (App Service)
    ManagedIdentity {
        app_service: bool,
    },
    /// `GET /_github/idtoken` (GitHub Actions' ID token endpoint)
    GithubIdToken,
    /// `POST /{org}/{project}/_apis/distributedtask/hubs/{hub}/plans/{plan}/jobs/{job}/oidctoken`
    PipelinesOidc {
        org: String,
    },
    /// `/{tenant}/oauth2/v2.0/{devicecode|token}`
    Entra {
        tenant: String,
        endpoint: EntraEndpoint,
    },
    Other,
}

impl Target {
    pub fn route(&self) -> Route {
        match self {
            Target::Challenge { .. } => Route::Challenge,
            Target::ConnectionData { .. } => Route::ConnectionData,
            Target::Git { .. } => Route::Git,
            Target::Entra { endpoint: EntraEndpoint::DeviceCode, .. } => Route::DeviceCode,
            Target::Entra { endpoint: EntraEndpoint::Token, .. } => Route::Token,
            Target::Entra { endpoint: EntraEndpoint::Authorize, .. } => Route::Authorize,
            Target::Pats { op: Some(PatOp::Create), .. } => Route::PatCreate,
            Target::Pats { op: Some(PatOp::List), .. } => Route::PatList,
            Target::Pats { op: Some(PatOp::Get), .. } => Route::PatGet,
            Target::Pats { op: Some(PatOp::Update), .. } => Route::PatUpdate,
            Target::Pats { op: Some(PatOp::Revoke), .. } => Route::PatRevoke,
            Target::ManagedIdentity { .. } => Route::ManagedIdentity,
            Target::GithubIdToken | Target::PipelinesOidc { .. } => Route::Oidc,
            Target::Pats { op: None, .. } | Target::Api { .. } | Target::Other => Route::Other,
        }
    }
}

/// Routes a request by method, (percent-decoded) path and query; names compare
/// case-insensitively.
pub(crate) fn classify(method: &str, raw_path: &str, query: &str) -> Target {
    let Some(path) = raw_path.strip_prefix('/') else {
        return Target::Other;
    };
    let segs: Vec<String> = path.split('/').map(percent_decode).collect();
    let seg = |i: usize| segs.get(i).map(String::as_str);
    let is = |i: usize, name: &str| seg(i).is_some_and(|s| s.eq_ignore_ascii_case(name));
    let get_or_head = method == "GET" || method == "HEAD";
    let org = match seg(0) {
        None | Some("") => return Target::Other,
        Some(o) => o.to_string(),
    };
    if is(0, "_apis") {
        return Target::Api { org: None };
    }
    if segs.len() == 4 && is(0, "metadata") && is(1, "identity") && is(2, "oauth2") && is(3, "token") {
        return Target::ManagedIdentity { app_service: false };
    }
    if segs.len() == 2 && is(0, "msi") && is(1, "token") {
        return Target::ManagedIdentity { app_service: true };
    }
    if segs.len() == 2 && is(0, "_github") && is(1, "idtoken") && get_or_head {
        return Target::GithubIdToken;
    }
    if segs.len() == 11
        && is(2, "_apis")
        && is(3, "distributedtask")
        && is(4, "hubs")
        && is(10, "oidctoken")
        && method == "POST"
    {
        return Target::PipelinesOidc { org };
    }
    if segs.len() == 4 && is(1, "oauth2") && is(2, "v2.0") {
        let endpoint = if is(3, "devicecode") {
            EntraEndpoint::DeviceCode
        } else if is(3, "token") {
            EntraEndpoint::Token
        } else if is(3, "authorize") && get_or_head {
            EntraEndpoint::Authorize
        } else {
            return Target::Other;
        };
        return Target::Entra { tenant: org, endpoint };
    }
    if segs.len() == 1 || (segs.len() == 2 && segs[1].is_empty()) {
        return if get_or_head { Target::Challenge { org } } else { Target::Other };
    }
    if is(1, "_apis") {
        let rest: Vec<&str> = segs[2..].iter().map(String::as_str).collect();
        let connection_data = matches!(rest.as_slice(), [c] | [c, ""] if c.eq_ignore_ascii_case("connectionData"));
        let pats = matches!(rest.as_slice(), [t, p] | [t, p, ""] if t.eq_ignore_ascii_case("tokens") && p.eq_ignore_ascii_case("pats"));
        if pats {
            let op = match method {
                "POST" => Some(PatOp::Create),
                "PUT" => Some(PatOp::Update),
                "DELETE" => Some(PatOp::Revoke),
                "GET" | "HEAD" if query_param(query, "authorizationId").is_some() => Some(PatOp::Get),
                "GET" | "HEAD" => Some(PatOp::List),
                _ => None,
            };
            return Target::Pats { org, op };
        }
        return if connection_data && get_or_head {
            Target::ConnectionData { org }
        } else {
            Target::Api { org: Some(org) }
        };
    }
    if is(2, "_apis") {
        // A project-level REST API (`/{org}/{project}/_apis/...`).
        return Target::Api { org: Some(org) };
    }
    // `/{org}/{project}/_git/{repo}/...`, or `/{org}/_git/{repo}/...` where the project has the
    // repo's name.
    let (project, repo, rest) = if is(2, "_git") && segs.len() >= 5 {
        (segs[1].clone(), segs[3].clone(), &segs[4..])
    } else if is(1, "_git") && segs.len() >= 4 {
        (segs[2].clone(), segs[2].clone(), &segs[3..])
    } else {
        return Target::Other;
    };
    if project.is_empty() || repo.is_empty() {
        return Target::Other;
    }
    let endpoint = match (rest.join("/").as_str(), method) {
        ("info/refs", "GET" | "HEAD") => GitEndpoint::InfoRefs,
        ("git-upload-pack", "POST") => GitEndpoint::UploadPack,
        ("git-receive-pack", "POST") => GitEndpoint::ReceivePack,
        _ => return Target::Other,
    };
    Target::Git { org, project, repo, endpoint }
}

/// The real service's hosts, as a request's `Host` header names them (lower-cased, port dropped).
pub(crate) const SERVICES_HOST: &str = "dev.azure.com";
pub(crate) const VSSPS_HOST: &str = "vssps.dev.azure.com";
pub(crate) const ENTRA_HOST: &str = "login.microsoftonline.com";
const LEGACY_SUFFIX: &str = ".visualstudio.com";

/// `Host` without its port, lower-cased (`[::1]:80` → `[::1]`).
pub(crate) fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name.to_string()
        }
        _ => host,
    }
}

/// Routes a request by `Host` as the real service splits its routes across hosts, then by path
/// ([`classify`]): `dev.azure.com` serves the Azure DevOps routes (challenge, connectionData,
/// REST, git); `{org}.visualstudio.com` the same for that org, with paths relative to it (and
/// an optional `DefaultCollection` first); `vssps.dev.azure.com` the PAT lifecycle API;
/// `login.microsoftonline.com` Entra. A route on another host of these (or on another
/// `*.visualstudio.com` host) is not found. Any other
/// `Host` (the fake's own `127.0.0.1:PORT`) gets every route, as one origin.
pub(crate) fn route(method: &str, raw_path: &str, query: &str, host: Option<&str>) -> Target {
    let host = host.map(host_name).unwrap_or_default();
    let services = |t: Target| match t {
        Target::Pats { org, .. } => Target::Api { org: Some(org) },
        Target::Entra { .. } | Target::ManagedIdentity { .. } | Target::GithubIdToken => Target::Other,
        t => t,
    };
    if host == SERVICES_HOST {
        return services(classify(method, raw_path, query));
    }
    if host == VSSPS_HOST {
        let t = classify(method, raw_path, query);
        return if matches!(t, Target::Pats { .. }) { t } else { Target::Other };
    }
    if host == ENTRA_HOST {
        let t = classify(method, raw_path, query);
        return if matches!(t, Target::Entra { .. }) { t } else { Target::Other };
    }
    if let Some(org) = host.strip_suffix(LEGACY_SUFFIX) {
        let Some(rest) = raw_path.strip_prefix('/').filter(|_| !org.is_empty() && !org.contains('.')) else {
            return Target::Other;
        };
        let collection = rest.split('/').next().is_some_and(|s| s.eq_ignore_ascii_case("DefaultCollection"));
        let rest = if collection { rest.split_once('/').map_or("", |(_, r)| r) } else { rest };
        return services(classify(method, &format!("/{org}/{rest}"), query));
    }
    classify(method, raw_path, query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let cd = |o: &str| Target::ConnectionData { org: o.into() };
        assert_eq!(classify("GET", "/contoso/_apis/connectionData", ""), cd("contoso"));
        assert_eq!(classify("GET", "/Contoso/_APIS/CONNECTIONDATA/", ""), cd("Contoso"));
        assert_eq!(classify("HEAD", "/contoso/_apis/connectiondata", ""), cd("contoso"));
        assert_eq!(classify("POST", "/contoso/_apis/connectionData", ""), Target::Api { org: Some("contoso".into()) });
        assert_eq!(classify("GET", "/contoso/_apis/projects", ""), Target::Api { org: Some("contoso".into()) });
        assert_eq!(classify("GET", "/_apis/connectionData", ""), Target::Api { org: None });
        assert_eq!(classify("HEAD", "/contoso", ""), Target::Challenge { org: "contoso".into() });
        assert_eq!(classify("GET", "/contoso/", ""), Target::Challenge { org: "contoso".into() });
        assert_eq!(classify("POST", "/contoso", ""), Target::Other);
        assert_eq!(classify("GET", "/", ""), Target::Other);
        assert_eq!(classify("GET", "*", ""), Target::Other);
        assert_eq!(
            classify("POST", "/contoso/My%20Project/_git/repo/git-receive-pack", ""),
            Target::Git {
                org: "contoso".into(),
                project: "My Project".into(),
                repo: "repo".into(),
                endpoint: GitEndpoint::ReceivePack
            }
        );
        assert_eq!(
            classify("GET", "/contoso/_git/repo/info/refs", ""),
            Target::Git {
                org: "contoso".into(),
                project: "repo".into(),
                repo: "repo".into(),
                endpoint: GitEndpoint::InfoRefs
            }
        );
        assert_eq!(classify("GET", "/contoso/proj/_git/repo/git-upload-pack", ""), Target::Other);
        let pats = |op| Target::Pats { org: "contoso".into(), op };
        assert_eq!(
            classify("POST", "/contoso/_apis/tokens/pats", "api-version=7.1-preview.1"),
            pats(Some(PatOp::Create))
        );
        assert_eq!(classify("GET", "/contoso/_apis/Tokens/Pats", "api-version=7.1-preview.1"), pats(Some(PatOp::List)));
        assert_eq!(classify("GET", "/contoso/_apis/tokens/pats/", "authorizationId=x"), pats(Some(PatOp::Get)));
        assert_eq!(classify("PUT", "/contoso/_apis/tokens/pats", ""), pats(Some(PatOp::Update)));
        assert_eq!(classify("DELETE", "/contoso/_apis/tokens/pats", "authorizationId=x"), pats(Some(PatOp::Revoke)));
        assert_eq!(classify("PATCH", "/contoso/_apis/tokens/pats", ""), pats(None));
        assert_eq!(classify("GET", "/contoso/_apis/tokens", ""), Target::Api { org: Some("contoso".into()) });
        assert_eq!(
            classify("POST", "/organizations/oauth2/v2.0/devicecode", ""),
            Target::Entra { tenant: "organizations".into(), endpoint: EntraEndpoint::DeviceCode }
        );
        assert_eq!(
            classify("POST", "/c0ffee00-fa4e-4a2d-8b1e-0000000a2d00/OAuth2/V2.0/Token", ""),
            Target::Entra { tenant: "c0ffee00-fa4e-4a2d-8b1e-0000000a2d00".into(), endpoint: EntraEndpoint::Token }
        );
        assert_eq!(classify("POST", "/common/oauth2/v2.0/authorize", ""), Target::Other);
        assert_eq!(classify("POST", "/common/oauth2/devicecode", ""), Target::Other);
        assert_eq!(classify("GET", "/contoso/proj/_git/repo/objects/info/packs", ""), Target::Other);
    }

    #[test]
    fn routes_by_host() {
        let r = |method: &str, path: &str, host: &str| route(method, path, "", Some(host));
        let git = |org: &str, endpoint| Target::Git {
            org: org.into(),
            project: "proj".into(),
            repo: "repo".into(),
            endpoint,
        };
        // dev.azure.com: the Azure DevOps routes, not the PAT API or Entra.
        assert_eq!(r("GET", "/contoso", "dev.azure.com"), Target::Challenge { org: "contoso".into() });
        assert_eq!(r("GET", "/contoso", "Dev.Azure.Com:443"), Target::Challenge { org: "contoso".into() });
        assert_eq!(
            r("GET", "/contoso/_apis/connectionData", "dev.azure.com"),
            Target::ConnectionData { org: "contoso".into() }
        );
        assert_eq!(
            r("GET", "/contoso/proj/_git/repo/info/refs", "dev.azure.com"),
            git("contoso", GitEndpoint::InfoRefs)
        );
        assert_eq!(
            r("POST", "/contoso/_apis/tokens/pats", "dev.azure.com"),
            Target::Api { org: Some("contoso".into()) }
        );
        assert_eq!(r("POST", "/organizations/oauth2/v2.0/token", "dev.azure.com"), Target::Other);
        // vssps.dev.azure.com: the PAT API only.
        assert_eq!(
            r("POST", "/contoso/_apis/tokens/pats", "vssps.dev.azure.com"),
            Target::Pats { org: "contoso".into(), op: Some(PatOp::Create) }
        );
        assert_eq!(r("GET", "/contoso/_apis/connectionData", "vssps.dev.azure.com"), Target::Other);
        assert_eq!(r("GET", "/contoso", "vssps.dev.azure.com"), Target::Other);
        // login.microsoftonline.com: Entra only.
        assert_eq!(
            r("POST", "/organizations/oauth2/v2.0/devicecode", "login.microsoftonline.com"),
            Target::Entra { tenant: "organizations".into(), endpoint: EntraEndpoint::DeviceCode }
        );
        assert_eq!(r("GET", "/contoso", "login.microsoftonline.com"), Target::Other);
        assert_eq!(r("POST", "/contoso/_apis/tokens/pats", "login.microsoftonline.com"), Target::Other);
        // {org}.visualstudio.com: the org's routes, paths relative to it.
        assert_eq!(r("GET", "/", "contoso.visualstudio.com"), Target::Challenge { org: "contoso".into() });
        assert_eq!(
            r("GET", "/proj/_git/repo/info/refs", "contoso.visualstudio.com"),
            git("contoso", GitEndpoint::InfoRefs)
        );
        assert_eq!(
            r("POST", "/DefaultCollection/proj/_git/repo/git-upload-pack", "Contoso.VisualStudio.com"),
            git("contoso", GitEndpoint::UploadPack)
        );
        assert_eq!(
            r("GET", "/_apis/connectionData", "contoso.visualstudio.com"),
            Target::ConnectionData { org: "contoso".into() }
        );
        assert_eq!(r("GET", "/proj/_git/repo/info/refs", "a.b.visualstudio.com"), Target::Other);
        // Any other host: every route, as one origin.
        for host in ["127.0.0.1:8080", "localhost", ""] {
            assert_eq!(
                r("POST", "/contoso/_apis/tokens/pats", host),
                Target::Pats { org: "contoso".into(), op: Some(PatOp::Create) }
            );
            assert_eq!(r("GET", "/contoso", host), Target::Challenge { org: "contoso".into() });
        }
        assert_eq!(host_name("[::1]:80"), "[::1]");
        assert_eq!(host_name("DEV.azure.com"), "dev.azure.com");
    }
}
