//! The Azure DevOps PAT lifecycle API (`{vssps}/{org}/_apis/tokens/pats`, Entra bearer token
//! only): create, list and revoke the PATs this helper mints. A refusal by policy comes back as
//! `patTokenError`, turned here into one line that names the cause.

use reqwest::Method;
use serde::Deserialize;

use crate::net::{self, Client};
use crate::percent::escape;
use crate::secret::Secret;
use crate::text::printable;

const API_VERSION: &str = "7.1-preview.1";

/// A PAT as the lifecycle API describes it (the secret only right after creation).
#[derive(Debug, Clone)]
pub struct PatInfo {
    pub authorization_id: String,
    pub display_name: String,
    pub scope: String,
    /// Unix seconds.
    pub valid_from: Option<i64>,
    /// Unix seconds.
    pub valid_to: Option<i64>,
    pub token: Option<Secret>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the organization's policy does not allow creating this PAT ({0})")]
    Policy(String),
    #[error("Azure DevOps refused to create the PAT ({0})")]
    Refused(String),
    #[error("the PAT lifecycle API did not accept the sign-in (HTTP {0})")]
    Unauthorized(u16),
    #[error("the PAT lifecycle API failed: {0}")]
    Failed(String),
    #[error("the PAT lifecycle API failed: {0}")]
    Network(#[from] net::Failure),
    #[error("Azure DevOps minted a PAT git cannot use ({why}); {}", if *.revoked { "it was revoked" } else { "it could not be revoked" })]
    Unusable { why: &'static str, revoked: bool },
}

impl Error {
    /// The error with `secret` (the bearer token just sent) taken out of any server text.
    fn redact(self, secret: &Secret) -> Error {
        let r = |text: String| crate::secret::redact(&text, secret);
        match self {
            Error::Policy(t) => Error::Policy(r(t)),
            Error::Refused(t) => Error::Refused(r(t)),
            Error::Failed(t) => Error::Failed(r(t)),
            other => other,
        }
    }
}

/// A PAT record in a reply.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatToken {
    #[serde(default, deserialize_with = "crate::net::lenient")]
    authorization_id: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    scope: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    valid_from: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    valid_to: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    token: Option<String>,
}

/// The reply to a create.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateReply {
    #[serde(default, deserialize_with = "crate::net::lenient")]
    pat_token: Option<PatToken>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    pat_token_error: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    pat_token_error_message: Option<String>,
}

/// One page of a list.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListReply {
    #[serde(default, deserialize_with = "crate::net::lenient")]
    pat_tokens: Option<Vec<net::Maybe<PatToken>>>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    continuation_token: Option<String>,
}

/// An error reply of Azure DevOps.
#[derive(Deserialize)]
struct ErrorReply {
    #[serde(default, deserialize_with = "crate::net::lenient")]
    message: Option<String>,
}

const MAX_BODY: u64 = 4 * 1024 * 1024;

fn url(vssps: &str, org: &str, query: &str) -> String {
    format!("{}/{org}/_apis/tokens/pats?{query}api-version={API_VERSION}", vssps.trim_end_matches('/'))
}

/// One request with the Entra access token.
fn send(
    client: &Client,
    method: Method,
    url: &str,
    bearer: &Secret,
    body: Option<String>,
) -> Result<reqwest::blocking::Response, Error> {
    let mut request = client.bearer(method, url, bearer);
    if let Some(body) = body {
        request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
    }
    Ok(request.send().map_err(net::Failure::from)?)
}

/// Create a PAT for `org`, valid until `valid_to` (the service may shorten it: use what it returns).
pub fn create(
    client: &Client,
    vssps: &str,
    org: &str,
    bearer: &Secret,
    display_name: &str,
    scope: &str,
    valid_to: i64,
) -> Result<PatInfo, Error> {
    let body = serde_json::json!({
        "displayName": display_name,
        "scope": scope,
        "validTo": crate::time::timestamp(valid_to),
        "allOrgs": false,
    });
    // Server text may quote the token just sent: taken out of every error.
    read_json(send(client, Method::POST, &url(vssps, org, ""), bearer, Some(body.to_string()))?)
        .and_then(created)
        .map_err(|e| e.redact(bearer))
}

