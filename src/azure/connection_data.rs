//! The Azure DevOps connectionData check: `GET {org}/_apis/connectionData` with the PAT says
//! whether it is valid, invalid, or that nobody can tell right now. [`judge`] turns a reply into a
//! [`Verdict`]; it is pure, so every rule is unit-tested.

use std::time::{Duration, Instant};

use percent_encoding::percent_decode_str;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde::Deserialize;

use crate::net::{self, Client};
use crate::secret::Secret;
use crate::text::printable;

/// The identity Azure DevOps reports for anonymous access to an org with public projects.
pub const ANONYMOUS_ID: &str = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa";
const MAX_BODY: u64 = 1024 * 1024;
/// The longest `Retry-After` honoured by waiting; longer ones make the answer "unknown".
const MAX_RETRY_AFTER: Duration = Duration::from_secs(2);

/// What a validation call found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Azure DevOps accepted the PAT for this user (display name or account).
    Valid { user: String },
    /// Azure DevOps refused the PAT.
    Invalid { reason: String },
    /// Nobody can tell now (throttled, server error, timeout, network): keep the PAT.
    Unknown { reason: String },
}

/// Ask `{org_url}/_apis/connectionData` whether `pat` is accepted. Honours a short `Retry-After`
/// once, within the client's total time budget.
pub fn validate(client: &Client, org_url: &str, pat: &Secret) -> Verdict {
    let url = format!("{}/_apis/connectionData", org_url.trim_end_matches('/'));
    let deadline = Instant::now() + client.timeout();
    let mut retried = false;
    loop {
        let sent = client
            .get(&url)
            .basic_auth("", Some(pat.expose()))
            .header(ACCEPT, "application/json")
            .timeout(deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)))
            .send();
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Verdict::Unknown { reason: net::describe(&e) },
        };
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS && !retried {
            if let Some(wait) = retry_after(response.headers()) {
                if wait <= MAX_RETRY_AFTER && Instant::now() + wait < deadline {
                    tracing::info!(?wait, "throttled; waiting as Retry-After asks");
                    std::thread::sleep(wait);
                    retried = true;
                    continue;
                }
            }
        }
        let headers = response.headers().clone();
        return match net::read_body(response, MAX_BODY) {
            Ok(body) => judge(status, &headers, &body),
            Err(cut) => Verdict::Unknown { reason: cut.to_string() },
        };
    }
}

