//! Microsoft Entra ID's token endpoints: the device code flow, refresh tokens, the browser
//! sign-in's authorization code, and the client-credentials grant of build identities. Replies
//! are read into typed models. Tokens are [`Secret`]s; nothing here prints them or puts them in
//! an error.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::net::{self, Client};
use crate::secret::Secret;
use crate::text::printable;
use crate::time::now;

/// Azure DevOps' resource (application) id in Entra ID.
pub const AZURE_DEVOPS_RESOURCE: &str = "499b84ac-1321-427f-aa17-267ca6975798";
pub(crate) const SCOPE: &str = "499b84ac-1321-427f-aa17-267ca6975798/.default offline_access";
const MAX_BODY: u64 = 1024 * 1024;
/// Form fields that carry a secret, never shown even when a reply quotes them.
const SECRET_FIELDS: &[&str] =
    &["refresh_token", "device_code", "code", "code_verifier", "client_secret", "client_assertion"];

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
    Network(#[from] net::Failure),
    #[error("Entra ID sent an unreadable reply")]
    BadReply,
}

/// A number Entra (or the Azure CLI) sends as a number or as a string.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Number {
    Int(i64),
    Text(String),
}

impl Number {
    pub(super) fn value(n: &Option<Number>) -> Option<i64> {
        match n {
            Some(Number::Int(i)) => Some(*i),
            Some(Number::Text(s)) => s.trim().parse().ok(),
            None => None,
        }
    }
}

/// A token endpoint's successful reply.
#[derive(Deserialize)]
struct TokenReply {
    #[serde(default, deserialize_with = "crate::net::lenient")]
    access_token: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    refresh_token: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    expires_in: Option<Number>,
}

/// A device authorization endpoint's reply.
#[derive(Deserialize)]
struct DeviceCodeReply {
    #[serde(default, deserialize_with = "crate::net::lenient")]
    device_code: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    user_code: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    verification_uri: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    expires_in: Option<Number>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    interval: Option<Number>,
}

/// An OAuth error reply.
#[derive(Deserialize)]
struct ErrorReply {
    #[serde(default, deserialize_with = "crate::net::lenient")]
    error: Option<String>,
    #[serde(default, deserialize_with = "crate::net::lenient")]
    error_description: Option<String>,
}

/// What a person needs to sign in with the device code flow.
#[derive(Debug)]
pub struct DeviceCode {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub interval: Duration,
}

/// Start the device code flow against `{authority}/{tenant}`. `claims`: the `claims` request
/// parameter (the client's capabilities, and a challenge's claims), sent again with each poll.
pub fn start_device_flow(
    client: &Client,
    authority: &str,
    tenant: &str,
    client_id: &str,
    claims: &str,
) -> Result<DeviceCode, Error> {
    let url = format!("{}/{tenant}/oauth2/v2.0/devicecode", authority.trim_end_matches('/'));
    device_code(post_form(client, &url, &[("client_id", client_id), ("scope", SCOPE), ("claims", claims)])?)
}

