//! Settings: git config keys under `azdo.` (URL-scoped with git's urlmatch rules where it makes
//! sense), each overridable by its `GIT_CREDENTIAL_AZDO_*` variable, read once per run into a
//! typed [`Settings`] from the one key table in [`keys`]. All of git's configuration comes from a
//! single snapshot ([`git::GitConfig`]): the cache, or one `git config --list` process.

use std::cell::OnceCell;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::org::{Origins, ServiceUrl, Target};
use crate::secret::Secret;
use crate::text::printable;

mod cache;
pub mod git;
pub mod keys;
mod load;
mod source;
pub(crate) mod urlmatch;

pub use self::git::GitConfig;
pub use self::keys::{bool_value, CredentialType, Mint, Setting, StoreKind, TokenSource, PAT_ENV, SETTINGS};
pub use self::load::CacheSave;
use self::source::Source;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid value '{value}' for {key}: {why}")]
    Invalid { key: &'static str, value: String, why: String },
    #[error("cannot find the user's data directory (is HOME set?)")]
    NoDataDir,
    #[error("the user's data directory '{0}' is a relative path (is HOME relative?); refusing to keep PATs under the current directory")]
    RelativeDataDir(String),
}

/// Environment variables, as a function so tests can pass their own.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// The process environment, read once: the variables settings are looked up under (this
/// helper's own and Git Credential Manager's, dozens per run) come from one pass over it;
/// any other name is asked of the environment itself.
pub struct EnvSnapshot(Vec<(OsString, OsString)>);

/// The prefixes of the names [`EnvSnapshot`] keeps.
const SNAPSHOT_PREFIXES: [&str; 2] = ["GIT_CREDENTIAL_AZDO_", "GCM_"];

impl EnvSnapshot {
    pub fn take() -> EnvSnapshot {
        let wanted =
            |name: &OsString| SNAPSHOT_PREFIXES.iter().any(|p| name.as_encoded_bytes().starts_with(p.as_bytes()));
        EnvSnapshot(std::env::vars_os().filter(|(name, _)| wanted(name)).collect())
    }

    pub fn var(&self, name: &str) -> Option<OsString> {
        if SNAPSHOT_PREFIXES.iter().any(|p| name.starts_with(p)) {
            self.0.iter().find(|(n, _)| n.as_encoded_bytes() == name.as_bytes()).map(|(_, v)| v.clone())
        } else {
            std::env::var_os(name)
        }
    }
}

/// The configured origins (`azdo.url`, `azdo.server`): read before the target is known.
pub fn origins(config: &GitConfig, env: Env) -> Result<Origins, Error> {
    let source = Source { config, env, url: None };
    // A bare `azdo.url` names no origin: the default one.
    let bare_url = env(keys::URL.setting.env).is_none() && config.get(keys::URL.setting.key) == Some(None);
    let services = if bare_url { ServiceUrl::default() } else { source.get(&keys::URL)? };
    Ok(Origins { services, servers: source.get_all(&keys::SERVER)? })
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
    pub origins: Origins,
    pub vssps_url: String,
    pub authority: String,
    pub mint: Mint,
    pub token_source: TokenSource,
    pub browser_timeout: Duration,
    /// `azdo.account`, else Git Credential Manager's `credential.azrepos:org/ORG.username`.
    pub account: Option<String>,
    pub client_id: String,
    pub tenant: Option<String>,
    pub scope: String,
    pub pat_lifetime_days: u32,
    pub renew_before_days: u32,
    pub credential_type: CredentialType,
    /// The build identities' settings (pipeline job, managed identity, service principal).
    pub(crate) identities: crate::identity::IdentitySettings,
    /// The snapshot the settings came from (for `network`).
    config: GitConfig,
    /// git's configuration read afresh, once, when the snapshot came from the cache (which holds
    /// no network settings).
    fresh: OnceCell<GitConfig>,
    ssl_cainfo_env: Option<PathBuf>,
    ssl_no_verify_env: bool,
}

impl Settings {
    /// Whether the identity service and the authority are the real service's.
    pub fn real_endpoints(&self) -> bool {
        self.vssps_url == keys::VSSPS_URL.setting.default && self.authority == keys::AUTHORITY.setting.default
    }

