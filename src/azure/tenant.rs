//! Which Entra tenant an organization belongs to: read from its unauthenticated challenge (only the
//! tenant is taken, never a host), cached per organization in a private file, or set with
//! `azdo.tenant`.

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};

use crate::config::Settings;
use crate::fs;
use crate::net::{self, Client};
use crate::org::Target;

const ZERO_TENANT: &str = "00000000-0000-0000-0000-000000000000";

/// The tenant named by an unauthenticated challenge: `Bearer authorization_uri=…/{tenant}` first,
/// then `X-VSS-ResourceTenant` (the all-zero tenant of personal Microsoft accounts means
/// `organizations`), else `common`. Only the tenant is taken from the server: the authority host
/// stays the configured one, so a hostile reply cannot send tokens elsewhere.
pub fn tenant_from_challenge(headers: &HeaderMap) -> String {
    for value in headers.get_all(WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok()) {
        let Some(params) = value.trim().strip_prefix("Bearer").or_else(|| value.trim().strip_prefix("bearer")) else {
            continue;
        };
        for param in params.split(',') {
            let param = param.trim();
            if let Some(uri) = param.strip_prefix("authorization_uri=") {
                let uri = uri.trim_matches(|c| c == '"' || c == '\'');
                if let Some(tenant) = uri.trim_end_matches('/').rsplit('/').next().filter(|t| is_tenant(t)) {
                    return tenant.to_ascii_lowercase();
                }
            }
        }
    }
    let tenants: Vec<String> = headers
        .get_all("X-VSS-ResourceTenant")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| is_tenant(t))
        .collect();
    if let Some(tenant) = tenants.iter().find(|t| *t != ZERO_TENANT) {
        return tenant.clone();
    }
    if !tenants.is_empty() {
        return "organizations".into();
    }
    "common".into()
}

pub use crate::valid::is_tenant;

/// Ask the organization, without credentials, which tenant it belongs to.
fn discover(client: &Client, org_url: &str) -> Result<String, net::Failure> {
    Ok(tenant_from_challenge(client.get(org_url).send()?.headers()))
}

/// The Entra tenant for `target`: `azdo.tenant`, else a cached discovery, else ask the org.
pub fn for_target(settings: &Settings, target: &Target, client: &Client) -> String {
    if let Some(t) = &settings.tenant {
        return t.clone();
    }
    let cache = settings.data_dir.join("tenants.json");
    // The cache is private like every file here: one others could write is not trusted.
    let mut known: BTreeMap<String, String> = match fs::read_private(&cache) {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Ok(None) => BTreeMap::new(),
        Err(e) => {
            tracing::info!(error = %e, "tenant cache unusable; ignoring it");
            BTreeMap::new()
        }
    };
    if let Some(t) = known.get(target.name()).filter(|t| is_tenant(t)) {
        return t.clone();
    }
    match discover(client, &target.url()) {
        // "common" is the fallback when no header named a tenant (a proxy, an outage): not cached.
        Ok(t) if t == "common" => t,
        Ok(t) => {
            tracing::info!(%target, tenant = %t, "discovered the organization's tenant");
            known.insert(target.name().to_owned(), t.clone());
            if let Ok(bytes) = serde_json::to_vec(&known) {
                let _ = fs::write_private(&cache, &bytes, fs::Durability::Cache);
            }
            t
        }
        Err(e) => {
            tracing::info!(%target, error = %e, "tenant discovery failed; using organizations");
            "organizations".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::test_headers as headers;

    #[test]
    fn tenant_comes_from_the_bearer_challenge_first() {
        let h = headers(&[
            (
                "www-authenticate",
                "Bearer authorization_uri=https://login.microsoftonline.com/72F988BF-86f1-41af-91ab-2d7cd011db47",
            ),
            ("www-authenticate", "Basic realm=\"https://tfsprodwus21.app.visualstudio.com/\""),
            ("x-vss-resourcetenant", "11111111-1111-1111-1111-111111111111"),
        ]);
        assert_eq!(tenant_from_challenge(&h), "72f988bf-86f1-41af-91ab-2d7cd011db47");
    }

    #[test]
    fn resource_tenant_header_and_personal_accounts() {
        let h = headers(&[
            ("www-authenticate", "Bearer"),
            ("x-vss-resourcetenant", "00000000-0000-0000-0000-000000000000"),
        ]);
        assert_eq!(tenant_from_challenge(&h), "organizations");
        let h = headers(&[(
            "x-vss-resourcetenant",
            "00000000-0000-0000-0000-000000000000, 22222222-2222-2222-2222-222222222222",
        )]);
        assert_eq!(tenant_from_challenge(&h), "22222222-2222-2222-2222-222222222222");
        assert_eq!(tenant_from_challenge(&HeaderMap::new()), "common");
    }

    #[test]
    fn a_hostile_challenge_cannot_redirect_or_inject() {
        // Only the last path segment is taken, and only if it looks like a tenant.
        let h = headers(&[("www-authenticate", "Bearer authorization_uri=https://evil.example/steal?x=../../a b")]);
        assert_eq!(tenant_from_challenge(&h), "common");
        let h = headers(&[(
            "www-authenticate",
            "Bearer authorization_uri=\"https://evil.example/contoso.onmicrosoft.com\"",
        )]);
        assert_eq!(tenant_from_challenge(&h), "contoso.onmicrosoft.com", "the host is never used");
    }
}
