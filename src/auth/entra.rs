//! Microsoft Entra ID's token endpoints: the device code flow, refresh tokens, and the Azure CLI
//! as a silent source of access tokens for Azure DevOps. Replies are read into typed models.
//! Tokens are [`Secret`]s; nothing here prints them or puts them in an error.

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
    #[error("the Azure CLI gave no token: {0}")]
    AzureCli(&'static str),
    #[error("the Azure CLI gave no token: az did not answer within {0:?}")]
    AzureCliTimeout(Duration),
    #[error("the Azure CLI gave no token: cannot run az: {0}")]
    AzureCliSpawn(#[source] std::io::Error),
}

/// A number Entra (or the Azure CLI) sends as a number or as a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Text(String),
}

impl Number {
    fn value(n: &Option<Number>) -> Option<i64> {
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

/// `az account get-access-token --output json`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AzureCliReply {
    #[serde(default, deserialize_with = "crate::net::lenient")]
    access_token: Option<String>,
    #[serde(rename = "expires_on", default, deserialize_with = "crate::net::lenient")]
    expires_on: Option<Number>,
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

/// Start the device code flow against `{authority}/{tenant}`.
pub fn start_device_flow(client: &Client, authority: &str, tenant: &str, client_id: &str) -> Result<DeviceCode, Error> {
    let url = format!("{}/{tenant}/oauth2/v2.0/devicecode", authority.trim_end_matches('/'));
    device_code(post_form(client, &url, &[("client_id", client_id), ("scope", SCOPE)])?)
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
    tokens(post_form(client, &url, &form)?)
}

/// Redeem a browser sign-in's authorization code, with the same `redirect_uri` and the PKCE
/// verifier (a public client sends no secret).
pub fn redeem_code(
    client: &Client,
    authority: &str,
    tenant: &str,
    client_id: &str,
    code: &Secret,
    redirect_uri: &str,
    verifier: &Secret,
) -> Result<Tokens, Error> {
    let url = format!("{}/{tenant}/oauth2/v2.0/token", authority.trim_end_matches('/'));
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("scope", SCOPE),
        ("code", code.expose()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier.expose()),
    ];
    tokens(post_form(client, &url, &form)?)
}

/// The Azure CLI's token for Azure DevOps, if `az` is installed and signed in. Silent: it never
/// prompts (stdin is closed, its stderr is not shown).
pub fn azure_cli_token(tenant: Option<&str>, timeout: Duration) -> Result<Tokens, Error> {
    let mut cmd = std::process::Command::new(az_program(cfg!(windows)));
    cmd.args(["account", "get-access-token", "--resource", AZURE_DEVOPS_RESOURCE, "--output", "json"]);
    for var in crate::config::keys::SECRET_VARS {
        cmd.env_remove(var);
    }
    if let Some(tenant) = tenant.filter(|t| super::tenant::is_tenant(t) && !matches!(*t, "common" | "organizations")) {
        cmd.args(["--tenant", tenant]);
    }
    let (status, out) = run_bounded(cmd, timeout)?;
    if !status.success() {
        return Err(Error::AzureCli("az is not signed in (run az login)"));
    }
    let reply: AzureCliReply = serde_json::from_slice(&out).map_err(|_| Error::AzureCli("unreadable output"))?;
    let access_token = reply.access_token.filter(|t| !t.is_empty()).ok_or(Error::AzureCli("no accessToken"))?;
    let expires_at = Number::value(&reply.expires_on).unwrap_or_else(|| now() + 300);
    Ok(Tokens { access_token: Secret::from(access_token), refresh_token: None, expires_at })
}

/// Run `cmd` (stdin closed, stderr dropped) and collect its stdout; the whole child, its exit
/// included, is bounded by `timeout`: one that prints, closes stdout and keeps running is killed.
fn run_bounded(
    mut cmd: std::process::Command,
    timeout: Duration,
) -> Result<(std::process::ExitStatus, Vec<u8>), Error> {
    use std::process::Stdio;
    let deadline = std::time::Instant::now() + timeout;
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = cmd.spawn().map_err(Error::AzureCliSpawn)?;
    let mut stdout = child.stdout.take().ok_or(Error::AzureCli("no output"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(&mut stdout, MAX_BODY), &mut out);
        let _ = tx.send(out);
    });
    let give_up = |child: &mut std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
        Error::AzureCliTimeout(timeout)
    };
    let Ok(out) = rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) else {
        return Err(give_up(&mut child));
    };
    loop {
        if let Some(status) = child.try_wait().map_err(Error::AzureCliSpawn)? {
            return Ok((status, out));
        }
        if std::time::Instant::now() >= deadline {
            return Err(give_up(&mut child));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The Azure CLI's program: `az.cmd` on Windows, where std adds only `.exe` to a bare name and
/// ignores `PATHEXT` (std quotes a `.cmd`'s arguments safely), else `az`.
fn az_program(windows: bool) -> &'static str {
    if windows {
        "az.cmd"
    } else {
        "az"
    }
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
    /// Hole 8: the bound covers the child's exit, not only its output.
    #[cfg(unix)]
    #[test]
    fn a_child_that_closes_stdout_and_lingers_is_killed_in_time() {
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "printf '{}'; exec >&-; sleep 30"]);
        let started = std::time::Instant::now();
        let result = run_bounded(cmd, Duration::from_millis(500));
        assert!(matches!(result, Err(Error::AzureCliTimeout(_))), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
        let mut quick = std::process::Command::new("sh");
        quick.args(["-c", "printf ok"]);
        let (status, out) = run_bounded(quick, Duration::from_secs(5)).expect("a quick child");
        assert!(status.success() && out == b"ok");
    }

    #[test]
    fn the_azure_cli_is_az_cmd_on_windows() {
        assert_eq!(az_program(true), "az.cmd");
        assert_eq!(az_program(false), "az");
        assert_eq!(az_program(cfg!(windows)), if cfg!(windows) { "az.cmd" } else { "az" });
    }

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
