//! Settings: git config keys under `azdo.` (URL-scoped with git's urlmatch rules where it makes
//! sense), each overridable by its `GIT_CREDENTIAL_AZDO_*` variable, read once per run into a
//! typed [`Settings`] from the one key table in [`keys`]. All of git's configuration comes from a
//! single snapshot ([`git::GitConfig`]): the cache, or one `git config --list` process.

use std::cell::OnceCell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::org::{Instances, ServiceUrl, Target};
use crate::secret::Secret;
use crate::text::printable;

mod cache;
pub mod files;
pub mod git;
pub mod identities;
pub mod keys;
mod load;
mod source;
pub(crate) mod urlmatch;

pub use self::git::GitConfig;
pub use self::keys::{bool_value, CredentialType, Mint, Setting, StoreKind, TokenSource, PAT_ENV, SETTINGS};
pub use self::load::CacheSave;
pub use self::source::Source;

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

/// The environment a run reads, taken once (from the process in `main`, from a map in tests):
/// nothing below the run builder reads `std::env` for a setting itself.
#[derive(Debug, Clone, Default)]
pub struct Environment(Vec<(OsString, OsString)>);

/// The names a run may read begin with one of these: this helper's and Git Credential Manager's
/// settings, git's own variables, the build platforms' (Azure Pipelines, GitHub Actions, Azure's
/// identity variables, Codespaces), WSL's, and `HOME` (where Codespaces' token helper lives). [`Environment::from_process`] copies only these, so a `get`
/// does not copy the whole environment; [`Environment::var`] checks (in debug builds) that no
/// other name is asked for.
const READ_PREFIXES: [&str; 11] = [
    "GIT_",
    "GCM_",
    "SSH_ASKPASS",
    "AZURE_",
    "SYSTEM_",
    "TF_BUILD",
    "IDENTITY_",
    "ACTIONS_",
    "CODESPACES",
    "WSL_",
    "HOME",
];

fn is_read(name: &[u8]) -> bool {
    READ_PREFIXES.iter().any(|p| name.starts_with(p.as_bytes()))
}

impl Environment {
    /// The process's variables that a run may read, in one pass.
    pub fn from_process() -> Environment {
        Environment(std::env::vars_os().filter(|(name, _)| is_read(name.as_encoded_bytes())).collect())
    }

