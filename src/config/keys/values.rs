//! The value types of the settings and the parsers the key table names: each turns a setting's
//! text into its typed value, or says why it cannot ([`Why`]).

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use super::super::identities::{Assertion, ManagedIdentity, Scenario, ServicePrincipal};
use super::Why;
use crate::org::{ServiceUrl, Target};
use crate::secret::Secret;
use crate::valid::bool_value;

pub(super) fn expected(what: &'static str) -> Why {
    Why(Cow::Borrowed(what))
}

/// One of `allowed` (case-insensitive) and its value.
pub(super) fn one_of<T: Copy>(v: &str, allowed: &[(&str, T)], what: &'static str) -> Result<T, Why> {
    let v = v.trim().to_ascii_lowercase();
    allowed.iter().find(|(name, _)| *name == v).map(|(_, t)| *t).ok_or(expected(what))
}

/// Where PATs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Keyring,
    File,
}

impl StoreKind {
    pub(super) fn parse(v: &str) -> Result<StoreKind, Why> {
        // Spelled exactly: a store is not a place for guesses.
        match v.trim() {
            "keyring" => Ok(StoreKind::Keyring),
            "file" => Ok(StoreKind::File),
            _ => Err(expected("expected keyring or file")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Keyring => "keyring",
            StoreKind::File => "file",
        }
    }
}

/// Whether PATs may be minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mint {
    /// Mint a PAT through Entra sign-in when none is usable.
    Auto,
    /// Only prompt.
    Never,
}

impl Mint {
    pub(super) fn parse(v: &str) -> Result<Mint, Why> {
        one_of(v, &[("auto", Mint::Auto), ("never", Mint::Never)], "expected one of the documented values")
    }
}

/// Where Entra access tokens may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// A stored refresh token, then the Azure CLI, then (when interactive) the browser where one
    /// can be shown, then the device code flow.
    Auto,
    /// Stored refresh token, then the browser; never the Azure CLI or the device code flow.
    Browser,
    /// Stored refresh token, then the device code flow; never the Azure CLI.
    Device,
    /// Only the Azure CLI.
    AzureCli,
}

impl TokenSource {
    pub(super) fn parse(v: &str) -> Result<TokenSource, Why> {
        let allowed = [
            ("auto", TokenSource::Auto),
            ("browser", TokenSource::Browser),
            ("device", TokenSource::Device),
            ("azcli", TokenSource::AzureCli),
        ];
        one_of(v, &allowed, "expected one of the documented values")
    }
}

/// What git is handed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialType {
    /// A PAT (stored, checked, renewed).
    Pat,
    /// The Entra access token itself, never stored.
    OAuth,
}

impl CredentialType {
    pub(super) fn parse(v: &str) -> Result<CredentialType, Why> {
        let allowed = [("pat", CredentialType::Pat), ("oauth", CredentialType::OAuth)];
        one_of(v, &allowed, "expected one of the documented values")
    }
}

pub(super) fn boolean(v: &str) -> Result<bool, Why> {
    bool_value(v).ok_or(expected("expected true or false"))
}

/// A user principal name (lower-cased).
pub(super) fn account(v: &str) -> Result<String, Why> {
    crate::org::account_name(v).map_err(|_| expected("expected a user principal name such as alice@contoso.com"))
}

/// Seconds, more than zero, at most a year.
pub(super) fn seconds(v: &str) -> Result<Duration, Why> {
    match interval(v)? {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(expected("expected a number of seconds")),
    }
}

/// Seconds (zero allowed), or `never`/`off` for no checks at all.
pub(super) fn interval(v: &str) -> Result<Option<Duration>, Why> {
    match v.trim() {
        "never" | "off" => Ok(None),
        v => v
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 31_536_000.0)
            .map(|s| Some(Duration::from_secs_f64(s)))
            .ok_or(expected("expected a number of seconds")),
    }
}

pub(super) fn days(v: &str) -> Result<u32, Why> {
    v.trim().parse::<u32>().ok().filter(|d| *d <= 3650).ok_or(expected("expected a number of days"))
}