/// The PAT a create reply holds, or why it holds none.
fn created(reply: CreateReply) -> Result<PatInfo, Error> {
    match reply.pat_token_error.as_deref() {
        None | Some("none") => {}
        Some(code) => return Err(classify(code, reply.pat_token_error_message.as_deref())),
    }
    let info = reply.pat_token.and_then(pat_info).ok_or_else(|| Error::Failed("the reply holds no PAT".into()))?;
    if info.token.is_none() {
        return Err(Error::Failed("the reply holds no PAT".into()));
    }
    Ok(info)
}

/// Revoke the PAT with this authorization id.
pub fn revoke(client: &Client, vssps: &str, org: &str, bearer: &Secret, authorization_id: &str) -> Result<(), Error> {
    if !authorization_id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(Error::Failed("not an authorization id".into()));
    }
    let query = format!("authorizationId={authorization_id}&");
    let status = send(client, Method::DELETE, &url(vssps, org, &query), bearer, None)?.status().as_u16();
    match status {
        203 | 401 => Err(Error::Unauthorized(status)),
        200..=299 => Ok(()),
        _ => Err(Error::Failed(format!("HTTP {status}"))),
    }
}

/// Every active PAT of the signed-in user in `org`, following `continuationToken` from page to
/// page (100 pages of 100 at most: a reply that never ends is cut there).
pub fn list(client: &Client, vssps: &str, org: &str, bearer: &Secret) -> Result<Vec<PatInfo>, Error> {
    let mut all = Vec::new();
    let mut continuation = String::new();
    for _ in 0..100 {
        let query = if continuation.is_empty() {
            "$top=100&".to_owned()
        } else {
            format!("$top=100&continuationToken={}&", escape(&continuation))
        };
        let page = read_json(send(client, Method::GET, &url(vssps, org, &query), bearer, None)?);
        let (pats, next) = list_page(page.map_err(|e| e.redact(bearer))?);
        all.extend(pats);
        // The last page has none; a token that does not move on would only repeat this page.
        if next.is_empty() || next == continuation {
            break;
        }
        continuation = next;
    }
    Ok(all)
}

/// One page of a list: its PATs (odd entries skipped) and the continuation token (empty: the last).
fn list_page(page: ListReply) -> (Vec<PatInfo>, String) {
    let pats = page.pat_tokens.into_iter().flatten().filter_map(|m| m.0).filter_map(pat_info).collect();
    (pats, page.continuation_token.unwrap_or_default())
}

/// A create reply, as [`create`] reads it (for the fuzz targets, [`crate::fuzzing`]).
pub(crate) fn parse_create_reply(status: u16, bytes: &[u8]) -> Result<PatInfo, Error> {
    created(parse_json(status, bytes)?)
}

/// A list page, as [`list`] reads it (for the fuzz targets).
pub(crate) fn parse_list_reply(status: u16, bytes: &[u8]) -> Result<(Vec<PatInfo>, String), Error> {
    Ok(list_page(parse_json(status, bytes)?))
}

fn unauthorized(status: u16) -> bool {
    status == 401 || status == 203 || (300..400).contains(&status)
}

fn read_json<T: serde::de::DeserializeOwned>(response: reqwest::blocking::Response) -> Result<T, Error> {
    let status = response.status().as_u16();
    // Refused by its status alone: the body is not read.
    let bytes = if unauthorized(status) { Vec::new() } else { net::read_body(response, MAX_BODY)? };
    parse_json(status, &bytes)
}

