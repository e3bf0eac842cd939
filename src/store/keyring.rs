//! The OS keyring store (default): the PAT goes into the platform's secret store through the
//! `keyring` crate (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows),
//! one item per organization. Non-secret metadata goes to a small JSON index beside the file
//! store's default location, never beside the PAT in plain text. Every keyring call is bounded in
//! time: a hung daemon must not hang git.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{jsonfile, Credential, Error, Metadata, Store};
use crate::org::Org;
use crate::secret::Secret;
use crate::text::printable;

/// The keyring "service" of every item starts with this, so a person can find them.
pub const SERVICE_PREFIX: &str = "git-credential-azdo";

pub struct KeyringStore {
    index: PathBuf,
    timeout: Duration,
    /// Another Services origin (`azdo.url`): its items are named after it, apart from the real
    /// service's.
    services_base: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Index {
    version: u32,
    #[serde(default)]
    organizations: BTreeMap<String, Metadata>,
}

impl Default for Index {
    fn default() -> Self {
        Index { version: 1, organizations: BTreeMap::new() }
    }
}

impl KeyringStore {
    /// `index` is the metadata file; `timeout` bounds each keyring call.
    pub fn new(index: PathBuf, timeout: Duration) -> Self {
        KeyringStore { index, timeout, services_base: None }
    }

    /// Items for organizations of another Services origin are named after that origin.
    pub fn for_origin(mut self, services_base: Option<String>) -> Self {
        self.services_base = services_base;
        self
    }

    /// Run one keyring call on a worker thread and give up after the timeout. A call that hangs is
    /// abandoned; the process exits soon after, which ends it.
    fn bounded<T: Send + 'static>(
        &self,
        org: &Org,
        call: impl FnOnce(keyring::Entry) -> keyring::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        let url = match &self.services_base {
            Some(base) if !org.is_server() => format!("{base}/{}", org.name()),
            _ => org.url(),
        };
        self.bounded_item(format!("{SERVICE_PREFIX}:{url}"), org.name().to_owned(), call)
    }

    fn bounded_item<T: Send + 'static>(
        &self,
        service: String,
        user: String,
        call: impl FnOnce(keyring::Entry) -> keyring::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("keyring".into())
            .spawn(move || {
                let result = entry(&service, &user).and_then(call);
                // The receiver may have given up; nothing to do then.
                let _ = tx.send(result);
            })
            .map_err(|e| Error::Keyring(e.to_string()))?;
        match rx.recv_timeout(self.timeout) {
            Ok(result) => result.map_err(map_error),
            Err(_) => Err(Error::KeyringTimeout(self.timeout)),
        }
    }

    /// Changes are made under one lock across processes: the keyring has no compare-and-delete,
    /// and a `store` landing between another process's read and delete must not be lost.
    fn lock(&self) -> Result<std::fs::File, Error> {
        let path = self.index.with_file_name("keyring.lock");
        jsonfile::lock_file_within(&path, Some(self.timeout))
    }

    fn put_unlocked(&self, org: &Org, credential: &Credential) -> Result<(), Error> {
        let pat = credential.pat.clone();
        self.bounded(org, move |e| match e.set_password(pat.expose()) {
            // The item went away between the crate's search and its write: once more.
            Err(err) if vanished(&err) => e.set_password(pat.expose()),
            other => other,
        })?;
        self.set_index(org, &credential.meta)
    }

    fn delete_unlocked(&self, org: &Org) -> Result<bool, Error> {
        let deleted = self.bounded(org, |e| match e.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) if vanished(&e) => Ok(false),
            Err(other) => Err(other),
        })?;
        if self.index.exists() {
            self.update_index(|index| Ok(index.organizations.remove(org.name())))?;
        }
        Ok(deleted)
    }

    fn set_index(&self, org: &Org, meta: &Metadata) -> Result<(), Error> {
        self.update_index(|index| {
            index.organizations.insert(org.name().to_owned(), meta.clone());
            Ok(())
        })
    }

    fn metadata(&self, org: &Org) -> Option<Metadata> {
        match jsonfile::read::<Index>(&self.index) {
            Ok(mut index) => index.organizations.remove(org.name()),
            Err(e) => {
                tracing::warn!(error = %e, "keyring metadata unreadable; using none");
                None
            }
        }
    }

    fn update_index<R>(&self, change: impl FnOnce(&mut Index) -> Result<R, Error>) -> Result<R, Error> {
        jsonfile::update(&self.index, change)
    }
}

