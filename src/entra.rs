//! Microsoft Entra ID: which tenant an organization belongs to, the device code flow, refresh
//! tokens, and the Azure CLI as a silent source of access tokens for Azure DevOps. Tokens are
//! [`Secret`]s; nothing here prints them or puts them in an error.

use std::time::Duration;

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::azure::Client;
use crate::secret::Secret;
use crate::text::{now, printable};

/// Azure DevOps' resource (application) id in Entra ID.
pub const AZURE_DEVOPS_RESOURCE: &str = "499b84ac-1321-427f-aa17-267ca6975798";
/// The default public client: Visual Studio's, which Git Credential Manager also uses, so that
/// organizations that already allow GCM allow this helper too.
pub const DEFAULT_CLIENT_ID: &str = "872cd9fa-d31f-45e0-9eab-6e460a02d1f1";
const SCOPE: &str = "499b84ac-1321-427f-aa17-267ca6975798/.default offline_access";
const ZERO_TENANT: &str = "00000000-0000-0000-0000-000000000000";

/// An access token for Azure DevOps and, when Entra issued one, a refresh token.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the sign-in was declined")]
    Declined,
    #[error("the sign-in code expired before it was used")]
    Expired,
    #[error("the sign-in was cancelled")]
    Cancelled,
    #[error("Entra ID refused: {0}")]
    Refused(String),
    #[error("cannot reach Entra ID: {0}")]
    Network(String),
    #[error("Entra ID sent an unreadable reply")]
    BadReply,
    #[error("the Azure CLI gave no token: {0}")]
    AzureCli(String),
}

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

/// A tenant id or name Entra accepts in a path: a GUID, a domain, or one of its aliases.
pub fn is_tenant(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !t.starts_with(['-', '.'])
}

/// Ask the organization, without credentials, which tenant it belongs to.
pub fn discover_tenant(client: &Client, org_url: &str) -> Result<String, Error> {
    let response = client
        .http()
        .get(org_url)
        .header("X-TFS-FedAuthRedirect", "Suppress")
        .send()
        .map_err(|e| Error::Network(describe(&e)))?;
    Ok(tenant_from_challenge(response.headers()))
}

/// What a person needs to sign in with the device code flow.
#[derive(Debug)]
pub struct DeviceCode {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    pub message: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub interval: Duration,
}

/// Start the device code flow against `{authority}/{tenant}`.
pub fn start_device_flow(client: &Client, authority: &str, tenant: &str, client_id: &str) -> Result<DeviceCode, Error> {
    let url = format!("{}/{tenant}/oauth2/v2.0/devicecode", authority.trim_end_matches('/'));
    let body = post_form(client, &url, &[("client_id", client_id), ("scope", SCOPE)])?;
    let text = |key: &str| body[key].as_str().map(printable);
    let number = |key: &str| body[key].as_u64().or_else(|| body[key].as_str().and_then(|s| s.parse().ok()));
    let (Some(device_code), Some(user_code), Some(verification_uri)) =
        (body["device_code"].as_str(), text("user_code"), text("verification_uri"))
    else {
        return Err(Error::BadReply);
    };
    Ok(DeviceCode {
        device_code: Secret::new(device_code),
        message: text("message").unwrap_or_else(|| format!("Open {verification_uri} and enter the code {user_code}")),
        user_code,
        verification_uri,
        expires_at: now() + number("expires_in").unwrap_or(900).min(3600) as i64,
        interval: Duration::from_secs(number("interval").unwrap_or(5).min(60)),
    })
}

/// Poll until the person signs in, declines, or the code expires. `wait` sleeps between polls
/// and returns `false` to cancel (tests pass one that does not sleep).
pub fn poll_device_flow(
    client: &Client,
    authority: &str,
    tenant: &str,
    client_id: &str,
    code: &DeviceCode,
    wait: &dyn Fn(Duration) -> bool,
) -> Result<Tokens, Error> {
    let url = format!("{}/{tenant}/oauth2/v2.0/token", authority.trim_end_matches('/'));
    let mut interval = code.interval;
    loop {
        if now() > code.expires_at {
            return Err(Error::Expired);
        }
        if !wait(interval) {
            return Err(Error::Cancelled);
        }
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", client_id),
            ("device_code", code.device_code.expose()),
        ];
        match post_form(client, &url, &form) {
            Ok(body) => return tokens(&body),
            Err(Error::Refused(reason)) => match reason.split(':').next().unwrap_or("") {
                "authorization_pending" => {}
                // RFC 8628: slow down by five seconds.
                "slow_down" => interval += Duration::from_secs(5),
                "authorization_declined" | "access_denied" => return Err(Error::Declined),
                "expired_token" | "code_expired" => return Err(Error::Expired),
                _ => return Err(Error::Refused(reason)),
            },
            Err(other) => return Err(other),
        }
    }
}