    /// Exactly these variables (tests).
    pub fn from_pairs<K: Into<OsString>, V: Into<OsString>>(pairs: impl IntoIterator<Item = (K, V)>) -> Environment {
        Environment(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// The value of `name` (the first, as `getenv` finds it).
    pub fn var(&self, name: &str) -> Option<OsString> {
        debug_assert!(is_read(name.as_bytes()), "{name} is not among the variables a run reads (READ_PREFIXES)");
        self.0.iter().find(|(n, _)| n.as_encoded_bytes() == name.as_bytes()).map(|(_, v)| v.clone())
    }

    /// [`Environment::var`] as the [`Env`] function settings are read with.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<OsString> + '_ {
        move |name| self.var(name)
    }
}

/// The configured instances (`azdo.url`, `azdo.server`): read before the target is known.
pub fn instances(config: &GitConfig, env: Env) -> Result<Instances, Error> {
    let source = Source { config, env, url: None };
    // A bare `azdo.url` names no origin: the default one.
    let bare_url = env(keys::URL.setting.env).is_none() && config.get(keys::URL.setting.key) == Some(None);
    let services = if bare_url { ServiceUrl::default() } else { source.get(&keys::URL)? };
    Ok(Instances { services, servers: source.get_all(&keys::SERVER)? })
}

/// The account that serves `target` by configuration: `azdo.account` (URL-matched against the
/// target's URL), else Git Credential Manager's binding of a user to an organization
/// (`credential.azrepos:org/ORG.username`, global or local). Read before the settings, which
/// are for the target with its account.
pub fn account(config: &GitConfig, env: Env, target: Option<&Target>) -> Result<Option<String>, Error> {
    let url = target.map(Target::url);
    let source = Source { config, env, url: url.as_deref() };
    Ok(match source.get_opt(&keys::ACCOUNT)? {
        Some(account) => Some(account),
        None => target
            .filter(|t| !t.is_server())
            .and_then(|t| config.get(&format!("credential.azrepos:org/{}.username", t.name())).flatten())
            .and_then(|v| crate::org::account_name(v).ok()),
    })
}

/// How long one keyring call may take by default: on macOS a Keychain access dialog (after an
/// upgrade of the binary) may be waiting for a person.
pub fn keyring_timeout_for(macos: bool) -> Duration {
    Duration::from_secs(if macos { 30 } else { 10 })
}

/// git's network settings for one URL, as [`Settings::network`] reads them (the HTTP client is
/// built from them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// `http.proxy`; `Some("")` means no proxy at all, `None` the environment's.
    pub proxy: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub verify_tls: bool,
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
    pub instances: Instances,
    pub vssps_url: String,
    pub authority: String,
    pub mint: Mint,
    pub token_source: TokenSource,
    pub browser_timeout: Duration,
    pub client_id: String,
    pub tenant: Option<String>,
    pub scope: String,
    pub pat_lifetime_days: u32,
    pub renew_before_days: u32,
    pub credential_type: CredentialType,
    /// This helper's directory under the user's data directory, whatever the origin.
    pub base_dir: PathBuf,
    /// The snapshot the settings came from (for `network`).
    config: GitConfig,
    /// git's configuration read afresh, once, when the snapshot came from the cache (which holds
    /// no network settings).
    fresh: OnceCell<GitConfig>,
    ssl_cainfo_env: Option<PathBuf>,
    ssl_no_verify_env: bool,
}

