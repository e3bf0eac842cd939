//! The Azure DevOps REST client: one cheap call, `GET {org}/_apis/connectionData`, that says
//! whether a PAT is valid, invalid, or that nobody can tell right now. Every call has a connect and
//! a total timeout, follows no redirect, and never logs a header or a body.

use std::io::Read;
use std::time::{Duration, Instant};

use reqwest::blocking::Client as Http;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;

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

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the CA file {path}: {detail}")]
    CaFile { path: String, detail: String },
    #[error("invalid proxy {0}")]
    Proxy(String),
    #[error("cannot set up HTTP: {0}")]
    Setup(String),
}

/// Network settings, from git's own configuration where git users already set them.
#[derive(Debug, Clone)]
pub struct Network {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// `http.proxy` (empty: no proxy); the environment's `HTTPS_PROXY`/`NO_PROXY` apply otherwise.
    pub proxy: Option<String>,
    /// `http.sslCAInfo` / `GIT_SSL_CAINFO`: extra trusted CAs (PEM).
    pub ca_file: Option<std::path::PathBuf>,
    /// `http.sslVerify=false` / `GIT_SSL_NO_VERIFY`.
    pub verify_tls: bool,
}

pub struct Client {
    http: Http,
    timeout: Duration,
}

impl Client {
    pub fn new(net: &Network) -> Result<Client, Error> {
        let mut builder = Http::builder()
            .user_agent(concat!("git-credential-azdo/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(net.connect_timeout)
            .timeout(net.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(false);
        if net.proxy.as_deref() == Some("") {
            builder = builder.no_proxy();
        } else if let Some(proxy) = &net.proxy {
            let proxy = reqwest::Proxy::all(proxy)
                .map_err(|_| Error::Proxy(printable(&redact_userinfo(proxy))))?
                .no_proxy(reqwest::NoProxy::from_env());
            builder = builder.proxy(proxy);
        }
        if let Some(path) = &net.ca_file {
            let shown = printable(&path.to_string_lossy());
            let pem = std::fs::read(path).map_err(|e| Error::CaFile { path: shown.clone(), detail: e.to_string() })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::CaFile { path: shown.clone(), detail: e.to_string() })?;
            if certs.is_empty() {
                return Err(Error::CaFile { path: shown, detail: "no certificate in it".into() });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if !net.verify_tls {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|e| Error::Setup(e.to_string()))?;
        Ok(Client { http, timeout: net.timeout })
    }

    /// Ask `{org_url}/_apis/connectionData` whether `pat` is accepted. Honours a short
    /// `Retry-After` once, within the total time budget.
    pub fn validate(&self, org_url: &str, pat: &Secret) -> Verdict {
        let url = format!("{}/_apis/connectionData", org_url.trim_end_matches('/'));
        let deadline = Instant::now() + self.timeout;
        let mut retried = false;
        loop {
            let sent = self
                .http
                .get(&url)
                .basic_auth("", Some(pat.expose()))
                .header(ACCEPT, "application/json")
                .header("X-TFS-FedAuthRedirect", "Suppress")
                .timeout(deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)))
                .send();
            let response = match sent {
                Ok(response) => response,
                Err(e) => return Verdict::Unknown { reason: describe(&e) },
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
            let mut body = Vec::new();
            let read = response.take(MAX_BODY).read_to_end(&mut body);
            if let Err(e) = read {
                return Verdict::Unknown { reason: format!("the reply was cut off ({})", printable(&e.to_string())) };
            }
            return judge(status, &headers, &body);
        }
    }
}

impl Client {
    /// The underlying HTTP client, for the other REST clients of this crate (Entra, PAT lifecycle).
    pub(crate) fn http(&self) -> &Http {
        &self.http
    }

    /// Whether `url` answers at all (any HTTP status), without credentials: `Ok(status)`.
    pub fn probe(&self, url: &str) -> Result<u16, String> {
        match self.http.get(url).header("X-TFS-FedAuthRedirect", "Suppress").send() {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) => Err(describe(&e)),
        }
    }
}

/// The verdict for a connectionData reply. Pure, so every rule is unit-tested.
pub fn judge(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let service_error =
        headers.get("X-TFS-ServiceError").and_then(|v| v.to_str().ok()).map(|v| printable(&percent_decode(v)));
    match status.as_u16() {
        200 if content_type.contains("text/html") => sign_in_page(headers),
        200 => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(data) => {
                let user = &data["authenticatedUser"];
                let id = user["id"].as_str().unwrap_or("");
                let descriptor = user["descriptor"].as_str().unwrap_or("");
                if id.is_empty() {
                    Verdict::Unknown { reason: "the reply names no user".into() }
                } else if id.eq_ignore_ascii_case(ANONYMOUS_ID) || descriptor.starts_with("System:PublicAccess;") {
                    Verdict::Invalid { reason: "Azure DevOps answered anonymously: the PAT was not accepted".into() }
                } else {
                    let name = user["providerDisplayName"].as_str().filter(|n| !n.is_empty());
                    let account = user["properties"]["Account"]["$value"].as_str().filter(|a| !a.is_empty());
                    let shown = match (name, account) {
                        (Some(n), Some(a)) if n != a => format!("{n} <{a}>"),
                        (Some(n), _) => n.to_owned(),
                        (None, Some(a)) => a.to_owned(),
                        (None, None) => id.to_owned(),
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

/// A network failure in words, without the URL's secrets (there are none: auth is a header).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind} ({})", printable(&detail))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `scheme://user:pass@host` → `scheme://***@host`, for messages about a proxy.
pub fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => format!("{}***{}", &url[..scheme_end + 3], &url[at..]),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    const JSON: &[(&str, &str)] = &[("content-type", "application/json; charset=utf-8")];

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
    fn percent_decoding_and_proxy_redaction() {
        assert_eq!(percent_decode("a%20b%zz%4"), "a b%zz%4");
        assert_eq!(redact_userinfo("http://user:pw@proxy:3128"), "http://***@proxy:3128");
        assert_eq!(redact_userinfo("http://proxy:3128"), "http://proxy:3128");
    }
}
