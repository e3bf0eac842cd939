//! Settings: git config keys under `azdo.` (URL-scoped with git's urlmatch rules where it makes
//! sense), each overridable by `GIT_CREDENTIAL_AZDO_<KEY>`. All of git's configuration is read with a
//! single `git config --list` process per invocation; nothing else spawns git for settings.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::secret::Secret;
use crate::text::printable;

mod cache;

/// Whether this helper reads `key`: only these are kept (and cached), so no other config value,
/// secret or not, is copied anywhere.
pub fn is_relevant(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.starts_with("azdo.")
        || lower == "core.askpass"
        || (lower.starts_with("credential.") && lower.ends_with(".interactive"))
}

/// git's network settings this helper honours. Read only when a request is to be made, never
/// cached (a proxy URL may carry a password).
pub fn is_network(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.starts_with("http.")
        && (lower.ends_with(".proxy") || lower.ends_with(".sslcainfo") || lower.ends_with(".sslverify"))
}

/// Every setting this helper reads: git config key, environment variable, default, meaning.
/// docs/configuration.md and the README list exactly these.
pub const SETTINGS: &[Setting] = &[
    Setting { key: "azdo.store", env: "GIT_CREDENTIAL_AZDO_STORE", default: "keyring", url_scoped: false,
        help: "where PATs are kept: keyring (the OS store) or file" },
    Setting { key: "azdo.storeFile", env: "GIT_CREDENTIAL_AZDO_STORE_FILE", default: "<data dir>/git-credential-azdo/credentials.json", url_scoped: false,
        help: "the file of the file store" },
    Setting { key: "azdo.interactive", env: "GIT_CREDENTIAL_AZDO_INTERACTIVE", default: "true", url_scoped: true,
        help: "whether the helper may prompt (false in scripts; GIT_TERMINAL_PROMPT=0 and credential.interactive=false also turn prompts off)" },
    Setting { key: "azdo.keyringTimeout", env: "GIT_CREDENTIAL_AZDO_KEYRING_TIMEOUT", default: "10", url_scoped: false,
        help: "seconds one keyring call may take before the helper gives up" },
    Setting { key: "azdo.validateInterval", env: "GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL", default: "3600", url_scoped: true,
        help: "seconds between checks of a stored PAT against Azure DevOps (0: on every get; never: no checks, known expiry still applies)" },
    Setting { key: "azdo.timeout", env: "GIT_CREDENTIAL_AZDO_TIMEOUT", default: "5", url_scoped: false,
        help: "seconds one request to Azure DevOps may take in total, waiting on Retry-After included" },
    Setting { key: "azdo.connectTimeout", env: "GIT_CREDENTIAL_AZDO_CONNECT_TIMEOUT", default: "2", url_scoped: false,
        help: "seconds to wait for a connection to Azure DevOps" },
    Setting { key: "azdo.url", env: "GIT_CREDENTIAL_AZDO_URL", default: "https://dev.azure.com", url_scoped: false,
        help: "the Azure DevOps Services origin, read like dev.azure.com (https, or http on loopback)" },
    Setting { key: "azdo.server", env: "GIT_CREDENTIAL_AZDO_SERVER", default: "(none)", url_scoped: false,
        help: "Azure DevOps Server (on-premises) collection URLs, one per value (in the variable: separated by spaces)" },
    Setting { key: "azdo.vsspsUrl", env: "GIT_CREDENTIAL_AZDO_VSSPS_URL", default: "https://vssps.dev.azure.com", url_scoped: false,
        help: "the Azure DevOps identity service origin (PAT lifecycle API)" },
    Setting { key: "azdo.authority", env: "GIT_CREDENTIAL_AZDO_AUTHORITY", default: "https://login.microsoftonline.com", url_scoped: false,
        help: "the Microsoft Entra ID authority" },
    Setting { key: "azdo.mint", env: "GIT_CREDENTIAL_AZDO_MINT", default: "auto", url_scoped: true,
        help: "auto: mint a PAT through Entra sign-in when none is usable; never: only prompt" },
    Setting { key: "azdo.tokenSource", env: "GIT_CREDENTIAL_AZDO_TOKEN_SOURCE", default: "auto", url_scoped: true,
        help: "where Entra tokens come from: auto (stored refresh token, then the Azure CLI, then device code), device, azcli" },
    Setting { key: "azdo.clientId", env: "GIT_CREDENTIAL_AZDO_CLIENT_ID", default: "872cd9fa-d31f-45e0-9eab-6e460a02d1f1", url_scoped: false,
        help: "the Entra public client id used to sign in (Visual Studio's, as Git Credential Manager uses)" },
    Setting { key: "azdo.tenant", env: "GIT_CREDENTIAL_AZDO_TENANT", default: "(discovered per org)", url_scoped: true,
        help: "the Entra tenant to sign in to, instead of the one the organization names" },
    Setting { key: "azdo.scope", env: "GIT_CREDENTIAL_AZDO_SCOPE", default: "vso.code_write", url_scoped: true,
        help: "the scopes of minted PATs, separated by spaces" },
    Setting { key: "azdo.patLifetime", env: "GIT_CREDENTIAL_AZDO_PAT_LIFETIME", default: "30", url_scoped: true,
        help: "days a minted PAT is asked to live (the organization's policy may shorten it)" },
    Setting { key: "azdo.renewBefore", env: "GIT_CREDENTIAL_AZDO_RENEW_BEFORE", default: "7", url_scoped: true,
        help: "days before expiry a minted PAT is replaced, when a sign-in token is at hand without asking" },
    Setting { key: "azdo.credentialType", env: "GIT_CREDENTIAL_AZDO_CREDENTIAL_TYPE", default: "pat", url_scoped: true,
        help: "pat: hand git a PAT; oauth: hand git the Entra access token itself (never stored)" },
];