/// What a person needs to sign in, from a device authorization reply (timings bounded).
fn device_code(reply: DeviceCodeReply) -> Result<DeviceCode, Error> {
    let (Some(device_code), Some(user_code), Some(verification_uri)) =
        (reply.device_code, reply.user_code, reply.verification_uri)
    else {
        return Err(Error::BadReply);
    };
    Ok(DeviceCode {
        device_code: Secret::from(device_code),
        user_code: printable(&user_code),
        verification_uri: printable(&verification_uri),
        expires_at: now() + Number::value(&reply.expires_in).filter(|n| *n >= 0).unwrap_or(900).min(3600),
        interval: Duration::from_secs(Number::value(&reply.interval).filter(|n| *n >= 0).unwrap_or(5).min(60) as u64),
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
    claims: &str,
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
            ("claims", claims),
        ];
        match post_form(client, &url, &form) {
            Ok(reply) => return tokens(reply),
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

/// Trade a refresh token for a new access token (and, usually, a new refresh token), with the
/// `claims` request parameter.
pub fn refresh(
    client: &Client,
    authority: &str,
    tenant: &str,
    client_id: &str,
    token: &Secret,
    claims: &str,
) -> Result<Tokens, Error> {
    let url = format!("{}/{tenant}/oauth2/v2.0/token", authority.trim_end_matches('/'));
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("scope", SCOPE),
        ("refresh_token", token.expose()),
        ("claims", claims),
    ];
    tokens(post_form(client, &url, &form)?)
}

/// Redeem a browser sign-in's authorization code, with the same `redirect_uri`, the PKCE
/// verifier (a public client sends no secret) and the `claims` request parameter.
#[allow(clippy::too_many_arguments)]
pub fn redeem_code(
    client: &Client,
    authority: &str,
    tenant: &str,
    client_id: &str,
    code: &Secret,
    redirect_uri: &str,
    verifier: &Secret,
    claims: &str,
) -> Result<Tokens, Error> {
    let url = format!("{}/{tenant}/oauth2/v2.0/token", authority.trim_end_matches('/'));
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("scope", SCOPE),
        ("code", code.expose()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier.expose()),
        ("claims", claims),
    ];
    tokens(post_form(client, &url, &form)?)
}

/// POST a token request `form` to `url` (the client-credentials grant of a service principal or
/// a federated identity); the reply read as for the other grants.
pub(crate) fn token_request(client: &Client, url: &str, form: &[(&str, &str)]) -> Result<Tokens, Error> {
    tokens(post_form(client, url, form)?)
}

fn tokens(reply: TokenReply) -> Result<Tokens, Error> {
    let access_token = reply.access_token.filter(|t| !t.is_empty()).ok_or(Error::BadReply)?;
    let expires_in = Number::value(&reply.expires_in).unwrap_or(3599);
    Ok(Tokens {
        access_token: Secret::from(access_token),
        refresh_token: reply.refresh_token.filter(|t| !t.is_empty()).map(Secret::from),
        expires_at: now() + expires_in.clamp(60, 24 * 3600),
    })
}

/// POST a form; the 200 reply, or `Refused("error: AADSTS…")` for an OAuth error.
fn post_form<T: DeserializeOwned>(client: &Client, url: &str, form: &[(&str, &str)]) -> Result<T, Error> {
    let response = client.post(url).form(form).send().map_err(net::Failure::from)?;
    let status = response.status().as_u16();
    let bytes = net::read_body(response, MAX_BODY)?;
    parse_reply(status, &bytes).map_err(|e| match e {
        // The reply may quote a secret the form just sent.
        Error::Refused(mut text) => {
            for (_, value) in form.iter().filter(|(key, _)| SECRET_FIELDS.contains(key)) {
                text = crate::secret::redact(&text, &Secret::new(*value));
            }
            Error::Refused(text)
        }
        other => other,
    })
}

/// A token endpoint's reply, as [`refresh`] and the device code poll read it (for the fuzz
/// targets, [`crate::fuzzing`]).
pub(crate) fn parse_token_reply(status: u16, bytes: &[u8]) -> Result<Tokens, Error> {
    tokens(parse_reply(status, bytes)?)
}

/// A device authorization reply, as [`start_device_flow`] reads it (for the fuzz targets).
pub(crate) fn parse_device_code_reply(status: u16, bytes: &[u8]) -> Result<DeviceCode, Error> {
    device_code(parse_reply(status, bytes)?)
}

/// A reply's JSON: `T` on success, else `Refused("error: AADSTS…")` for an OAuth error.
fn parse_reply<T: DeserializeOwned>(status: u16, bytes: &[u8]) -> Result<T, Error> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(bytes).map_err(|_| Error::BadReply);
    }
    let reply: ErrorReply = serde_json::from_slice(bytes).map_err(|_| Error::BadReply)?;
    let error = reply.error.as_deref().map(printable).unwrap_or_else(|| format!("HTTP {status}"));
    // The first line of the description carries the AADSTS code and the reason.
    let detail = reply.error_description.as_deref().and_then(|d| d.lines().next()).map(printable).unwrap_or_default();
    Err(Error::Refused(if detail.is_empty() { error } else { format!("{error}: {detail}") }))
}
#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn token_replies_are_read_and_bounded() {
        let reply = |v: serde_json::Value| serde_json::from_value::<TokenReply>(v).expect("reply");
        let body =
            serde_json::json!({"token_type":"Bearer","expires_in":"3599","access_token":"at","refresh_token":"rt"});
        let t = tokens(reply(body)).expect("tokens");
        assert_eq!((t.access_token.expose(), t.refresh_token.as_ref().map(Secret::expose)), ("at", Some("rt")));
        assert!(t.expires_at > now() + 3000);
        assert!(tokens(reply(serde_json::json!({"token_type":"Bearer"}))).is_err());
        let numeric = tokens(reply(serde_json::json!({"access_token":"at","expires_in":10}))).expect("tokens");
        assert!(numeric.expires_at >= now() + 59, "a short lifetime is raised to a minute");
        assert!(!format!("{t:?}").contains("at\""), "tokens are redacted in Debug");
    }
}