/// `~/` expanded to the home directory.
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// Relative paths would land in whatever repository git runs in.
pub(super) fn absolute_path(v: &str) -> Result<PathBuf, Why> {
    Some(expand_home(v)).filter(|p| p.is_absolute()).ok_or(expected("expected an absolute path (or ~/...)"))
}

pub(super) fn service_url(v: &str) -> Result<ServiceUrl, Why> {
    ServiceUrl::parse(v.trim()).map_err(|e| Why(Cow::Owned(e.to_string())))
}

/// An origin, as its base URL (`https://host[:port]`).
pub(super) fn origin(v: &str) -> Result<String, Why> {
    service_url(v).map(|u| u.base())
}

pub(super) fn collection(v: &str) -> Result<Target, Why> {
    Target::server(v).map_err(|e| Why(Cow::Owned(e.to_string())))
}

pub(super) fn client_id(v: &str) -> Result<String, Why> {
    Some(v.trim().to_owned()).filter(|v| crate::valid::is_tenant(v)).ok_or(expected("expected a client id (GUID)"))
}

pub(super) fn tenant(v: &str) -> Result<String, Why> {
    Some(v.trim().to_owned()).filter(|v| crate::valid::is_tenant(v)).ok_or(expected("expected a tenant id or domain"))
}

pub(super) fn managed_identity(v: &str) -> Result<ManagedIdentity, Why> {
    ManagedIdentity::parse(v).map_err(expected)
}

pub(super) fn scenario(v: &str) -> Result<Scenario, Why> {
    Scenario::parse(v).map_err(expected)
}

pub(super) fn assertion(v: &str) -> Result<Assertion, Why> {
    Assertion::parse(v).map_err(expected)
}

pub(super) fn guid(v: &str) -> Result<String, Why> {
    Some(v.trim().to_ascii_lowercase()).filter(|v| crate::valid::is_guid(v)).ok_or(expected("expected a GUID"))
}

/// An audience: printable, no spaces.
pub(super) fn audience(v: &str) -> Result<String, Why> {
    let v = v.trim();
    if v.is_empty() || v.len() > 512 || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(expected("expected an audience like api://AzureADTokenExchange"));
    }
    Ok(v.to_owned())
}

pub(super) fn service_principal(v: &str) -> Result<ServicePrincipal, Why> {
    ServicePrincipal::parse(v).map_err(expected)
}

/// A secret value: not empty, no line breaks (it goes into a form, never printed).
pub(super) fn secret(v: &str) -> Result<Secret, Why> {
    let v = v.trim();
    if v.is_empty() || v.contains(['\n', '\r', '\0']) {
        return Err(expected("expected a secret (no line breaks)"));
    }
    Ok(Secret::new(v))
}

/// The metadata endpoint's origin: plain http is what it speaks, so http is allowed for the
/// link-local address and loopback; any other host must be https.
pub(super) fn imds_origin(v: &str) -> Result<String, Why> {
    let v = v.trim().trim_end_matches('/');
    let bad = || expected("expected http://169.254.169.254, an http://127.0.0.1:PORT origin or an https:// origin");
    let (scheme, rest) = v.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    let host_port = rest.to_ascii_lowercase();
    if host_port.is_empty() || host_port.contains(['/', '?', '#', '@']) || host_port.contains(char::is_whitespace) {
        return Err(bad());
    }
    let host = host_port
        .rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(&*host_port, |(h, _)| h);
    match scheme.as_str() {
        "https" => Ok(format!("https://{host_port}")),
        "http" if host == "169.254.169.254" || crate::org::is_loopback(host) => Ok(format!("http://{host_port}")),
        _ => Err(bad()),
    }
}

pub(super) fn scope(v: &str) -> Result<String, Why> {
    let scope = v.split_whitespace().collect::<Vec<_>>().join(" ");
    if scope.is_empty() || !scope.chars().all(|c| c.is_ascii_alphanumeric() || "._ ".contains(c)) {
        return Err(expected("expected scopes like vso.code_write, separated by spaces"));
    }
    Ok(scope)
}