/// Also read: `AZURE_DEVOPS_EXT_PAT` (a PAT for every org), `GIT_CREDENTIAL_AZDO_TRACE` (see
/// `trace`), `GIT_ASKPASS`, `SSH_ASKPASS`, `GIT_TERMINAL_PROMPT`, `GIT_SSL_CAINFO`,
/// `GIT_SSL_NO_VERIFY`, `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY`; git config
/// `core.askPass`, `credential.interactive`, `http.proxy`, `http.sslCAInfo`, `http.sslVerify`.
pub const PAT_ENV: &str = "AZURE_DEVOPS_EXT_PAT";

pub struct Setting {
    pub key: &'static str,
    pub env: &'static str,
    pub default: &'static str,
    pub url_scoped: bool,
    pub help: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid value '{value}' for {key}: expected {expected}")]
    Invalid { key: &'static str, value: String, expected: &'static str },
    #[error("cannot find the user's data directory (is HOME set?)")]
    NoDataDir,
    #[error("invalid value '{value}' for {key}: {why}")]
    BadUrl { key: &'static str, value: String, why: String },
}

/// Where Entra access tokens may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// A stored refresh token, then the Azure CLI, then (when interactive) the device code flow.
    Auto,
    /// Stored refresh token, then the device code flow; never the Azure CLI.
    Device,
    /// Only the Azure CLI.
    AzureCli,
}

/// Where PATs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Keyring,
    File,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Keyring => "keyring",
            StoreKind::File => "file",
        }
    }
}

/// The settings of one invocation.
#[derive(Debug)]
pub struct Settings {
    pub store: StoreKind,
    pub store_file: PathBuf,
    /// This helper's directory under the user's data directory (the keyring store's metadata,
    /// the tenant cache, locks); a subdirectory of it for another `azdo.url` origin.
    pub data_dir: PathBuf,
    pub interactive: bool,
    /// `GIT_ASKPASS`, else `core.askPass`, else `SSH_ASKPASS`: git's own order.
    pub askpass: Option<PathBuf>,
    pub keyring_timeout: Duration,
    /// `AZURE_DEVOPS_EXT_PAT`, the Azure CLI's variable.
    pub env_pat: Option<Secret>,
    /// How long a check of a stored PAT holds (zero: check on every get; `None`: never check).
    pub validate_interval: Option<Duration>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub services: crate::org::ServiceUrl,
    pub servers: Vec<crate::org::Org>,
    pub vssps_url: String,
    pub authority: String,
    /// Whether PATs may be minted (`azdo.mint=auto`).
    pub mint: bool,
    pub token_source: TokenSource,
    pub client_id: String,
    pub tenant: Option<String>,
    pub scope: String,
    pub pat_lifetime_days: u32,
    pub renew_before_days: u32,
    /// Hand git the Entra access token instead of a PAT (`azdo.credentialType=oauth`).
    pub oauth: bool,
    /// The snapshot the settings came from (for `network`).
    config: GitConfig,
    ssl_cainfo_env: Option<PathBuf>,
    ssl_no_verify_env: bool,
}