    /// Whether an Entra sign-in may serve `target`: no Server collection, and either every
    /// endpoint is the real service's (the organization, the identity service, the authority), or
    /// the identity service and the authority are both test ones set explicitly. Tokens of the
    /// real authority never go to another identity service, nor its PATs to another origin.
    pub fn may_sign_in(&self, target: &Target) -> bool {
        let custom_endpoints =
            self.vssps_url != keys::VSSPS_URL.setting.default && self.authority != keys::AUTHORITY.setting.default;
        !target.is_server() && ((target.is_real_service() && self.real_endpoints()) || custom_endpoints)
    }

    /// Whether a PAT may be minted for `target`: minting is on and a sign-in may serve it.
    pub fn may_mint(&self, target: &Target) -> bool {
        self.mint == Mint::Auto && self.may_sign_in(target)
    }

    /// git's network settings for requests to `url`: `http.proxy`, `http.sslCAInfo`,
    /// `http.sslVerify` (URL-matched), `GIT_SSL_CAINFO`, `GIT_SSL_NO_VERIFY`. A cached snapshot
    /// lacks them, so git config is read afresh then, once (a request is about to be made anyway).
    pub fn network(&self, url: &str) -> crate::net::Network {
        let config = if self.config.complete { &self.config } else { self.fresh.get_or_init(GitConfig::load_fresh) };
        // As git does: `http.<url>.*` entries match the URL actually requested.
        let raw = |key: &str| config.get_urlmatch(key, url).flatten().map(str::trim);
        let value = |key: &str| raw(key).filter(|v| !v.is_empty());
        // As for git, an empty `http.proxy` means no proxy at all, whatever the environment says.
        let proxy = raw("http.proxy").map(str::to_owned);
        let ca_file = self.ssl_cainfo_env.clone().or_else(|| value("http.sslcainfo").map(keys::expand_home));
        let verify_tls = !self.ssl_no_verify_env && value("http.sslverify").and_then(bool_value).unwrap_or(true);
        crate::net::Network { connect_timeout: self.connect_timeout, timeout: self.timeout, proxy, ca_file, verify_tls }
    }

