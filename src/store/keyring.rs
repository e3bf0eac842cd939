//! The OS keyring store (default): the PAT goes into the platform's secret store through the
//! `keyring` crate (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows),
//! one item per organization and account (and one per kept sign-in token). Non-secret metadata goes to a small JSON index beside the file
//! store's default location, never beside the PAT in plain text. Every keyring call is bounded in
//! time: a hung daemon must not hang git.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{jsonfile, Credential, Error, Metadata, Store, TokenStore};
use crate::org::{ServiceUrl, Target};
use crate::secret::Secret;
use crate::text::printable;

/// The keyring "service" of every item starts with this, so a person can find them.
pub const SERVICE_PREFIX: &str = "git-credential-azdo";

pub struct KeyringStore {
    index: PathBuf,
    timeout: Duration,
    /// The longest secret one item may hold; longer sign-in tokens are split across items.
    max_secret: usize,
    /// The Services origin its organizations are on; items are named after each target's URL,
    /// so another origin's (`azdo.url`) stay apart from the real service's.
    origin: ServiceUrl,
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
        KeyringStore { index, timeout, max_secret: MAX_SECRET, origin: ServiceUrl::default() }
    }

    /// Its organizations are on another Services origin (`azdo.url`).
    pub fn for_origin(mut self, origin: ServiceUrl) -> Self {
        self.origin = origin;
        self
    }

    /// Split sign-in tokens longer than `max` characters across items (Windows' limit, applied
    /// here to test the splitting on any keyring).
    pub fn with_max_secret(mut self, max: usize) -> Self {
        self.max_secret = max.max(1);
        self
    }

    fn token_item<T: Send + 'static>(
        &self,
        user: String,
        call: impl FnOnce(keyring::Entry) -> keyring::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        self.bounded_item(format!("{SERVICE_PREFIX}:sign-in"), user, call)
    }

    fn read_token_item(&self, user: String) -> Result<Option<Secret>, Error> {
        self.token_item(user, |e| match e.get_password() {
            Ok(token) => Ok(Some(Secret::from(token))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(other) => Err(other),
        })
    }

    fn delete_token_item(&self, user: String) -> Result<bool, Error> {
        self.token_item(user, |e| match e.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(other) => Err(other),
        })
    }

    /// Delete the parts a split token under `key` left (as many as its header names).
    fn delete_parts(&self, key: &str, header: Option<&Secret>) -> Result<(), Error> {
        for i in 1..=header.and_then(|h| parts_in(h.expose())).unwrap_or(0) {
            self.delete_token_item(part_name(key, i))?;
        }
        Ok(())
    }

    /// Run one keyring call on a worker thread and give up after the timeout. A call that hangs is
    /// abandoned; the process exits soon after, which ends it.
    fn bounded<T: Send + 'static>(
        &self,
        target: &Target,
        call: impl FnOnce(keyring::Entry) -> keyring::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        self.bounded_item(format!("{SERVICE_PREFIX}:{}", target.url()), target.store_key(), call)
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
    fn lock(&self) -> Result<crate::fs::Lock, Error> {
        Ok(crate::fs::lock(&self.index.with_file_name("keyring.lock"), Some(self.timeout))?)
    }

    fn put_unlocked(&self, target: &Target, credential: &Credential) -> Result<(), Error> {
        let pat = credential.pat.clone();
        self.bounded(target, move |e| match e.set_password(pat.expose()) {
            // The item went away between the crate's search and its write: once more.
            Err(err) if vanished(&err) => e.set_password(pat.expose()),
            other => other,
        })?;
        self.set_index(target, &credential.meta)
    }

    fn delete_unlocked(&self, target: &Target) -> Result<bool, Error> {
        let deleted = self.bounded(target, |e| match e.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) if vanished(&e) => Ok(false),
            Err(other) => Err(other),
        })?;
        if self.index.exists() {
            self.update_index(|index| Ok(index.organizations.remove(&target.store_key())))?;
        }
        Ok(deleted)
    }

    fn set_index(&self, target: &Target, meta: &Metadata) -> Result<(), Error> {
        self.update_index(|index| {
            index.organizations.insert(target.store_key(), meta.clone());
            Ok(())
        })
    }

    fn metadata(&self, target: &Target) -> Option<Metadata> {
        // Only this org's entry is built: a store of many organizations costs no more than one.
        match jsonfile::pick::<Metadata>(&self.index, "organizations", &target.store_key()) {
            Ok(picked) => picked.and_then(|p| p.found),
            Err(e) => {
                tracing::warn!(error = %e, "keyring metadata unreadable; using none");
                None
            }
        }
    }

    fn update_index<R>(&self, change: impl FnOnce(&mut Index) -> Result<R, Error>) -> Result<R, Error> {
        jsonfile::update(&self.index, self.timeout, change)
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

/// macOS' `errSecInteractionNotAllowed`: the Keychain may not show a dialog in this session
/// (SSH, a locked keychain); the keyring crate reports it as a platform failure.
fn interaction_refused(text: &str) -> bool {
    text.contains("-25308") || text.contains("User interaction is not allowed")
}

fn map_error(e: keyring::Error) -> Error {
    match e {
        keyring::Error::NoStorageAccess(inner) => Error::KeyringLocked { detail: printable(&inner.to_string()) },
        keyring::Error::PlatformFailure(inner) if interaction_refused(&inner.to_string()) => {
            Error::KeyringLocked { detail: printable(&inner.to_string()) }
        }
        keyring::Error::PlatformFailure(inner) => Error::KeyringUnavailable { detail: printable(&inner.to_string()) },
        keyring::Error::BadEncoding(_) => Error::Keyring("the stored item is not valid UTF-8".into()),
        other => Error::Keyring(printable(&other.to_string())),
    }
}

impl Store for KeyringStore {
    fn kind(&self) -> &'static str {
        "keyring"
    }

    fn get(&self, target: &Target) -> Result<Option<Credential>, Error> {
        let pat = self.bounded(target, |e| match e.get_password() {
            Ok(pat) => Ok(Some(Secret::from(pat))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) if vanished(&e) => Ok(None),
            Err(other) => Err(other),
        })?;
        Ok(pat.map(|pat| Credential { pat, meta: self.metadata(target).unwrap_or_default() }))
    }

    fn put(&self, target: &Target, credential: &Credential) -> Result<(), Error> {
        let _lock = self.lock()?;
        self.put_unlocked(target, credential)
    }

    fn set_metadata(&self, target: &Target, meta: &Metadata) -> Result<bool, Error> {
        let _lock = self.lock()?;
        if self.get(target)?.is_none() {
            return Ok(false);
        }
        self.set_index(target, meta)?;
        Ok(true)
    }

    fn delete(&self, target: &Target) -> Result<bool, Error> {
        let _lock = self.lock()?;
        self.delete_unlocked(target)
    }

    fn delete_if(&self, target: &Target, pat: &Secret) -> Result<bool, Error> {
        let _lock = self.lock()?;
        match self.get(target)? {
            Some(c) if &c.pat == pat => self.delete_unlocked(target),
            _ => Ok(false),
        }
    }

    fn set_metadata_if(&self, target: &Target, pat: &Secret, meta: &Metadata) -> Result<bool, Error> {
        let _lock = self.lock()?;
        match self.get(target)? {
            Some(c) if &c.pat == pat => self.set_index(target, meta).map(|()| true),
            _ => Ok(false),
        }
    }

    fn list(&self) -> Result<Vec<(Target, Metadata)>, Error> {
        Ok(jsonfile::read::<Index>(&self.index)?
            .organizations
            .into_iter()
            .filter_map(|(name, meta)| Target::from_key(&name, &self.origin).ok().map(|target| (target, meta)))
            .collect())
    }
}

