//! Where PATs live. One [`Store`] trait for PATs and a [`TokenStore`] trait for sign-in secrets
//! (Entra refresh tokens), kept apart from PATs; backends: the OS keyring (default), a 0600 file
//! (opt-in, for headless machines) and memory (unit tests). Every backend implements both and
//! passes the same contract suite (`tests/store_contract.rs`).

mod file;
mod jsonfile;
mod keyring;
mod memory;
mod orgfiles;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::org::Target;
use crate::secret::Secret;

pub use self::file::FileStore;
pub use self::keyring::KeyringStore;
pub use self::memory::MemoryStore;

/// How a PAT came to be stored (shown and kept as its "origin").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// git reported it working (`store`), e.g. after a prompt.
    #[default]
    Git,
    /// `git credential-azdo login`.
    Login,
    /// Minted by this helper.
    Minted,
    /// Adopted by `import` from another tool's item in the OS store.
    Imported,
}

impl Provenance {
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Git => "git",
            Provenance::Login => "login",
            Provenance::Minted => "minted",
            Provenance::Imported => "imported",
        }
    }
}

/// Non-secret facts about a stored PAT. Kept apart from the PAT in the keyring store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Metadata {
    /// Kept and listed as `origin`, the name the store files and `list --json` have always used.
    #[serde(default, rename = "origin")]
    pub provenance: Provenance,
    /// Unix seconds.
    pub stored_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// When Azure DevOps (or git, by using it) last accepted the PAT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_validated: Option<i64>,
    /// When a check was last tried, whatever came of it (so an outage costs one try per interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked: Option<i64>,
    /// When a renewal was last tried and failed (so it is tried at most once an hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_attempted: Option<i64>,
    /// The PAT's authorization id on Azure DevOps, when it was minted here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_id: Option<String>,
}

/// A stored PAT and what is known about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub pat: Secret,
    pub meta: Metadata,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the OS keyring is unreachable ({detail}); {}", Os::CURRENT.unreachable_hint())]
    KeyringUnavailable { detail: String },
    #[error("the OS keyring refused access ({detail}): {}", Os::CURRENT.locked_hint())]
    KeyringLocked { detail: String },
    #[error("the OS keyring did not answer within {limit:?}; {}", Os::CURRENT.timeout_hint(), limit = .0)]
    KeyringTimeout(Duration),
    #[error("the OS keyring failed: {0}")]
    Keyring(String),
    #[error("{} is not a valid credential file ({detail}); it was left untouched: fix or move it", crate::fs::shown(.path))]
    Corrupt { path: PathBuf, detail: String },
    #[error(transparent)]
    Fs(#[from] crate::fs::Error),
}

/// Which OS keyring a message is about: each has its own fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
    Other,
}

const FILE_STORE: &str = "or opt in to the file store: git config --global azdo.store file";

impl Os {
    pub const CURRENT: Os = if cfg!(target_os = "linux") {
        Os::Linux
    } else if cfg!(target_os = "macos") {
        Os::MacOs
    } else if cfg!(target_os = "windows") {
        Os::Windows
    } else {
        Os::Other
    };

    fn unreachable_hint(self) -> String {
        let fix = match self {
            Os::Linux | Os::Other => "start a Secret Service (e.g. gnome-keyring) in this session",
            Os::MacOs => {
                "the login keychain cannot be used in this session (over SSH, unlock it with: security unlock-keychain)"
            }
            Os::Windows => "Windows Credential Manager is not available to this user session",
        };
        format!("{fix}, {FILE_STORE}")
    }

    fn locked_hint(self) -> String {
        let fix = match self {
            Os::Linux | Os::Other => "it is locked or has no default collection; unlock it (log in to the desktop, or run gnome-keyring-daemon --unlock)",
            Os::MacOs => "the keychain is locked, or macOS may not ask for access in this session (SSH); unlock it with: security unlock-keychain",
            Os::Windows => "Windows Credential Manager refused access to this item",
        };
        format!("{fix}, {FILE_STORE}")
    }

    fn timeout_hint(self) -> &'static str {
        match self {
            Os::Linux | Os::Other => "is the keyring daemon hung? (azdo.keyringTimeout sets the limit)",
            Os::MacOs => "is a Keychain access dialog waiting for an answer? (azdo.keyringTimeout sets the limit)",
            Os::Windows => "is Credential Manager hung? (azdo.keyringTimeout sets the limit)",
        }
    }
}