impl Settings {
    /// Read settings for `url` (an org URL), or the unscoped ones when `url` is `None`.
    pub fn load(url: Option<&str>) -> Result<Settings, Error> {
        Settings::from_sources(GitConfig::load(), url, &|name| std::env::var_os(name))
    }

    /// The Services origin alone (`azdo.url`), before the organization is known.
    pub fn services_url(
        config: &GitConfig,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<crate::org::ServiceUrl, Error> {
        let value = env("GIT_CREDENTIAL_AZDO_URL")
            .map(|v| v.to_string_lossy().into_owned())
            .or_else(|| config.get("azdo.url").flatten().map(str::to_owned));
        match value {
            None => Ok(crate::org::ServiceUrl::default()),
            Some(v) => crate::org::ServiceUrl::parse(v.trim()).map_err(|why| Error::BadUrl {
                key: "azdo.url",
                value: printable(&v),
                why,
            }),
        }
    }

    /// The declared Azure DevOps Server collections (`azdo.server`, every value).
    pub fn servers(config: &GitConfig, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Vec<crate::org::Org>, Error> {
        let values: Vec<String> = match env("GIT_CREDENTIAL_AZDO_SERVER") {
            Some(v) => v.to_string_lossy().split_whitespace().map(str::to_owned).collect(),
            None => config.get_all("azdo.server").into_iter().map(str::to_owned).collect(),
        };
        values
            .iter()
            .map(|v| {
                crate::org::Org::server(v).map_err(|e| Error::BadUrl {
                    key: "azdo.server",
                    value: printable(v),
                    why: e.to_string(),
                })
            })
            .collect()
    }

    /// The URL API calls for `org` go to: the collection itself, or the org on the Services origin.
    pub fn api_url(&self, org: &crate::org::Org) -> String {
        if org.is_server() {
            org.url()
        } else {
            self.services.org_url(org)
        }
    }

    /// git's network settings for requests to `url`: `http.proxy`, `http.sslCAInfo`,
    /// `http.sslVerify` (URL-matched), `GIT_SSL_CAINFO`, `GIT_SSL_NO_VERIFY`. A cached snapshot
    /// lacks them, so this reads git config afresh then (a request is about to be made anyway).
    pub fn network(&self, url: &str) -> crate::azure::Network {
        let fresh;
        let config = if self.config.complete {
            &self.config
        } else {
            fresh = GitConfig::load_fresh();
            &fresh
        };
        // As git does: `http.<url>.*` entries match the URL actually requested.
        let raw = |key: &str| config.get_urlmatch(key, url).flatten().map(str::trim);
        let value = |key: &str| raw(key).filter(|v| !v.is_empty());
        // As for git, an empty `http.proxy` means no proxy at all, whatever the environment says.
        let proxy = raw("http.proxy").map(str::to_owned);
        let ca_file = self.ssl_cainfo_env.clone().or_else(|| value("http.sslcainfo").map(expand_home));
        let verify_tls = !self.ssl_no_verify_env && value("http.sslverify").and_then(bool_value).unwrap_or(true);
        crate::azure::Network {
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            proxy,
            ca_file,
            verify_tls,
        }
    }

    pub fn from_sources(
        config: GitConfig,
        url: Option<&str>,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<Settings, Error> {
        let get = |key: &'static str| -> Option<String> {
            let setting = SETTINGS.iter().find(|s| s.key == key);
            if let Some(value) = setting.and_then(|s| env(s.env)) {
                return Some(value.to_string_lossy().into_owned());
            }
            match (url, setting.is_some_and(|s| s.url_scoped)) {
                (Some(url), true) => config.get_urlmatch(key, url),
                _ => config.get(key),
            }
            .map(|v| v.unwrap_or("true").to_owned())
        };
        let store = match get("azdo.store").as_deref().map(str::trim) {
            None | Some("keyring") => StoreKind::Keyring,
            Some("file") => StoreKind::File,
            Some(other) => {
                return Err(Error::Invalid { key: "azdo.store", value: printable(other), expected: "keyring or file" })
            }
        };
        let services = Settings::services_url(&config, env)?;
        // Another Services origin (a test instance) keeps its PATs apart: org names alone would
        // mix them up with the real service's.
        let data_dir = match dirs::data_dir().ok_or(Error::NoDataDir)?.join("git-credential-azdo") {
            base if services == crate::org::ServiceUrl::default() => base,
            base => base.join("origins").join(
                services
                    .base()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' })
                    .collect::<String>(),
            ),
        };
        let store_file = match get("azdo.storeFile") {
            // Relative paths would land in whatever repository git runs in.
            Some(path) if !expand_home(&path).is_absolute() => {
                return Err(Error::Invalid {
                    key: "azdo.storeFile",
                    value: printable(&path),
                    expected: "an absolute path (or ~/...)",
                })
            }
            Some(path) => expand_home(&path),
            None => data_dir.join("credentials.json"),
        };
        let mut interactive = parse_bool("azdo.interactive", get("azdo.interactive").as_deref())?.unwrap_or(true);
        if let Some(v) = env("GIT_TERMINAL_PROMPT") {
            interactive &= bool_value(&v.to_string_lossy()).unwrap_or(true);
        }
        if let Some(v) = config.get_urlmatch("credential.interactive", url.unwrap_or("")).flatten() {
            interactive &= !matches!(v.to_ascii_lowercase().as_str(), "never") && bool_value(v).unwrap_or(true);
        }
        let askpass =
            [env("GIT_ASKPASS"), config.get("core.askpass").flatten().map(OsString::from), env("SSH_ASKPASS")]
                .into_iter()
                .flatten()
                .find(|v| !v.is_empty())
                .map(PathBuf::from);
        let seconds = |key: &'static str, default: f64, zero_ok: bool| -> Result<Duration, Error> {
            let Some(v) = get(key) else { return Ok(Duration::from_secs_f64(default)) };
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && (*s > 0.0 || (zero_ok && *s == 0.0)) && *s <= 31_536_000.0)
                .map(Duration::from_secs_f64)
                .ok_or(Error::Invalid { key, value: printable(&v), expected: "a number of seconds" })
        };
        let keyring_timeout = seconds("azdo.keyringTimeout", 10.0, false)?;
        let validate_interval = match get("azdo.validateInterval").as_deref().map(str::trim) {
            Some("never") | Some("off") => None,
            _ => Some(seconds("azdo.validateInterval", 3600.0, true)?),
        };
        let timeout = seconds("azdo.timeout", 5.0, false)?;
        let connect_timeout = seconds("azdo.connectTimeout", 2.0, false)?.min(timeout);
        let servers = Settings::servers(&config, env)?;
        let origin = |key: &'static str, default: &str| -> Result<String, Error> {
            let v = get(key).unwrap_or_else(|| default.to_owned());
            crate::org::ServiceUrl::parse(v.trim()).map(|u| u.base()).map_err(|why| Error::BadUrl {
                key,
                value: printable(&v),
                why,
            })
        };
        let vssps_url = origin("azdo.vsspsUrl", "https://vssps.dev.azure.com")?;
        let authority = origin("azdo.authority", "https://login.microsoftonline.com")?;
        let choice =
            |key: &'static str, default: &'static str, allowed: &'static [&'static str]| -> Result<String, Error> {
                let v = get(key).map(|v| v.trim().to_ascii_lowercase()).unwrap_or_else(|| default.to_owned());
                if allowed.contains(&v.as_str()) {
                    Ok(v)
                } else {
                    Err(Error::Invalid { key, value: printable(&v), expected: "one of the documented values" })
                }
            };
        let mint = choice("azdo.mint", "auto", &["auto", "never"])? == "auto";
        let token_source = match choice("azdo.tokenSource", "auto", &["auto", "device", "azcli"])?.as_str() {
            "device" => TokenSource::Device,
            "azcli" => TokenSource::AzureCli,
            _ => TokenSource::Auto,
        };
        let oauth = choice("azdo.credentialType", "pat", &["pat", "oauth"])? == "oauth";
        let client_id =
            get("azdo.clientId").map(|v| v.trim().to_owned()).unwrap_or_else(|| crate::entra::DEFAULT_CLIENT_ID.into());
        if !crate::entra::is_tenant(&client_id) {
            return Err(Error::Invalid {
                key: "azdo.clientId",
                value: printable(&client_id),
                expected: "a client id (GUID)",
            });
        }
        let tenant = match get("azdo.tenant").map(|v| v.trim().to_owned()) {
            Some(t) if crate::entra::is_tenant(&t) => Some(t),
            Some(t) => {
                return Err(Error::Invalid {
                    key: "azdo.tenant",
                    value: printable(&t),
                    expected: "a tenant id or domain",
                })
            }
            None => None,
        };
        let scope = get("azdo.scope")
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| "vso.code_write".into());
        if scope.is_empty() || !scope.chars().all(|c| c.is_ascii_alphanumeric() || "._ ".contains(c)) {
            return Err(Error::Invalid {
                key: "azdo.scope",
                value: printable(&scope),
                expected: "scopes like vso.code_write, separated by spaces",
            });
        }
        let days = |key: &'static str, default: u32| -> Result<u32, Error> {
            match get(key) {
                None => Ok(default),
                Some(v) => v.trim().parse::<u32>().ok().filter(|d| *d <= 3650).ok_or(Error::Invalid {
                    key,
                    value: printable(&v),
                    expected: "a number of days",
                }),
            }
        };
        let pat_lifetime_days = days("azdo.patLifetime", 30)?.max(1);
        let renew_before_days = days("azdo.renewBefore", 7)?;
        let ssl_cainfo_env = env("GIT_SSL_CAINFO").filter(|v| !v.is_empty()).map(PathBuf::from);
        let ssl_no_verify_env =
            env("GIT_SSL_NO_VERIFY").is_some_and(|v| !v.is_empty() && bool_value(&v.to_string_lossy()) != Some(false));
        let env_pat =
            env(PAT_ENV).map(|v| v.to_string_lossy().trim().to_owned()).filter(|v| !v.is_empty()).map(Secret::from);
        Ok(Settings {
            store,
            store_file,
            data_dir,
            interactive,
            askpass,
            keyring_timeout,
            env_pat,
            validate_interval,
            connect_timeout,
            timeout,
            services,
            servers,
            vssps_url,
            authority,
            mint,
            token_source,
            client_id,
            tenant,
            scope,
            pat_lifetime_days,
            renew_before_days,
            oauth,
            config,
            ssl_cainfo_env,
            ssl_no_verify_env,
        })
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// git's boolean spellings.
pub fn bool_value(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" | "" => Some(false),
        _ => None,
    }
}