    /// The settings for `target` (URL-scoped keys matched against its URL), or the unscoped ones.
    pub fn from_sources(
        config: GitConfig,
        origins: Origins,
        target: Option<&Target>,
        env: Env,
    ) -> Result<Settings, Error> {
        tracing::debug!("reading settings");
        let url = target.map(Target::url);
        let source = Source { config: &config, env, url: url.as_deref() };
        // Another Services origin (a test instance) keeps its PATs apart: org names alone would
        // mix them up with the real service's.
        // The local (not roaming) data directory: on Windows a PAT file must not roam.
        let local = dirs::data_local_dir().ok_or(Error::NoDataDir)?;
        // A relative HOME would put the store inside whatever repository git runs in.
        if !local.is_absolute() {
            return Err(Error::RelativeDataDir(printable(&local.to_string_lossy())));
        }
        let data_dir = match local.join("git-credential-azdo") {
            base if origins.services == ServiceUrl::default() => base,
            base => base.join("origins").join(
                origins
                    .services
                    .base()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' })
                    .collect::<String>(),
            ),
        };
        let mut interactive = source.get(&keys::INTERACTIVE)?;
        if let Some(v) = env("GIT_TERMINAL_PROMPT") {
            interactive &= bool_value(&v.to_string_lossy()).unwrap_or(true);
        }
        if let Some(v) = config.get_urlmatch("credential.interactive", url.as_deref().unwrap_or("")).flatten() {
            interactive &= !matches!(v.to_ascii_lowercase().as_str(), "never") && bool_value(v).unwrap_or(true);
        }
        let askpass =
            [env("GIT_ASKPASS"), config.get("core.askpass").flatten().map(OsString::from), env("SSH_ASKPASS")]
                .into_iter()
                .flatten()
                .find(|v| !v.is_empty())
                .map(PathBuf::from);
        let timeout = source.get(&keys::TIMEOUT)?;
        let ssl_no_verify_env =
            env("GIT_SSL_NO_VERIFY").is_some_and(|v| !v.is_empty() && bool_value(&v.to_string_lossy()) != Some(false));
        Ok(Settings {
            store: source.get(&keys::STORE)?,
            store_file: source.get_opt(&keys::STORE_FILE)?.unwrap_or_else(|| data_dir.join("credentials.json")),
            interactive,
            askpass,
            keyring_timeout: source
                .get_opt(&keys::KEYRING_TIMEOUT)?
                .unwrap_or(crate::store::Os::CURRENT.keyring_timeout()),
            env_pat: env(PAT_ENV)
                .map(|v| v.to_string_lossy().trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(Secret::from),
            validate_interval: source.get(&keys::VALIDATE_INTERVAL)?,
            connect_timeout: source.get(&keys::CONNECT_TIMEOUT)?.min(timeout),
            timeout,
            vssps_url: source.get(&keys::VSSPS_URL)?,
            authority: source.get(&keys::AUTHORITY)?,
            mint: source.get(&keys::MINT)?,
            token_source: source.get(&keys::TOKEN_SOURCE)?,
            browser_timeout: source.get(&keys::BROWSER_TIMEOUT)?,
            account: match source.get_opt(&keys::ACCOUNT)? {
                Some(account) => Some(account),
                // Git Credential Manager's binding of a user to an org (global or local).
                None => target
                    .filter(|t| !t.is_server())
                    .and_then(|t| config.get(&format!("credential.azrepos:org/{}.username", t.name())).flatten())
                    .and_then(|v| crate::org::account_name(v).ok()),
            },
            client_id: source.get(&keys::CLIENT_ID)?,
            tenant: source.get_opt(&keys::TENANT)?,
            scope: source.get(&keys::SCOPE)?,
            pat_lifetime_days: source.get(&keys::PAT_LIFETIME)?.max(1),
            renew_before_days: source.get(&keys::RENEW_BEFORE)?,
            credential_type: source.get(&keys::CREDENTIAL_TYPE)?,
            identities: identities(&source, env, &local.join("git-credential-azdo"))?,
            ssl_cainfo_env: env("GIT_SSL_CAINFO").filter(|v| !v.is_empty()).map(PathBuf::from),
            ssl_no_verify_env,
            data_dir,
            origins,
            config,
            fresh: OnceCell::new(),
        })
    }
}

/// The build identities' settings. The job's variables and `IDENTITY_*` are the platform's,
/// read as they are.
fn identities(
    source: &Source,
    env: Env,
    data_dir: &std::path::Path,
) -> Result<crate::identity::IdentitySettings, Error> {
    let text = |name: &str| env(name).map(|v| v.to_string_lossy().trim().to_owned()).filter(|v| !v.is_empty());
    let app_service = match (text("IDENTITY_ENDPOINT"), text("IDENTITY_HEADER")) {
        (Some(endpoint), Some(header)) => Some((endpoint, Secret::from(header))),
        _ => None,
    };
    let mut aliases = Vec::new();
    let certificate = source.get_opt(&keys::SERVICE_PRINCIPAL_CERTIFICATE)?;
    // GCM names a certificate in its store by thumbprint; here it is a PEM file named after it.
    let thumbprint = match (&certificate, source.alias_text(&keys::GCM_THUMBPRINT)) {
        (None, Some(t)) => {
            let t = t.trim().to_ascii_uppercase();
            if t.len() != 40 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::Invalid {
                    key: keys::GCM_THUMBPRINT.key,
                    value: printable(&t),
                    why: "expected a SHA-1 thumbprint (40 hexadecimal digits)".into(),
                });
            }
            aliases.push(format!("{} for azdo.servicePrincipalCertificate", keys::GCM_THUMBPRINT.key));
            Some((t.clone(), data_dir.join("certificates").join(format!("{t}.pem"))))
        }
        _ => None,
    };
    let mut ids = crate::identity::IdentitySettings {
        pipeline_token: source.get(&keys::PIPELINE_TOKEN)?,
        pipeline: crate::identity::pipeline::job(env),
        managed_identity: source.get_opt_or_alias(&keys::MANAGED_IDENTITY, &mut aliases)?,
        imds_url: source.get(&keys::IMDS_URL)?,
        app_service,
        service_principal: source.get_opt_or_alias(&keys::SERVICE_PRINCIPAL, &mut aliases)?,
        sp_credentials: crate::identity::principal::Credentials {
            secret: source.get_opt_or_alias(&keys::SERVICE_PRINCIPAL_SECRET, &mut aliases)?,
            certificate,
            thumbprint,
            send_x5c: source.get_or_alias(&keys::SERVICE_PRINCIPAL_SEND_X5C, &mut aliases)?,
        },
        federation: crate::identity::federation::Federation {
            scenario: source.get_opt_or_alias(&keys::WORKLOAD_FEDERATION, &mut aliases)?,
            client_id: source.get_opt_or_alias(&keys::WORKLOAD_FEDERATION_CLIENT_ID, &mut aliases)?,
            tenant_id: source.get_opt_or_alias(&keys::WORKLOAD_FEDERATION_TENANT_ID, &mut aliases)?,
            audience: source.get_or_alias(&keys::WORKLOAD_FEDERATION_AUDIENCE, &mut aliases)?,
            assertion: source.get_opt_or_alias(&keys::WORKLOAD_FEDERATION_ASSERTION, &mut aliases)?,
            service_connection: source.get_opt(&keys::WORKLOAD_FEDERATION_SERVICE_CONNECTION)?,
            managed_identity: source.get_opt_or_alias(&keys::WORKLOAD_FEDERATION_MANAGED_IDENTITY, &mut aliases)?,
            azure_env: (
                text("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from).filter(|p| p.is_absolute()),
                text("AZURE_CLIENT_ID"),
                text("AZURE_TENANT_ID"),
            ),
            github: text("ACTIONS_ID_TOKEN_REQUEST_URL").zip(text("ACTIONS_ID_TOKEN_REQUEST_TOKEN").map(Secret::from)),
            oidc_request_uri: text("SYSTEM_OIDCREQUESTURI"),
        },
        aliases: Vec::new(),
    };
    ids.aliases = aliases;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_answers_as_the_environment_does() {
        let snapshot = EnvSnapshot::take();
        assert_eq!(snapshot.var("PATH"), std::env::var_os("PATH"), "other names are asked of the environment");
        assert_eq!(snapshot.var("HOME"), std::env::var_os("HOME"));
        for (name, value) in std::env::vars_os() {
            if let Some(name) = name.to_str().filter(|n| n.starts_with("GIT_CREDENTIAL_AZDO_") || n.starts_with("GCM_"))
            {
                assert_eq!(snapshot.var(name), Some(value), "{name}");
            }
        }
        assert_eq!(snapshot.var("GIT_CREDENTIAL_AZDO_NO_SUCH_SETTING_X"), None);
    }

    fn config(pairs: &[(&str, &str)]) -> GitConfig {
        GitConfig::parse_z(pairs.iter().map(|(k, v)| format!("{k}\n{v}\0")).collect::<String>().as_bytes())
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    fn settings(
        c: GitConfig,
        target: Option<&Target>,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<Settings, Error> {
        let origins = origins(&c, env)?;
        Settings::from_sources(c, origins, target, env)
    }

    #[test]
    fn environment_overrides_git_config() {
        let c = config(&[("azdo.store", "keyring"), ("azdo.storefile", "/tmp/a.json")]);
        let s = settings(c, None, &env_of(&[("GIT_CREDENTIAL_AZDO_STORE", "file")])).expect("valid");
        assert_eq!(s.store, StoreKind::File);
        assert_eq!(s.store_file, PathBuf::from("/tmp/a.json"));
        assert!(s.interactive);
    }

    #[test]
    fn prompts_are_off_when_any_switch_says_so() {
        fn interactive(c: &GitConfig, env: &'static [(&'static str, &'static str)]) -> bool {
            let x = Target::org("x").expect("org");
            settings(c.clone(), Some(&x), &env_of(env)).expect("valid").interactive
        }
        let none = config(&[]);
        assert!(!interactive(&none, &[("GIT_TERMINAL_PROMPT", "0")]));
        assert!(!interactive(&none, &[("GIT_CREDENTIAL_AZDO_INTERACTIVE", "false")]));
        assert!(!interactive(&config(&[("azdo.interactive", "no")]), &[]));
        assert!(!interactive(&config(&[("credential.interactive", "never")]), &[]));
        assert!(interactive(&none, &[]));
    }

    #[test]
    fn url_scoped_settings_follow_the_targets_origin() {
        let c = config(&[
            ("azdo.http://127.0.0.1:8123/contoso.interactive", "false"),
            ("azdo.https://dev.azure.com/contoso.validateinterval", "never"),
        ]);
        let env = env_of(&[("GIT_CREDENTIAL_AZDO_URL", "http://127.0.0.1:8123")]);
        let origins = origins(&c, &env).expect("origins");
        let contoso = Target::org_in(&origins.services, "contoso").expect("org");
        let s = Settings::from_sources(c.clone(), origins, Some(&contoso), &env).expect("valid");
        assert!(!s.interactive, "the entry for the custom origin's URL applies");
        assert!(s.validate_interval.is_some(), "an entry for dev.azure.com does not apply to another origin");
    }

    #[test]
    fn a_bare_azdo_url_means_the_default_origin() {
        let c = GitConfig::parse_z(b"azdo.url\0");
        assert_eq!(origins(&c, &env_of(&[])).expect("default"), Origins::default());
        assert!(origins(&config(&[("azdo.url", "ftp://x")]), &env_of(&[])).is_err());
    }

    #[test]
    fn real_service_sign_ins_never_mix_with_other_endpoints() {
        let real = Target::org("contoso").expect("org");
        let fake =
            Target::org_in(&ServiceUrl::parse("http://127.0.0.1:8123").expect("origin"), "contoso").expect("org");
        let with =
            |env: &'static [(&'static str, &'static str)]| settings(config(&[]), None, &env_of(env)).expect("valid");
        const VSSPS: (&str, &str) = ("GIT_CREDENTIAL_AZDO_VSSPS_URL", "http://127.0.0.1:8123");
        const AUTHORITY: (&str, &str) = ("GIT_CREDENTIAL_AZDO_AUTHORITY", "http://127.0.0.1:8123");
        let defaults = with(&[]);
        assert!(defaults.may_sign_in(&real) && !defaults.may_sign_in(&fake), "real tokens stay with the real org");
        let test = with(&[VSSPS, AUTHORITY]);
        assert!(test.may_sign_in(&fake) && test.may_sign_in(&real));
        for mixed in [with(&[VSSPS]), with(&[AUTHORITY])] {
            assert!(!mixed.may_sign_in(&real) && !mixed.may_sign_in(&fake), "a real token would reach a test endpoint");
        }
        let server = Target::server("https://tfs.example.com/tfs/c").expect("server");
        assert!(!defaults.may_sign_in(&server) && !test.may_sign_in(&server));
    }

    #[test]
    fn askpass_follows_gits_order() {
        let c = config(&[("core.askpass", "/cfg/askpass")]);
        let s = settings(c.clone(), None, &env_of(&[("SSH_ASKPASS", "/ssh")])).expect("ok");
        assert_eq!(s.askpass, Some(PathBuf::from("/cfg/askpass")));
        let s = settings(c.clone(), None, &env_of(&[("GIT_ASKPASS", "/git")])).expect("ok");
        assert_eq!(s.askpass, Some(PathBuf::from("/git")));
        let s = settings(config(&[]), None, &env_of(&[("SSH_ASKPASS", "/ssh")])).expect("ok");
        assert_eq!(s.askpass, Some(PathBuf::from("/ssh")));
    }

    #[test]
    fn bad_values_are_named_and_sanitised() {
        let err = settings(config(&[("azdo.store", "vault\u{1b}[2J")]), None, &env_of(&[])).expect_err("invalid");
        let msg = err.to_string();
        assert!(msg.contains("azdo.store") && !msg.contains('\u{1b}'), "{msg}");
        assert!(settings(config(&[("azdo.keyringtimeout", "soon")]), None, &env_of(&[])).is_err());
    }

    #[test]
    fn env_pat_is_trimmed_and_kept_secret() {
        let s = settings(config(&[]), None, &env_of(&[("AZURE_DEVOPS_EXT_PAT", " abc \n")])).expect("ok");
        assert_eq!(s.env_pat, Some(Secret::new("abc")));
        assert!(!format!("{s:?}").contains("abc"));
    }
}