/// Trade a refresh token for a new access token (and, usually, a new refresh token).
pub fn refresh(
    client: &Client,
    authority: &str,
    tenant: &str,
    client_id: &str,
    token: &Secret,
) -> Result<Tokens, Error> {
    let url = format!("{}/{tenant}/oauth2/v2.0/token", authority.trim_end_matches('/'));
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("scope", SCOPE),
        ("refresh_token", token.expose()),
    ];
    tokens(&post_form(client, &url, &form)?)
}

/// The Azure CLI's token for Azure DevOps, if `az` is installed and signed in. Silent: it never
/// prompts (stdin is closed, its stderr is not shown).
pub fn azure_cli_token(tenant: Option<&str>, timeout: Duration) -> Result<Tokens, Error> {
    let mut cmd = std::process::Command::new("az");
    cmd.args(["account", "get-access-token", "--resource", AZURE_DEVOPS_RESOURCE, "--output", "json"]);
    if let Some(tenant) = tenant.filter(|t| is_tenant(t) && !matches!(*t, "common" | "organizations")) {
        cmd.args(["--tenant", tenant]);
    }
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().map_err(|e| Error::AzureCli(format!("cannot run az: {e}")))?;
    let mut stdout = child.stdout.take().ok_or_else(|| Error::AzureCli("no output".into()))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut out);
        let _ = tx.send(out);
    });
    let out = match rx.recv_timeout(timeout) {
        Ok(out) => out,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::AzureCli(format!("az did not answer within {timeout:?}")));
        }
    };
    let status = child.wait().map_err(|e| Error::AzureCli(e.to_string()))?;
    if !status.success() {
        return Err(Error::AzureCli("az is not signed in (run az login)".into()));
    }
    let body: Value = serde_json::from_slice(&out).map_err(|_| Error::AzureCli("unreadable output".into()))?;
    let access_token =
        body["accessToken"].as_str().filter(|t| !t.is_empty()).ok_or(Error::AzureCli("no accessToken".into()))?;
    let expires_at = body["expires_on"]
        .as_i64()
        .or_else(|| body["expires_on"].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| now() + 300);
    Ok(Tokens { access_token: Secret::new(access_token), refresh_token: None, expires_at })
}

fn tokens(body: &Value) -> Result<Tokens, Error> {
    let access_token = body["access_token"].as_str().filter(|t| !t.is_empty()).ok_or(Error::BadReply)?;
    let expires_in = body["expires_in"]
        .as_i64()
        .or_else(|| body["expires_in"].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(3599);
    Ok(Tokens {
        access_token: Secret::new(access_token),
        refresh_token: body["refresh_token"].as_str().filter(|t| !t.is_empty()).map(Secret::new),
        expires_at: now() + expires_in.clamp(60, 24 * 3600),
    })
}

/// POST a form; a 200 JSON body, or `Refused("error: AADSTS…")` for an OAuth error.
fn post_form(client: &Client, url: &str, form: &[(&str, &str)]) -> Result<Value, Error> {
    let response = client.http().post(url).form(form).send().map_err(|e| Error::Network(describe(&e)))?;
    let status = response.status();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(response, 1024 * 1024), &mut bytes)
        .map_err(|e| Error::Network(printable(&e.to_string())))?;
    let body: Value = serde_json::from_slice(&bytes).map_err(|_| Error::BadReply)?;
    if status.is_success() {
        return Ok(body);
    }
    let error = body["error"].as_str().map(printable).unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    // The first line of the description carries the AADSTS code and the reason.
    let detail = body["error_description"].as_str().and_then(|d| d.lines().next()).map(printable).unwrap_or_default();
    Err(Error::Refused(if detail.is_empty() { error } else { format!("{error}: {detail}") }))
}

fn describe(e: &reqwest::Error) -> String {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    printable(&detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

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

    #[test]
    fn token_replies_are_read_and_bounded() {
        let body: Value =
            serde_json::json!({"token_type":"Bearer","expires_in":"3599","access_token":"at","refresh_token":"rt"});
        let t = tokens(&body).expect("tokens");
        assert_eq!((t.access_token.expose(), t.refresh_token.as_ref().map(Secret::expose)), ("at", Some("rt")));
        assert!(t.expires_at > now() + 3000);
        assert!(tokens(&serde_json::json!({"token_type":"Bearer"})).is_err());
        assert!(!format!("{t:?}").contains("at\""), "tokens are redacted in Debug");
    }
}