#[cfg(target_os = "linux")]
fn entry(service: &str, user: &str) -> keyring::Result<keyring::Entry> {
    // A label a person recognises in Seahorse; attributes stay service/username for lookup.
    let mut credential = keyring::secret_service::SsCredential::new_with_target(None, service, user)?;
    credential.label = if service.ends_with(":sign-in") {
        format!("Azure DevOps sign-in token {user} (git-credential-azdo)")
    } else {
        format!("Azure DevOps PAT for {user} (git-credential-azdo)")
    };
    Ok(keyring::Entry::new_with_credential(Box::new(credential)))
}

#[cfg(any(target_os = "macos", target_os = "windows"))]
fn entry(service: &str, user: &str) -> keyring::Result<keyring::Entry> {
    keyring::Entry::new(service, user)
}

/// Elsewhere the keyring crate would fall back to a store that keeps nothing: refuse instead.
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn entry(_service: &str, _user: &str) -> keyring::Result<keyring::Entry> {
    Err(keyring::Error::PlatformFailure("this platform has no supported OS keyring".into()))
}

/// An item deleted by another process between the keyring crate's search and its call on it.
fn vanished(e: &keyring::Error) -> bool {
    match e {
        keyring::Error::PlatformFailure(inner) => {
            let text = inner.to_string();
            text.contains("does not exist") || text.contains("No such interface") || text.contains("UnknownObject")
        }
        _ => false,
    }
}

fn map_error(e: keyring::Error) -> Error {
    match e {
        keyring::Error::NoStorageAccess(inner) => Error::KeyringLocked { detail: printable(&inner.to_string()) },
        keyring::Error::PlatformFailure(inner) => Error::KeyringUnavailable { detail: printable(&inner.to_string()) },
        keyring::Error::BadEncoding(_) => Error::Keyring("the stored item is not valid UTF-8".into()),
        other => Error::Keyring(printable(&other.to_string())),
    }
}

impl Store for KeyringStore {
    fn kind(&self) -> &'static str {
        "keyring"
    }

    fn get(&self, org: &Org) -> Result<Option<Credential>, Error> {
        let pat = self.bounded(org, |e| match e.get_password() {
            Ok(pat) => Ok(Some(Secret::from(pat))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) if vanished(&e) => Ok(None),
            Err(other) => Err(other),
        })?;
        Ok(pat.map(|pat| Credential { pat, meta: self.metadata(org).unwrap_or_default() }))
    }

    fn put(&self, org: &Org, credential: &Credential) -> Result<(), Error> {
        let _lock = self.lock()?;
        self.put_unlocked(org, credential)
    }

    fn set_metadata(&self, org: &Org, meta: &Metadata) -> Result<bool, Error> {
        let _lock = self.lock()?;
        if self.get(org)?.is_none() {
            return Ok(false);
        }
        self.set_index(org, meta)?;
        Ok(true)
    }

    fn delete(&self, org: &Org) -> Result<bool, Error> {
        let _lock = self.lock()?;
        self.delete_unlocked(org)
    }

    fn delete_if(&self, org: &Org, pat: &Secret) -> Result<bool, Error> {
        let _lock = self.lock()?;
        match self.get(org)? {
            Some(c) if &c.pat == pat => self.delete_unlocked(org),
            _ => Ok(false),
        }
    }

    fn set_metadata_if(&self, org: &Org, pat: &Secret, meta: &Metadata) -> Result<bool, Error> {
        let _lock = self.lock()?;
        match self.get(org)? {
            Some(c) if &c.pat == pat => self.set_index(org, meta).map(|()| true),
            _ => Ok(false),
        }
    }

    fn list(&self) -> Result<Vec<(Org, Metadata)>, Error> {
        Ok(jsonfile::read::<Index>(&self.index)?
            .organizations
            .into_iter()
            .filter_map(|(name, meta)| Org::from_key(&name).ok().map(|org| (org, meta)))
            .collect())
    }

    fn get_token(&self, key: &str) -> Result<Option<Secret>, Error> {
        self.bounded_item(format!("{SERVICE_PREFIX}:sign-in"), key.to_owned(), |e| match e.get_password() {
            Ok(token) => Ok(Some(Secret::from(token))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(other) => Err(other),
        })
    }

    fn put_token(&self, key: &str, token: &Secret) -> Result<(), Error> {
        let token = token.clone();
        self.bounded_item(format!("{SERVICE_PREFIX}:sign-in"), key.to_owned(), move |e| e.set_password(token.expose()))
    }

    fn delete_token(&self, key: &str) -> Result<bool, Error> {
        self.bounded_item(format!("{SERVICE_PREFIX}:sign-in"), key.to_owned(), |e| match e.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(other) => Err(other),
        })
    }
}