/// A connectionData reply: JSON of another shape reads as one that names no user.
#[derive(Deserialize)]
#[serde(transparent)]
struct Reply(#[serde(deserialize_with = "crate::net::lenient")] Option<ConnectionData>);

/// The parts of a connectionData reply the verdict reads.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConnectionData {
    #[serde(default, deserialize_with = "crate::net::lenient")]
    authenticated_user: Option<Identity>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Identity {
    #[serde(default, deserialize_with = "crate::net::lenient")]
    id: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    descriptor: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    provider_display_name: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    properties: Option<Properties>,
}

#[derive(Deserialize)]
struct Properties {
    #[serde(rename = "Account", default, deserialize_with = "crate::net::lenient")]
    account: Option<PropertyValue>,
}

#[derive(Deserialize)]
struct PropertyValue {
    #[serde(rename = "$value", default, deserialize_with = "crate::net::lenient")]
    value: Option<String>,
}

/// The verdict for a connectionData reply. Pure, so every rule is unit-tested.
pub fn judge(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let service_error = headers
        .get("X-TFS-ServiceError")
        .and_then(|v| v.to_str().ok())
        .map(|v| printable(&percent_decode_str(v).decode_utf8_lossy()));
    match status.as_u16() {
        200 if content_type.contains("text/html") => sign_in_page(headers),
        200 => match serde_json::from_slice::<Reply>(body) {
            Ok(Reply(data)) => {
                let ConnectionData { authenticated_user } = data.unwrap_or_default();
                let user = authenticated_user.unwrap_or_default();
                let id = user.id.unwrap_or_default();
                let descriptor = user.descriptor.unwrap_or_default();
                if id.is_empty() {
                    Verdict::Unknown { reason: "the reply names no user".into() }
                } else if id.eq_ignore_ascii_case(ANONYMOUS_ID) || descriptor.starts_with("System:PublicAccess;") {
                    Verdict::Invalid { reason: "Azure DevOps answered anonymously: the PAT was not accepted".into() }
                } else {
                    let name = user.provider_display_name.filter(|n| !n.is_empty());
                    let account =
                        user.properties.and_then(|p| p.account).and_then(|a| a.value).filter(|a| !a.is_empty());
                    let shown = match (name, account) {
                        (Some(n), Some(a)) if n != a => format!("{n} <{a}>"),
                        (Some(n), _) => n,
                        (None, Some(a)) => a,
                        (None, None) => id,
                    };
                    Verdict::Valid { user: printable(&shown) }
                }
            }
            Err(_) => Verdict::Unknown { reason: "Azure DevOps sent an unreadable reply".into() },
        },
        203 => sign_in_page(headers),
        300..=399 => {
            let location = headers.get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("");
            if is_sign_in_url(location) {
                Verdict::Invalid { reason: format!("Azure DevOps redirected to sign-in (HTTP {})", status.as_u16()) }
            } else {
                Verdict::Unknown {
                    reason: format!("redirected elsewhere (HTTP {}), perhaps by a proxy", status.as_u16()),
                }
            }
        }
        401 => Verdict::Invalid {
            reason: service_error
                .unwrap_or_else(|| format!("HTTP {} {}", status.as_u16(), status.canonical_reason().unwrap_or(""))),
        },
        // A 403 from Azure DevOps refuses the PAT; one from something in between (a proxy's block
        // page) says nothing about it.
        403 if from_azure_devops(headers) => {
            Verdict::Invalid { reason: service_error.unwrap_or_else(|| "HTTP 403 Forbidden".into()) }
        }
        403 => Verdict::Unknown { reason: "HTTP 403 Forbidden, not from Azure DevOps (a proxy?)".into() },
        404 => Verdict::Unknown { reason: "Azure DevOps does not know this organization (HTTP 404)".into() },
        429 => Verdict::Unknown { reason: "Azure DevOps is throttling requests (HTTP 429)".into() },
        code => Verdict::Unknown {
            reason: match service_error {
                Some(e) => format!("HTTP {code}: {e}"),
                None => format!("HTTP {code} {}", status.canonical_reason().unwrap_or("")),
            },
        },
    }
}

/// Whether a refused PAT's `reason` (the service's error text) is the retirement of global PATs
/// ("All accessible organizations"), which stopped working on 2026-12-01: the text names the
/// `globalPatUsageDisabled` error or global personal access tokens. The service's exact wording
/// was not captured, so both are looked for.
pub fn global_pat_retired(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("globalpatusagedisabled") || r.contains("global personal access token") || r.contains("global pat")
}

/// Whether a reply carries Azure DevOps' own headers (a proxy's reply does not).
fn from_azure_devops(headers: &HeaderMap) -> bool {
    headers.keys().any(|k| {
        let k = k.as_str();
        k.starts_with("x-tfs-") || k.starts_with("x-vss-") || k == "activityid"
    })
}

/// A sign-in page is an answer about the PAT only when Azure DevOps sent it.
fn sign_in_page(headers: &HeaderMap) -> Verdict {
    if from_azure_devops(headers) {
        Verdict::Invalid { reason: "Azure DevOps answered with its sign-in page".into() }
    } else {
        Verdict::Unknown { reason: "an HTML page that is not from Azure DevOps (a proxy?)".into() }
    }
}

/// Where Azure DevOps sends browsers to sign in.
fn is_sign_in_url(location: &str) -> bool {
    let l = location.to_ascii_lowercase();
    l.contains("/_signin")
        || l.contains(".vssps.visualstudio.com/")
        || l.starts_with("https://login.microsoftonline.com/")
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: f64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    // Anything absurd (negative, NaN, 1e300) is just "too long to wait".
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::test_headers as headers;
    use reqwest::header::HeaderValue;

    const JSON: &[(&str, &str)] = &[("content-type", "application/json; charset=utf-8")];

    #[test]
    fn the_retirement_of_global_pats_is_told_from_other_refusals() {
        assert!(global_pat_retired("Access Denied: Global personal access tokens are no longer supported"));
        assert!(global_pat_retired("failed: globalPatUsageDisabled"));
        for other in ["Access Denied: The Personal Access Token used has expired.", "HTTP 401 Unauthorized", ""] {
            assert!(!global_pat_retired(other), "{other}");
        }
    }

    #[test]
    fn authenticated_user_is_valid() {
        let body = br#"{"authenticatedUser":{"id":"22157d54-1821-6536-a446-928b06348385","descriptor":"Microsoft.IdentityModel.Claims.ClaimsIdentity;t\\a@b","providerDisplayName":"Alice"}}"#;
        assert_eq!(judge(StatusCode::OK, &headers(JSON), body), Verdict::Valid { user: "Alice".into() });
    }

    #[test]
    fn anonymous_user_of_a_public_org_is_invalid() {
        let body = br#"{"authenticatedUser":{"id":"aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa","descriptor":"System:PublicAccess;aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"}}"#;
        assert!(matches!(judge(StatusCode::OK, &headers(JSON), body), Verdict::Invalid { .. }));
    }

    #[test]
    fn rejections_are_invalid_with_the_service_reason() {
        let expired = headers(&[(
            "x-tfs-serviceerror",
            "Access%20Denied%3A%20The%20Personal%20Access%20Token%20used%20has%20expired.",
        )]);
        assert_eq!(
            judge(StatusCode::UNAUTHORIZED, &expired, b""),
            Verdict::Invalid { reason: "Access Denied: The Personal Access Token used has expired.".into() }
        );
        let azdo = headers(&[("activityid", "x"), ("x-tfs-processid", "y")]);
        for code in [203u16, 401, 403] {
            let status = StatusCode::from_u16(code).expect("status");
            assert!(matches!(judge(status, &azdo, b""), Verdict::Invalid { .. }), "{code}");
        }
        let signin = headers(&[("location", "https://spsprodweu5.vssps.visualstudio.com/_signin?realm=dev.azure.com")]);
        assert!(matches!(judge(StatusCode::FOUND, &signin, b""), Verdict::Invalid { .. }));
        let html = headers(&[("content-type", "text/html; charset=utf-8"), ("x-vss-e2eid", "z")]);
        assert!(matches!(judge(StatusCode::OK, &html, b"<html>"), Verdict::Invalid { .. }));
    }

    #[test]
    fn a_proxy_in_the_way_says_nothing_about_the_pat() {
        let blocked = headers(&[("location", "https://proxy.corp.example/blocked")]);
        assert!(matches!(judge(StatusCode::FOUND, &blocked, b""), Verdict::Unknown { .. }));
        let html = headers(&[("content-type", "text/html")]);
        assert!(matches!(judge(StatusCode::OK, &html, b"<html>blocked</html>"), Verdict::Unknown { .. }));
        assert!(matches!(judge(StatusCode::FORBIDDEN, &html, b""), Verdict::Unknown { .. }));
        assert!(matches!(judge(StatusCode::NON_AUTHORITATIVE_INFORMATION, &html, b""), Verdict::Unknown { .. }));
        for absurd in ["1e20", "1e300", "-5", "NaN", "inf"] {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, HeaderValue::from_str(absurd).expect("value"));
            assert!(retry_after(&h).is_none_or(|d| d > MAX_RETRY_AFTER), "{absurd}");
        }
    }

    #[test]
    fn outages_and_odd_replies_are_unknown() {
        for code in [400u16, 404, 429, 500, 502, 503] {
            let status = StatusCode::from_u16(code).expect("status");
            assert!(matches!(judge(status, &HeaderMap::new(), b""), Verdict::Unknown { .. }), "{code}");
        }
        assert!(matches!(judge(StatusCode::OK, &headers(JSON), b"{not json"), Verdict::Unknown { .. }));
        assert!(matches!(judge(StatusCode::OK, &headers(JSON), b"{}"), Verdict::Unknown { .. }));
        for odd in [&br#"[1]"#[..], br#"{"authenticatedUser":{"id":{"n":[1]},"descriptor":7}}"#, b"null"] {
            let verdict = judge(StatusCode::OK, &headers(JSON), odd);
            assert_eq!(verdict, Verdict::Unknown { reason: "the reply names no user".into() }, "{odd:?}");
        }
    }

    #[test]
    fn hostile_text_from_the_server_is_made_printable() {
        let h = headers(&[("x-tfs-serviceerror", "bad%1B%5B2Jthing")]);
        let Verdict::Invalid { reason } = judge(StatusCode::UNAUTHORIZED, &h, b"") else { panic!("invalid expected") };
        assert!(!reason.contains('\u{1b}'), "{reason}");
        let body = "{\"authenticatedUser\":{\"id\":\"x\",\"providerDisplayName\":\"Eve\\u001b[2J\"}}";
        let Verdict::Valid { user } = judge(StatusCode::OK, &headers(JSON), body.as_bytes()) else {
            panic!("valid expected")
        };
        assert!(!user.contains('\u{1b}'), "{user}");
    }

    #[test]
    fn percent_decoding() {
        // The service's reason is percent-encoded; an escape that is not one is kept as it is.
        let h = headers(&[("x-tfs-serviceerror", "a%20b%zz%4")]);
        assert_eq!(judge(StatusCode::UNAUTHORIZED, &h, b""), Verdict::Invalid { reason: "a b%zz%4".into() });
        let h = headers(&[("x-tfs-serviceerror", "caf%C3%A9%FF%2B+")]);
        assert_eq!(judge(StatusCode::UNAUTHORIZED, &h, b""), Verdict::Invalid { reason: "café\u{fffd}++".into() });
    }
}
