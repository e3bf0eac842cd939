//! Managed identity: an Azure resource's own identity, from the instance metadata endpoint
//! (VMs, scale sets, AKS nodes) or the App Service form (`IDENTITY_ENDPOINT` +
//! `IDENTITY_HEADER`: App Service, Functions, Container Apps). Asked only when a managed
//! identity is configured (`azdo.managedIdentity`) or federation's `managedidentity` scenario
//! needs its token; never through a proxy; given up within [`GIVE_UP`]; an expiry outside the
//! next 24 hours is unknown.

use std::time::{Duration, Instant};

use super::IdentitySettings;
use crate::azure::entra::AZURE_DEVOPS_RESOURCE;
use crate::config::Settings;
use crate::net::{self, Client, Network};
use crate::percent::escape;
use crate::secret::Secret;
use crate::text::printable;
use crate::time::now;

use super::Token;

/// All tries together, waits included, take at most this long.
pub const GIVE_UP: Duration = Duration::from_secs(20);
/// The path the metadata endpoint serves tokens on, under `azdo.imdsUrl`.
pub const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
const MAX_BODY: u64 = 64 * 1024;
/// Waits before the second, third and fourth try (the identity SDKs retry three times).
const BACKOFF: [Duration; 3] = [Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(4)];

pub use crate::config::identities::ManagedIdentity;