impl TokenStore for KeyringStore {
    fn get_token(&self, key: &str) -> Result<Option<Secret>, Error> {
        let Some(first) = self.read_token_item(key.to_owned())? else { return Ok(None) };
        let Some(count) = parts_in(first.expose()) else { return Ok(Some(first)) };
        let mut joined = String::new();
        for i in 1..=count {
            match self.read_token_item(part_name(key, i))? {
                Some(part) => joined.push_str(part.expose()),
                // A part gone missing (a writer killed midway): no usable token.
                None => return Ok(None),
            }
        }
        Ok(Some(Secret::from(joined)))
    }

    fn put_token(&self, key: &str, token: &Secret) -> Result<(), Error> {
        let old = self.read_token_item(key.to_owned())?;
        self.delete_parts(key, old.as_ref())?;
        let parts = split(token.expose(), self.max_secret);
        let first = match parts.as_slice() {
            [whole] => Secret::new(*whole),
            parts => {
                for (i, part) in parts.iter().enumerate() {
                    let part = Secret::new(*part);
                    self.token_item(part_name(key, i + 1), move |e| e.set_password(part.expose()))?;
                }
                Secret::from(format!("{CHUNKS}{}", parts.len()))
            }
        };
        self.token_item(key.to_owned(), move |e| e.set_password(first.expose()))
    }

    fn delete_token(&self, key: &str) -> Result<bool, Error> {
        let old = self.read_token_item(key.to_owned())?;
        self.delete_parts(key, old.as_ref())?;
        self.delete_token_item(key.to_owned())
    }
}

/// The longest secret one item holds: Windows Credential Manager keeps at most 2560 bytes, and
/// the keyring crate stores text there as UTF-16 (two bytes a character), with room to spare.
#[cfg(target_os = "windows")]
const MAX_SECRET: usize = 1200;
#[cfg(not(target_os = "windows"))]
const MAX_SECRET: usize = usize::MAX;

/// The first item of a split token says how many parts follow (no token holds a space).
const CHUNKS: &str = "git-credential-azdo split-token ";

fn parts_in(first: &str) -> Option<usize> {
    first.strip_prefix(CHUNKS).and_then(|n| n.parse().ok()).filter(|n| (1..=64).contains(n))
}

fn part_name(key: &str, i: usize) -> String {
    format!("{key}#{i}")
}

/// `token` in pieces of at most `max` characters (one piece when it fits).
fn split(token: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = token;
    while rest.chars().count() > max {
        let cut = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let (head, tail) = rest.split_at(cut);
        parts.push(head);
        rest = tail;
    }
    parts.push(rest);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keychain_that_may_not_ask_is_reported_as_locked() {
        let refused = keyring::Error::PlatformFailure("User interaction is not allowed. (-25308)".into());
        assert!(matches!(map_error(refused), Error::KeyringLocked { .. }));
        let down = keyring::Error::PlatformFailure("org.freedesktop.DBus.Error.ServiceUnknown".into());
        assert!(matches!(map_error(down), Error::KeyringUnavailable { .. }));
    }

    #[test]
    fn long_tokens_are_split_within_the_limit_and_joined_back() {
        let token = "0.AX".repeat(700);
        let parts = split(&token, 1200);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= 1200));
        assert_eq!(parts.concat(), token);
        assert_eq!(split("short", 1200), ["short"]);
        assert_eq!(split("", 3), [""]);
        assert_eq!(split("äbcdé", 2), ["äb", "cd", "é"]);
        let header = format!("{CHUNKS}{}", parts.len());
        assert_eq!(parts_in(&header), Some(3));
        assert_eq!(parts_in("0.AXheader"), None, "a token is never taken for a header");
        assert!(header.len() <= 1200 && !token.contains(' '));
    }
}