/// A place that keeps one PAT per organization and account (and, through [`TokenStore`], sign-in
/// secrets).
pub trait Store: TokenStore {
    /// A short name for messages and `list`: `keyring`, `file`, `memory`.
    fn kind(&self) -> &'static str;
    fn get(&self, target: &Target) -> Result<Option<Credential>, Error>;
    /// Store or replace the org's entry; other orgs are untouched.
    fn put(&self, target: &Target, credential: &Credential) -> Result<(), Error>;
    /// Replace only the metadata of an existing entry; `false` if there is none.
    fn set_metadata(&self, target: &Target, meta: &Metadata) -> Result<bool, Error>;
    /// Remove the org's entry; `false` if there was none.
    fn delete(&self, target: &Target) -> Result<bool, Error>;
    /// Every stored org with its metadata, sorted by org; never a secret.
    fn list(&self) -> Result<Vec<(Target, Metadata)>, Error>;
    /// Remove the org's entry only if it still holds `pat` (another process may have stored a
    /// new one meanwhile). The file store decides under its lock; others read and compare.
    fn delete_if(&self, target: &Target, pat: &Secret) -> Result<bool, Error> {
        match self.get(target)? {
            Some(c) if &c.pat == pat => self.delete(target),
            _ => Ok(false),
        }
    }
    /// Replace the metadata only if the entry still holds `pat`.
    fn set_metadata_if(&self, target: &Target, pat: &Secret, meta: &Metadata) -> Result<bool, Error> {
        match self.get(target)? {
            Some(c) if &c.pat == pat => self.set_metadata(target, meta),
            _ => Ok(false),
        }
    }
}

/// Sign-in secrets (Entra refresh tokens) by key, kept as safely as PATs but apart from them:
/// they never show in `list`, and an org's PAT operations never touch them.
pub trait TokenStore: Send + Sync {
    fn get_token(&self, key: &str) -> Result<Option<Secret>, Error>;
    fn put_token(&self, key: &str, token: &Secret) -> Result<(), Error>;
    /// `false` if there was none.
    fn delete_token(&self, key: &str) -> Result<bool, Error>;
}

/// Open the store the settings name.
pub fn open(settings: &crate::config::Settings) -> Box<dyn Store> {
    open_kind(settings, settings.store)
}

/// Open the store of `kind` where the settings would put it (`prune` reads the other kind's
/// list too: a PAT kept there is still in use on this machine).
pub fn open_kind(settings: &crate::config::Settings, kind: crate::config::StoreKind) -> Box<dyn Store> {
    match kind {
        crate::config::StoreKind::File => Box::new(
            FileStore::new(settings.store_file.clone())
                .for_origin(settings.instances.services.clone())
                .with_lock_timeout(settings.keyring_timeout),
        ),
        crate::config::StoreKind::Keyring => Box::new(
            KeyringStore::new(settings.data_dir.join("keyring-metadata.json"), settings.keyring_timeout)
                .for_origin(settings.instances.services.clone()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_messages_name_each_systems_fix() {
        let unreachable = |os: Os| os.unreachable_hint();
        assert!(unreachable(Os::Linux).contains("gnome-keyring") && unreachable(Os::Linux).contains("azdo.store file"));
        for os in [Os::MacOs, Os::Windows] {
            for text in [os.unreachable_hint(), os.locked_hint(), os.timeout_hint().to_owned()] {
                assert!(!text.contains("gnome-keyring") && !text.contains("Secret Service"), "{os:?}: {text}");
            }
        }
        assert!(Os::MacOs.locked_hint().contains("security unlock-keychain"));
        assert!(Os::MacOs.timeout_hint().contains("dialog"));
        assert!(Os::Windows.unreachable_hint().contains("Credential Manager"));
        let default = crate::config::keyring_timeout_for;
        assert_eq!(default(true), Duration::from_secs(30));
        assert_eq!(default(false), Duration::from_secs(10));
        let shown = Error::KeyringTimeout(Duration::from_secs(10)).to_string();
        assert!(shown.starts_with("the OS keyring did not answer within 10s; "), "{shown}");
    }
}