fn parse_bool(key: &'static str, v: Option<&str>) -> Result<Option<bool>, Error> {
    v.map(|v| bool_value(v).ok_or(Error::Invalid { key, value: printable(v), expected: "true or false" })).transpose()
}

/// All of git's `credential.*` configuration, unfiltered and uncached (for `doctor`).
pub fn credential_config() -> GitConfig {
    let output =
        Command::new("git").args(["config", "-z", "--list"]).stdin(Stdio::null()).stderr(Stdio::null()).output();
    let mut config = match output {
        Ok(out) if out.status.success() => GitConfig::parse_z(&out.stdout),
        _ => GitConfig::default(),
    };
    config.entries.retain(|(k, _)| k.to_ascii_lowercase().starts_with("credential."));
    config
}

/// The helper list git builds for `url` from `credential[.<url>].helper` entries: every matching
/// entry in config order, an empty value resetting the list.
pub fn helpers_for(config: &GitConfig, url: &str) -> Vec<String> {
    let mut helpers = Vec::new();
    for (key, value) in &config.entries {
        let one = GitConfig { entries: vec![(key.clone(), value.clone())], complete: true };
        let Some(Some(value)) = one.get_urlmatch("credential.helper", url) else { continue };
        if value.is_empty() {
            helpers.clear();
        } else {
            helpers.push(value.to_owned());
        }
    }
    helpers
}