impl ManagedIdentity {
    /// The query parameter that names a user-assigned identity (the metadata endpoint and the
    /// App Service form spell the resource id's differently).
    fn query(&self, app_service: bool) -> Option<(&'static str, &str)> {
        match self {
            ManagedIdentity::System => None,
            ManagedIdentity::ClientId(id) => Some(("client_id", id)),
            ManagedIdentity::ResourceId(id) => Some((if app_service { "mi_res_id" } else { "msi_res_id" }, id)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the managed identity endpoint {url} gave no token after {tries} tries in {secs} s: {last}")]
    GaveUp { url: String, tries: usize, secs: u64, last: String },
    #[error("the managed identity endpoint refused: {0}")]
    Refused(String),
    #[error("the managed identity endpoint sent an unreadable reply")]
    BadReply,
    #[error(transparent)]
    Setup(#[from] net::Error),
}

/// One try's outcome.
enum Try {
    Done(Token),
    /// Worth another try (no answer, 404, 408, 410, 429, 5xx).
    Again(String),
    Fail(Error),
}

/// A token for Azure DevOps from the managed identity, within [`GIVE_UP`].
pub fn token(settings: &Settings, ids: &IdentitySettings, mi: &ManagedIdentity) -> Result<Token, Error> {
    token_for(settings, ids, mi, AZURE_DEVOPS_RESOURCE)
}

/// A token for `resource` (Azure DevOps, or the federation audience) from the managed identity.
pub fn token_for(
    settings: &Settings,
    ids: &IdentitySettings,
    mi: &ManagedIdentity,
    resource: &str,
) -> Result<Token, Error> {
    let resource = escape(resource);
    let (url, header) = match &ids.app_service {
        Some((endpoint, header)) => {
            let mut url = format!("{endpoint}?api-version=2019-08-01&resource={resource}");
            push_identity(&mut url, mi, true);
            (url, Some(("X-IDENTITY-HEADER", header.clone())))
        }
        None => {
            let mut url =
                format!("{}{IMDS_PATH}?api-version=2018-02-01&resource={resource}", ids.imds_url.trim_end_matches('/'));
            push_identity(&mut url, mi, false);
            (url, None)
        }
    };
    let shown = printable(url.split('?').next().unwrap_or(""));
    // The metadata endpoint is never asked through a proxy ("not intended to be used behind a
    // proxy"); the connection is local, so a short connect timeout.
    let network = Network {
        connect_timeout: settings.connect_timeout.min(Duration::from_secs(2)),
        timeout: settings.timeout.min(GIVE_UP),
        proxy: Some(String::new()),
        ca_file: None,
        verify_tls: true,
    };
    let client = Client::new(&network)?;
    let started = Instant::now();
    let mut last = String::new();
    let mut tries = 0;
    for attempt in 0..=BACKOFF.len() {
        if attempt > 0 {
            let wait = BACKOFF[attempt - 1];
            if started.elapsed() + wait >= GIVE_UP {
                break;
            }
            std::thread::sleep(wait);
        }
        let left = GIVE_UP.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        tracing::info!(url = %shown, attempt, "asking the managed identity endpoint");
        tries += 1;
        match one_try(&client, &url, header.as_ref(), left.min(network.timeout)) {
            Try::Done(token) => return Ok(token),
            Try::Fail(e) => return Err(e),
            Try::Again(why) => {
                tracing::info!(url = %shown, why = %why, "the managed identity endpoint gave no token");
                last = why;
            }
        }
    }
    Err(Error::GaveUp { url: shown, tries, secs: started.elapsed().as_secs(), last })
}

fn push_identity(url: &mut String, mi: &ManagedIdentity, app_service: bool) {
    if let Some((key, value)) = mi.query(app_service) {
        url.push_str(&format!("&{key}={}", escape(value)));
    }
}

fn one_try(client: &Client, url: &str, header: Option<&(&str, Secret)>, timeout: Duration) -> Try {
    let mut request = client.get(url).header("Metadata", "true").timeout(timeout);
    if let Some((name, value)) = header {
        request = request.header(*name, value.expose());
    }
    let response = match request.send() {
        Ok(r) => r,
        Err(e) => return Try::Again(net::describe(&e)),
    };
    let status = response.status().as_u16();
    let body = match net::read_body(response, MAX_BODY) {
        Ok(b) => b,
        Err(e) => return Try::Again(e.to_string()),
    };
    parse_reply(status, &body)
}

/// A reply of either form: numbers may be strings; errors are `{error, error_description}`.
fn parse_reply(status: u16, body: &[u8]) -> Try {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| json.as_ref().and_then(|j| j.get(name)).cloned();
    let number = |name: &str| match field(name) {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    if status == 200 {
        let Some(serde_json::Value::String(token)) =
            field("access_token").filter(|t| t.as_str().is_some_and(|s| !s.is_empty()))
        else {
            return Try::Fail(Error::BadReply);
        };
        let expires_at = number("expires_on").or_else(|| number("expires_in").map(|s| now().saturating_add(s)));
        return Try::Done(Token { token: Secret::from(token), expires_at: sane_expiry(expires_at, now()) });
    }
    let text = |name: &str| field(name).and_then(|v| v.as_str().map(|s| printable(s.lines().next().unwrap_or(""))));
    let reason = match (text("error"), text("error_description")) {
        (Some(e), Some(d)) if !d.is_empty() => format!("HTTP {status}: {e}: {d}"),
        (Some(e), _) => format!("HTTP {status}: {e}"),
        _ => format!("HTTP {status}"),
    };
    if matches!(status, 404 | 408 | 410 | 429 | 500..=599) {
        Try::Again(reason)
    } else {
        Try::Fail(Error::Refused(reason))
    }
}

/// The longest an expiry from the endpoint is believed ahead of now.
const MAX_LIFETIME: i64 = 24 * 3600;

/// An expiry the endpoint sent, when it is sane: not past, at most [`MAX_LIFETIME`] ahead.
/// Anything else (a broken or hostile endpoint, a skewed clock) is unknown: git is told none.
fn sane_expiry(expires_at: Option<i64>, now: i64) -> Option<i64> {
    expires_at.filter(|at| *at > now && *at <= now.saturating_add(MAX_LIFETIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_values_gcm_takes_are_read() {
        assert_eq!(ManagedIdentity::parse("system"), Ok(ManagedIdentity::System));
        assert_eq!(ManagedIdentity::parse(" SYSTEM "), Ok(ManagedIdentity::System));
        let id = "8b1e0c1a-1111-4222-8333-444455556666";
        assert_eq!(ManagedIdentity::parse(id), Ok(ManagedIdentity::ClientId(id.into())));
        assert_eq!(
            ManagedIdentity::parse(&format!("id://{}", id.to_uppercase())),
            Ok(ManagedIdentity::ClientId(id.into()))
        );
        assert_eq!(ManagedIdentity::parse("id://00000000-0000-0000-0000-000000000000"), Ok(ManagedIdentity::System));
        let res = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/build";
        assert_eq!(ManagedIdentity::parse(&format!("resource://{res}")), Ok(ManagedIdentity::ResourceId(res.into())));
        for bad in ["sytem", "id://nope", "resource://no-slash", "resource:///a b", "8b1e0c1a"] {
            assert!(ManagedIdentity::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replies_are_read_with_numbers_as_strings_and_errors_sorted() {
        let on = now() + 3000;
        let body =
            format!(r#"{{"access_token":"eyJ.x.y","expires_in":"3599","expires_on":"{on}","token_type":"Bearer"}}"#);
        let done = parse_reply(200, body.as_bytes());
        assert!(matches!(done, Try::Done(Token { expires_at: Some(at), .. }) if at == on));
        assert!(matches!(parse_reply(200, br#"{"access_token":""}"#), Try::Fail(Error::BadReply)));
        let not_found = parse_reply(400, br#"{"error":"invalid_request","error_description":"Identity not found"}"#);
        assert!(matches!(not_found, Try::Fail(Error::Refused(ref r)) if r.contains("Identity not found")));
        assert!(matches!(parse_reply(503, b"busy"), Try::Again(_)));
        assert!(matches!(parse_reply(410, b""), Try::Again(_)));
    }

    #[test]
    fn expiries_past_or_more_than_a_day_ahead_are_unknown() {
        let now = 1_900_000_000;
        assert_eq!(sane_expiry(Some(now + 3599), now), Some(now + 3599));
        assert_eq!(sane_expiry(Some(now + MAX_LIFETIME), now), Some(now + MAX_LIFETIME));
        for bad in
            [Some(now), Some(now - 1), Some(0), Some(i64::MIN), Some(now + MAX_LIFETIME + 1), Some(i64::MAX), None]
        {
            assert_eq!(sane_expiry(bad, now), None, "{bad:?}");
        }
        let far = parse_reply(200, br#"{"access_token":"eyJ.x.y","expires_on":"99999999999"}"#);
        assert!(matches!(far, Try::Done(Token { expires_at: None, .. })));
        let past = parse_reply(200, br#"{"access_token":"eyJ.x.y","expires_in":"-5"}"#);
        assert!(matches!(past, Try::Done(Token { expires_at: None, .. })));
    }
}
