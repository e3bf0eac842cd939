//! The values of the build identities' settings, as the key table parses them
//! (`azdo.managedIdentity`, `azdo.servicePrincipal`, `azdo.workloadFederation`,
//! `azdo.workloadFederationAssertion`), in Git Credential Manager's spellings where it has them.
//! What each one does is the identity module's.

use std::fmt;
use std::path::PathBuf;

use crate::secret::Secret;
use crate::text::printable;
use crate::valid::{is_guid, is_tenant};

/// Which managed identity: the values Git Credential Manager's `credential.azreposManagedIdentity` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagedIdentity {
    System,
    /// A user-assigned identity by its client id.
    ClientId(String),
    /// A user-assigned identity by its Azure resource id.
    ResourceId(String),
}

impl ManagedIdentity {
    /// `system` (or empty), a client id, `id://CLIENT_ID`, `resource://RESOURCE_ID`.
    pub fn parse(v: &str) -> Result<ManagedIdentity, &'static str> {
        let v = v.trim();
        const ZERO: &str = "00000000-0000-0000-0000-000000000000";
        let client = |id: &str| {
            if !is_guid(id) {
                Err("expected system, a client id, id://CLIENT_ID or resource://RESOURCE_ID")
            } else if id == ZERO {
                Ok(ManagedIdentity::System)
            } else {
                Ok(ManagedIdentity::ClientId(id.to_ascii_lowercase()))
            }
        };
        if v.is_empty() || v.eq_ignore_ascii_case("system") {
            return Ok(ManagedIdentity::System);
        }
        if let Some(id) = strip_prefix_ci(v, "id://") {
            return client(id);
        }
        if let Some(id) = strip_prefix_ci(v, "resource://") {
            let ok = id.starts_with('/')
                && id.len() <= 1024
                && id.bytes().all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
            return if ok {
                Ok(ManagedIdentity::ResourceId(id.to_owned()))
            } else {
                Err("expected resource:///subscriptions/...")
            };
        }
        client(v)
    }
}

impl fmt::Display for ManagedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManagedIdentity::System => f.write_str("system"),
            ManagedIdentity::ClientId(id) => write!(f, "id://{id}"),
            ManagedIdentity::ResourceId(id) => write!(f, "resource://{}", printable(id)),
        }
    }
}

fn strip_prefix_ci<'a>(v: &'a str, prefix: &str) -> Option<&'a str> {
    (v.len() >= prefix.len() && v.is_char_boundary(prefix.len()) && v[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &v[prefix.len()..])
}

/// `TENANT_ID/CLIENT_ID`, as Git Credential Manager's `credential.azreposServicePrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipal {
    pub tenant: String,
    pub client_id: String,
}

impl ServicePrincipal {
    pub fn parse(v: &str) -> Result<ServicePrincipal, &'static str> {
        let (tenant, client_id) = v.trim().split_once('/').ok_or("expected TENANT_ID/CLIENT_ID")?;
        let (tenant, client_id) = (tenant.trim(), client_id.trim());
        if !is_tenant(tenant) || matches!(tenant, "common" | "organizations" | "consumers") {
            return Err("expected TENANT_ID/CLIENT_ID: the tenant must be an id or a domain");
        }
        if !is_guid(client_id) {
            return Err("expected TENANT_ID/CLIENT_ID: the client id must be a GUID");
        }
        Ok(ServicePrincipal { tenant: tenant.to_ascii_lowercase(), client_id: client_id.to_ascii_lowercase() })
    }
}

impl fmt::Display for ServicePrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.client_id)
    }
}

/// Where the external token comes from (Git Credential Manager's names, and `azurepipelines`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    GithubActions,
    AzurePipelines,
    ManagedIdentity,
    Generic,
}

impl Scenario {
    pub fn parse(v: &str) -> Result<Scenario, &'static str> {
        match v.trim().to_ascii_lowercase().as_str() {
            "githubactions" | "github" => Ok(Scenario::GithubActions),
            "azurepipelines" | "pipelines" => Ok(Scenario::AzurePipelines),
            "managedidentity" | "mi" => Ok(Scenario::ManagedIdentity),
            "generic" => Ok(Scenario::Generic),
            _ => Err("expected githubactions, azurepipelines, managedidentity or generic"),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scenario::GithubActions => "githubactions",
            Scenario::AzurePipelines => "azurepipelines",
            Scenario::ManagedIdentity => "managedidentity",
            Scenario::Generic => "generic",
        })
    }
}

/// The assertion setting: the token itself, or `file://PATH` to read it from (re-read on every
/// get: the platform rotates it).
#[derive(Debug, Clone)]
pub enum Assertion {
    Value(Secret),
    File(PathBuf),
}

impl Assertion {
    pub fn parse(v: &str) -> Result<Assertion, &'static str> {
        let v = v.trim();
        if let Some(path) = v.strip_prefix("file://") {
            let path = super::keys::expand_home(drive_path(path));
            return if path.is_absolute() { Ok(Assertion::File(path)) } else { Err("expected file:///absolute/path") };
        }
        if v.is_empty() || v.contains(['\n', '\r', '\0']) {
            return Err("expected a token or file://PATH");
        }
        Ok(Assertion::Value(Secret::new(v)))
    }
}

/// A `file://` URL's path as a path of this system: on Windows, `file:///C:/token.txt` (the
/// standard form) names `C:/token.txt`, not `/C:/token.txt`. Unchanged elsewhere.
fn drive_path(path: &str) -> &str {
    if cfg!(windows) {
        let b = path.as_bytes();
        if b.len() >= 3 && b[0] == b'/' && b[1].is_ascii_alphabetic() && b[2] == b':' {
            return &path[1..];
        }
    }
    path
}