impl Settings {
    /// Where settings that are not in [`Settings`] are read for `url` (a layer above reads its
    /// own keys of the table through it, from the same snapshot and environment).
    pub fn source<'a>(&'a self, env: Env<'a>, url: Option<&'a str>) -> Source<'a> {
        Source { config: &self.config, env, url }
    }

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
    pub fn network(&self, url: &str) -> Network {
        let config = if self.config.complete { &self.config } else { self.fresh.get_or_init(GitConfig::load_fresh) };
        // As git does: `http.<url>.*` entries match the URL actually requested.
        let raw = |key: &str| config.get_urlmatch(key, url).flatten().map(str::trim);
        let value = |key: &str| raw(key).filter(|v| !v.is_empty());
        // As for git, an empty `http.proxy` means no proxy at all, whatever the environment says.
        let proxy = raw("http.proxy").map(str::to_owned);
        let ca_file = self.ssl_cainfo_env.clone().or_else(|| value("http.sslcainfo").map(keys::expand_home));
        let verify_tls = !self.ssl_no_verify_env && value("http.sslverify").and_then(bool_value).unwrap_or(true);
        Network { connect_timeout: self.connect_timeout, timeout: self.timeout, proxy, ca_file, verify_tls }
    }

    /// The settings for `target` (URL-scoped keys matched against its URL), or the unscoped ones.
    pub fn from_sources(
        config: GitConfig,
        instances: Instances,
        target: Option<&Target>,
        env: Env,
        local: Option<&Path>,
    ) -> Result<Settings, Error> {
        tracing::debug!("reading settings");
        let url = target.map(Target::url);
        let source = Source { config: &config, env, url: url.as_deref() };
        // Another Services origin (a test instance) keeps its PATs apart: org names alone would
        // mix them up with the real service's.
        // The local (not roaming) data directory: on Windows a PAT file must not roam.
        let local = local.ok_or(Error::NoDataDir)?;
        // A relative HOME would put the store inside whatever repository git runs in.
        if !local.is_absolute() {
            return Err(Error::RelativeDataDir(printable(&local.to_string_lossy())));
        }
        let data_dir = match local.join("git-credential-azdo") {
            base if instances.services == ServiceUrl::default() => base,
            base => base.join("origins").join(
                instances
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
                .unwrap_or(keyring_timeout_for(cfg!(target_os = "macos"))),
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
            client_id: source.get(&keys::CLIENT_ID)?,
            tenant: source.get_opt(&keys::TENANT)?,
            scope: source.get(&keys::SCOPE)?,
            pat_lifetime_days: source.get(&keys::PAT_LIFETIME)?.max(1),
            renew_before_days: source.get(&keys::RENEW_BEFORE)?,
            credential_type: source.get(&keys::CREDENTIAL_TYPE)?,
            base_dir: local.join("git-credential-azdo"),
            ssl_cainfo_env: env("GIT_SSL_CAINFO").filter(|v| !v.is_empty()).map(PathBuf::from),
            ssl_no_verify_env,
            data_dir,
            instances,
            config,
            fresh: OnceCell::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_answers_as_the_process_does_for_what_a_run_reads() {
        let env = Environment::from_process();
        for (name, value) in std::env::vars_os() {
            if let Some(name) = name.to_str().filter(|n| is_read(n.as_bytes())) {
                assert_eq!(env.lookup()(name), Some(value), "{name}");
            }
        }
        assert_eq!(env.var("GIT_CREDENTIAL_AZDO_NO_SUCH_SETTING_X"), None);
        let given = Environment::from_pairs([("GIT_A", "1"), ("GIT_A", "2")]);
        assert_eq!(given.var("GIT_A"), Some("1".into()));
        assert_eq!(given.var("GIT_B"), None);
        assert!(!is_read(b"PATH") && !is_read(b"USER") && is_read(b"TF_BUILD") && is_read(b"SSH_ASKPASS"));
    }

    /// Every variable the settings table names is one a run reads.
    #[test]
    fn every_settings_variable_is_read() {
        for setting in SETTINGS {
            assert!(is_read(setting.env.as_bytes()), "{}", setting.env);
        }
        for (_, alias) in keys::GCM_ALIASES {
            assert!(is_read(alias.env.as_bytes()), "{}", alias.env);
        }
        assert!(is_read(PAT_ENV.as_bytes()));
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
        // An absolute path on this system (a relative one is refused).
        const LOCAL: &str = if cfg!(windows) { "C:/Users/someone/AppData/Local" } else { "/home/someone/.local/share" };
        let instances = instances(&c, env)?;
        Settings::from_sources(c, instances, target, env, Some(Path::new(LOCAL)))
    }

    #[test]
    fn environment_overrides_git_config() {
        // An absolute path on this system (the setting refuses others).
        const FILE: &str = if cfg!(windows) { "C:/a.json" } else { "/tmp/a.json" };
        let c = config(&[("azdo.store", "keyring"), ("azdo.storefile", FILE)]);
        let s = settings(c, None, &env_of(&[("GIT_CREDENTIAL_AZDO_STORE", "file")])).expect("valid");
        assert_eq!(s.store, StoreKind::File);
        assert_eq!(s.store_file, PathBuf::from(FILE));
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
        let instances = instances(&c, &env).expect("instances");
        let contoso = Target::org_in(&instances.services, "contoso").expect("org");
        let s = settings(c.clone(), Some(&contoso), &env).expect("valid");
        assert!(!s.interactive, "the entry for the custom origin's URL applies");
        assert!(s.validate_interval.is_some(), "an entry for dev.azure.com does not apply to another origin");
    }

    #[test]
    fn a_bare_azdo_url_means_the_default_origin() {
        let c = GitConfig::parse_z(b"azdo.url\0");
        assert_eq!(instances(&c, &env_of(&[])).expect("default"), Instances::default());
        assert!(instances(&config(&[("azdo.url", "ftp://x")]), &env_of(&[])).is_err());
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