/// A snapshot of git's configuration (all scopes, includes resolved by git), in git's order.
#[derive(Default, Clone)]
pub struct GitConfig {
    /// (key with section and name lower-cased, value; `None` for a bare boolean key).
    entries: Vec<(String, Option<String>)>,
    /// Whether the network keys are in it (not when it came from the cache).
    complete: bool,
}

/// A pending write of the config cache (see [`GitConfig::load_readonly_with_save`]).
pub struct CacheSave(Option<(String, i64, Vec<PathBuf>)>);

impl CacheSave {
    /// Cache the relevant entries of `config`, if it came from git.
    pub fn remember(self, config: &GitConfig) {
        if let Some((key, now, files)) = self.0 {
            let cacheable = GitConfig {
                entries: config.entries.iter().filter(|(k, _)| is_relevant(k)).cloned().collect(),
                complete: false,
            };
            cache::save(key, now, &cacheable, &files);
        }
    }
}

/// Keys only: values (a proxy URL, say) may hold a password.
impl std::fmt::Debug for GitConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitConfig")
            .field("keys", &self.entries.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())
            .field("complete", &self.complete)
            .finish()
    }
}

impl GitConfig {
    /// The configuration for this directory: from the cache when nothing changed (no process at
    /// all), else from one `git config --list --show-origin`. A missing git or a broken config
    /// yields an empty snapshot (git itself reports broken config to the user).
    pub fn load() -> GitConfig {
        let (config, save) = GitConfig::load_readonly_with_save();
        save.remember(&config);
        config
    }