/// A reply's JSON: `T` on success, else the service's error message (printable).
fn parse_json<T: serde::de::DeserializeOwned>(status: u16, bytes: &[u8]) -> Result<T, Error> {
    if unauthorized(status) {
        return Err(Error::Unauthorized(status));
    }
    let unreadable = || Error::Failed(format!("HTTP {status}, unreadable reply"));
    if !(200..300).contains(&status) {
        let reply: ErrorReply = serde_json::from_slice(bytes).map_err(|_| unreadable())?;
        let message = reply.message.as_deref().map(printable).unwrap_or_default();
        return Err(Error::Failed(format!("HTTP {status} {message}").trim().to_owned()));
    }
    serde_json::from_slice(bytes).map_err(|_| unreadable())
}

fn classify(code: &str, message: Option<&str>) -> Error {
    let code = printable(code);
    let what = match code.as_str() {
        "disablePatCreationPolicyViolation" | "globalPATCreationBlocked" => "PAT creation is disabled",
        "patLifespanPolicyViolation" => "the lifetime is longer than the policy allows (azdo.patLifetime)",
        "fullScopePatPolicyViolation" => "full-scope PATs are not allowed (azdo.scope)",
        "globalPatPolicyViolation" => "PATs for all organizations are not allowed",
        "invalidScope" => "the scope is not valid (azdo.scope)",
        "invalidDisplayName" | "displayNameRequired" => "the display name was refused",
        "accessDenied" => "access denied",
        _ => "",
    };
    let detail = message.map(printable).filter(|m| !m.is_empty());
    let text = match (what, detail) {
        ("", Some(m)) => format!("{code}: {m}"),
        ("", None) => code.clone(),
        (w, _) => format!("{w}; {code}"),
    };
    if code.contains("Policy") || code.contains("Blocked") {
        Error::Policy(text)
    } else {
        Error::Refused(text)
    }
}

fn pat_info(v: PatToken) -> Option<PatInfo> {
    let authorization_id = v.authorization_id?;
    Some(PatInfo {
        display_name: printable(v.display_name.as_deref().unwrap_or("")),
        scope: printable(v.scope.as_deref().unwrap_or("")),
        valid_from: v.valid_from.as_deref().and_then(crate::time::parse_rfc3339),
        valid_to: v.valid_to.as_deref().and_then(crate::time::parse_rfc3339),
        token: v.token.filter(|t| !t.is_empty()).map(Secret::from),
        authorization_id: printable(&authorization_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_errors_name_their_cause() {
        let e = classify("disablePatCreationPolicyViolation", None).to_string();
        assert!(e.contains("policy") && e.contains("PAT creation is disabled"), "{e}");
        assert!(matches!(classify("patLifespanPolicyViolation", None), Error::Policy(_)));
        assert!(matches!(classify("invalidScope", None), Error::Refused(_)));
        let e = classify("somethingNew\u{1b}[2J", Some("msg")).to_string();
        assert!(!e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn pat_records_and_times_are_read() {
        let record = |v: serde_json::Value| serde_json::from_value::<PatToken>(v).expect("record");
        let v = serde_json::json!({"displayName":"n","validTo":"2020-12-01T23:46:23.32Z","scope":"vso.code_write","authorizationId":"4ab5764f-4193-4f1d-b995-64144880b7d7","token":"tok"});
        let info = pat_info(record(v)).expect("info");
        assert_eq!(info.valid_to, Some(1_606_866_383));
        assert_eq!(info.token.as_ref().map(Secret::expose), Some("tok"));
        assert!(pat_info(record(serde_json::json!({"displayName":"x"}))).is_none());
        let page: ListReply =
            serde_json::from_value(serde_json::json!({"patTokens":[null,"x",{"authorizationId":"a"}]})).expect("page");
        assert_eq!(page.pat_tokens.into_iter().flatten().filter_map(|m| m.0).count(), 1, "odd entries are skipped");
        let page: ListReply = serde_json::from_value(serde_json::json!({"patTokens":null})).expect("page");
        assert!(page.pat_tokens.is_none());
        assert_eq!(escape("a b/+").to_string(), "a%20b%2F%2B");
    }
}