    /// Like [`GitConfig::load`], but writes no cache yet: the returned [`CacheSave`] does, once
    /// the request turned out to be ours (nothing is written for other hosts).
    pub fn load_readonly_with_save() -> (GitConfig, CacheSave) {
        let key = cache::current_key();
        let now = crate::text::now();
        if let Some(hit) = key.as_deref().and_then(|k| cache::lookup(k, now)) {
            tracing::debug!("git config from the cache");
            return (hit, CacheSave(None));
        }
        let (config, files) = GitConfig::read_from_git();
        // Only file-based config can be checked for changes later.
        let save = match (key, files) {
            (Some(key), Some(files)) => CacheSave(Some((key, now, files))),
            _ => CacheSave(None),
        };
        (config, save)
    }

    /// The configuration straight from git, never from the cache.
    pub fn load_fresh() -> GitConfig {
        GitConfig::read_from_git().0
    }

    /// One `git config --list --show-origin`, reduced to what this helper reads; with the files
    /// the entries came from (`None` if any came from elsewhere, like `git -c`).
    fn read_from_git() -> (GitConfig, Option<Vec<PathBuf>>) {
        let output = Command::new("git")
            .args(["config", "-z", "--list", "--show-origin"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        let out = match output {
            Ok(out) if out.status.success() => out.stdout,
            Ok(_) | Err(_) => {
                tracing::debug!("git config --list gave nothing; using defaults");
                return (GitConfig { entries: Vec::new(), complete: true }, None);
            }
        };
        let (config, origins) = GitConfig::parse_z_with_origins(&out);
        let entries = config.entries.into_iter().filter(|(k, _)| is_relevant(k) || is_network(k)).collect();
        let files = origins.iter().map(|o| o.strip_prefix("file:").map(PathBuf::from)).collect();
        (GitConfig { entries, complete: true }, files)
    }

    /// Parse `git config -z --list --show-origin`: `origin\0key\nvalue\0` (or `origin\0key\0`).
    pub fn parse_z_with_origins(bytes: &[u8]) -> (GitConfig, Vec<String>) {
        let mut fields = bytes.split(|b| *b == 0);
        let mut lines = Vec::new();
        let mut origins = Vec::new();
        while let (Some(origin), Some(entry)) = (fields.next(), fields.next()) {
            let origin = String::from_utf8_lossy(origin).into_owned();
            if !origins.contains(&origin) {
                origins.push(origin);
            }
            lines.extend_from_slice(entry);
            lines.push(0);
        }
        (GitConfig::parse_z(&lines), origins)
    }

    /// Parse `git config -z --list` output: `key\nvalue\0`, or `key\0` for a bare key.
    pub fn parse_z(bytes: &[u8]) -> GitConfig {
        let entries = bytes
            .split(|b| *b == 0)
            .filter(|e| !e.is_empty())
            .map(|entry| {
                let entry = String::from_utf8_lossy(entry);
                match entry.split_once('\n') {
                    Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
                    None => (entry.into_owned(), None),
                }
            })
            .collect();
        GitConfig { entries, complete: true }
    }

    /// Every value of a plain `section.name` key, in order (bare keys are skipped).
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.entries.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key)).filter_map(|(_, v)| v.as_deref()).collect()
    }

    /// The last value of a plain `section.name` key (`Some(None)` for a bare boolean key).
    pub fn get(&self, key: &str) -> Option<Option<&str>> {
        self.entries.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_deref())
    }

    /// The value of `section.name` for `url` under git's urlmatch rules: `section.<url>.name`
    /// entries that match `url` beat the plain key; a longer host or path match wins, then a
    /// matching user, then the later entry.
    pub fn get_urlmatch(&self, key: &str, url: &str) -> Option<Option<&str>> {
        let (section, name) = key.split_once('.')?;
        let target = UrlParts::parse(url);
        let mut best: Option<(MatchScore, Option<&str>)> = None;
        for (k, v) in &self.entries {
            let Some((k_section, rest)) = k.split_once('.') else {
                continue;
            };
            let Some((subsection, k_name)) = rest.rsplit_once('.').map_or(Some(("", rest)), Some) else {
                continue;
            };
            if !k_section.eq_ignore_ascii_case(section) || !k_name.eq_ignore_ascii_case(name) {
                continue;
            }
            let score = if subsection.is_empty() {
                Some(MatchScore::default())
            } else {
                target.as_ref().and_then(|t| UrlParts::parse(subsection).and_then(|pattern| pattern.matches(t)))
            };
            if let Some(score) = score {
                if best.as_ref().is_none_or(|(b, _)| score >= *b) {
                    best = Some((score, v.as_deref()));
                }
            }
        }
        best.map(|(_, v)| v)
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct MatchScore {
    url: bool,
    host_len: usize,
    path_len: usize,
    user: bool,
}

#[derive(Debug)]
struct UrlParts {
    scheme: String,
    user: Option<String>,
    host: String,
    port: Option<String>,
    path: String,
}

impl UrlParts {
    fn parse(url: &str) -> Option<UrlParts> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.split(':').next().unwrap_or(u).to_owned()), h),
            None => (None, authority),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (h, Some(p)),
            _ => (hostport, None),
        };
        let default_port = match scheme.as_str() {
            "https" => Some("443"),
            "http" => Some("80"),
            _ => None,
        };
        let port = port.filter(|p| Some(*p) != default_port && !p.is_empty()).map(str::to_owned);
        let path = path.trim_end_matches('/').to_owned();
        Some(UrlParts { scheme, user, host: host.to_ascii_lowercase(), port, path })
    }

    /// How well this config pattern matches `url`, or `None` if it does not.
    fn matches(&self, url: &UrlParts) -> Option<MatchScore> {
        if self.scheme != url.scheme || self.port != url.port {
            return None;
        }
        let user = match &self.user {
            Some(u) if Some(u) != url.user.as_ref() => return None,
            Some(_) => true,
            None => false,
        };
        let (pattern_labels, host_labels): (Vec<_>, Vec<_>) =
            (self.host.split('.').collect(), url.host.split('.').collect());
        if pattern_labels.len() != host_labels.len()
            || !pattern_labels.iter().zip(&host_labels).all(|(p, h)| *p == "*" || p == h)
        {
            return None;
        }
        let host_len = self.host.len() - self.host.matches('*').count();
        let path_ok = self.path.is_empty()
            || url.path == self.path
            || (url.path.starts_with(&self.path) && url.path[self.path.len()..].starts_with('/'));
        path_ok.then_some(MatchScore { url: true, host_len, path_len: self.path.len(), user })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> GitConfig {
        GitConfig { complete: true, entries: pairs.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect() }
    }

    #[test]
    fn parses_show_origin_output_and_keeps_order() {
        let raw = b"file:/etc/gitconfig\0azdo.store\nfile\0command line:\0azdo.interactive\0file:/h/.gitconfig\0core.askpass\n/a\0";
        let (c, origins) = GitConfig::parse_z_with_origins(raw);
        assert_eq!(origins, ["file:/etc/gitconfig", "command line:", "file:/h/.gitconfig"]);
        assert_eq!(c.get("azdo.store"), Some(Some("file")));
        assert_eq!(c.get("azdo.interactive"), Some(None));
        assert_eq!(c.get("core.askPass"), Some(Some("/a")));
    }

    #[test]
    fn only_settings_of_this_helper_are_relevant() {
        for key in [
            "azdo.store",
            "azdo.https://dev.azure.com/x.interactive",
            "core.askpass",
            "credential.interactive",
            "credential.https://x.interactive",
        ] {
            assert!(is_relevant(key), "{key}");
        }
        for key in ["http.extraheader", "user.name", "credential.helper", "remote.origin.url", "core.editor"] {
            assert!(!is_relevant(key), "{key}");
        }
    }

    #[test]
    fn parses_list_z_output() {
        let c = GitConfig::parse_z(b"core.askpass\n/bin/ask\0azdo.interactive\0user.name\nA\nB\0");
        assert_eq!(c.get("core.askPass"), Some(Some("/bin/ask")));
        assert_eq!(c.get("azdo.interactive"), Some(None));
        assert_eq!(c.get("user.name"), Some(Some("A\nB")));
        assert_eq!(c.get("missing.key"), None);
    }

    #[test]
    fn urlmatch_prefers_the_most_specific_entry() {
        let c = config(&[
            ("azdo.https://dev.azure.com/contoso.interactive", "false"),
            ("azdo.interactive", "true"),
            ("azdo.https://dev.azure.com.interactive", "yes"),
            ("azdo.https://*.visualstudio.com.interactive", "wild"),
            ("azdo.https://fabrikam.visualstudio.com.interactive", "exact"),
            ("azdo.https://fabrikam.visualstudio.com.interactive", "exact-later"),
        ]);
        let get = |url| c.get_urlmatch("azdo.interactive", url).flatten();
        assert_eq!(get("https://dev.azure.com/contoso"), Some("false"));
        assert_eq!(get("https://dev.azure.com/contoso/proj/_git/r"), Some("false"));
        assert_eq!(get("https://dev.azure.com/contosox"), Some("yes"));
        assert_eq!(get("https://dev.azure.com:443/other"), Some("yes"));
        assert_eq!(get("https://other.visualstudio.com"), Some("wild"));
        assert_eq!(get("https://fabrikam.visualstudio.com"), Some("exact-later"));
        assert_eq!(get("https://example.com"), Some("true"));
        assert_eq!(get("http://dev.azure.com/contoso"), Some("true"));
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn environment_overrides_git_config() {
        let c = config(&[("azdo.store", "keyring"), ("azdo.storefile", "/tmp/a.json")]);
        let s =
            Settings::from_sources(c.clone(), None, &env_of(&[("GIT_CREDENTIAL_AZDO_STORE", "file")])).expect("valid");
        assert_eq!(s.store, StoreKind::File);
        assert_eq!(s.store_file, PathBuf::from("/tmp/a.json"));
        assert!(s.interactive);
    }

    #[test]
    fn prompts_are_off_when_any_switch_says_so() {
        fn interactive(c: &GitConfig, env: &'static [(&'static str, &'static str)]) -> bool {
            Settings::from_sources(c.clone(), Some("https://dev.azure.com/x"), &env_of(env)).expect("valid").interactive
        }
        let none = config(&[]);
        assert!(!interactive(&none, &[("GIT_TERMINAL_PROMPT", "0")]));
        assert!(!interactive(&none, &[("GIT_CREDENTIAL_AZDO_INTERACTIVE", "false")]));
        assert!(!interactive(&config(&[("azdo.interactive", "no")]), &[]));
        assert!(!interactive(&config(&[("credential.interactive", "never")]), &[]));
        assert!(interactive(&none, &[]));
    }

    #[test]
    fn askpass_follows_gits_order() {
        let c = config(&[("core.askpass", "/cfg/askpass")]);
        let s = Settings::from_sources(c.clone(), None, &env_of(&[("SSH_ASKPASS", "/ssh")])).expect("ok");
        assert_eq!(s.askpass, Some(PathBuf::from("/cfg/askpass")));
        let s = Settings::from_sources(c.clone(), None, &env_of(&[("GIT_ASKPASS", "/git")])).expect("ok");
        assert_eq!(s.askpass, Some(PathBuf::from("/git")));
        let s = Settings::from_sources(config(&[]), None, &env_of(&[("SSH_ASKPASS", "/ssh")])).expect("ok");
        assert_eq!(s.askpass, Some(PathBuf::from("/ssh")));
    }

    #[test]
    fn bad_values_are_named_and_sanitised() {
        let err = Settings::from_sources(config(&[("azdo.store", "vault\u{1b}[2J")]), None, &env_of(&[]))
            .expect_err("invalid");
        let msg = err.to_string();
        assert!(msg.contains("azdo.store") && !msg.contains('\u{1b}'), "{msg}");
        assert!(Settings::from_sources(config(&[("azdo.keyringtimeout", "soon")]), None, &env_of(&[])).is_err());
    }

    #[test]
    fn debug_output_shows_no_config_values() {
        let c = config(&[("http.proxy", "http://user:hunter2@proxy:3128")]);
        let shown = format!("{c:?}");
        assert!(shown.contains("http.proxy") && !shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn env_pat_is_trimmed_and_kept_secret() {
        let s = Settings::from_sources(config(&[]), None, &env_of(&[("AZURE_DEVOPS_EXT_PAT", " abc \n")])).expect("ok");
        assert_eq!(s.env_pat, Some(Secret::new("abc")));
        assert!(!format!("{s:?}").contains("abc"));
    }
}
