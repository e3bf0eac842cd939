//! The file store (opt-in, for headless machines): every org's PAT and metadata in one JSON file
//! with mode 0600, written atomically under a lock.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{jsonfile, Credential, Error, Metadata, Store, TokenStore};
use crate::org::{ServiceUrl, Target};
use crate::secret::Secret;

pub struct FileStore {
    path: PathBuf,
    /// The Services origin its organizations are on.
    origin: ServiceUrl,
    /// How long a change waits for another process's lock (a stopped holder must not hang git).
    lock_timeout: Duration,
}

#[derive(Serialize, Deserialize)]
struct Document {
    version: u32,
    #[serde(default)]
    organizations: BTreeMap<String, Entry>,
    /// Sign-in secrets (Entra refresh tokens), by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    tokens: BTreeMap<String, Secret>,
}

impl Default for Document {
    fn default() -> Self {
        Document { version: 1, organizations: BTreeMap::new(), tokens: BTreeMap::new() }
    }
}

#[derive(Serialize, Deserialize)]
struct Entry {
    pat: Secret,
    /// The Services origin the PAT is for (`https://dev.azure.com` when absent, as in files
    /// written before origins were recorded): it is served there only, so a file shared by
    /// several origins (an explicit `azdo.storeFile`) never sends one origin's PAT to another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    #[serde(flatten)]
    meta: Metadata,
}

impl Entry {
    /// Whether this entry is for `target` (a Server collection's key is its own URL).
    fn serves(&self, target: &Target) -> bool {
        match target {
            Target::Services { origin, .. } => {
                self.service.as_deref().map_or(*origin == ServiceUrl::default(), |s| s == origin.base())
            }
            Target::Server { .. } => true,
        }
    }
}

/// The entry for `target`, if it is for `target`'s origin.
fn entry_for<'a>(doc: &'a mut Document, target: &Target) -> Option<&'a mut Entry> {
    doc.organizations.get_mut(&target.store_key()).filter(|e| e.serves(target))
}

impl FileStore {
    /// The store in the file `path`, for organizations of dev.azure.com.
    pub fn new(path: PathBuf) -> Self {
        FileStore { path, origin: ServiceUrl::default(), lock_timeout: Duration::from_secs(10) }
    }

    /// Its organizations are on another Services origin (`azdo.url`).
    pub fn for_origin(mut self, origin: ServiceUrl) -> Self {
        self.origin = origin;
        self
    }

    /// Wait at most `limit` for another process's lock.
    pub fn with_lock_timeout(mut self, limit: Duration) -> Self {
        self.lock_timeout = limit;
        self
    }

    fn read(&self) -> Result<Document, Error> {
        let doc: Document = jsonfile::read(&self.path)?;
        if doc.version != 1 {
            return Err(Error::Corrupt { path: self.path.clone(), detail: format!("unknown version {}", doc.version) });
        }
        Ok(doc)
    }

    fn update<R>(&self, change: impl FnOnce(&mut Document) -> R) -> Result<R, Error> {
        let path = self.path.clone();
        jsonfile::update(&self.path, self.lock_timeout, |doc: &mut Document| {
            if doc.version != 1 {
                return Err(Error::Corrupt { path, detail: format!("unknown version {}", doc.version) });
            }
            Ok(change(doc))
        })
    }
}

impl Store for FileStore {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn get(&self, target: &Target) -> Result<Option<Credential>, Error> {
        let mut doc = self.read()?;
        Ok(entry_for(&mut doc, target).map(|e| Credential { pat: e.pat.clone(), meta: e.meta.clone() }))
    }

    fn put(&self, target: &Target, credential: &Credential) -> Result<(), Error> {
        let service = match target {
            Target::Services { origin, .. } => Some(origin.base()),
            Target::Server { .. } => None,
        };
        let entry = Entry { pat: credential.pat.clone(), service, meta: credential.meta.clone() };
        self.update(|doc| {
            doc.organizations.insert(target.store_key(), entry);
        })
    }

    fn set_metadata(&self, target: &Target, meta: &Metadata) -> Result<bool, Error> {
        self.update(|doc| entry_for(doc, target).map(|e| e.meta = meta.clone()).is_some())
    }

    fn delete(&self, target: &Target) -> Result<bool, Error> {
        if !self.path.exists() {
            return Ok(false);
        }
        self.update(|doc| entry_for(doc, target).is_some() && doc.organizations.remove(&target.store_key()).is_some())
    }

    fn delete_if(&self, target: &Target, pat: &Secret) -> Result<bool, Error> {
        if !self.path.exists() {
            return Ok(false);
        }
        self.update(|doc| match entry_for(doc, target) {
            Some(e) if &e.pat == pat => doc.organizations.remove(&target.store_key()).is_some(),
            _ => false,
        })
    }

    fn set_metadata_if(&self, target: &Target, pat: &Secret, meta: &Metadata) -> Result<bool, Error> {
        self.update(|doc| match entry_for(doc, target) {
            Some(e) if &e.pat == pat => {
                e.meta = meta.clone();
                true
            }
            _ => false,
        })
    }

    fn list(&self) -> Result<Vec<(Target, Metadata)>, Error> {
        Ok(self
            .read()?
            .organizations
            .into_iter()
            .filter_map(|(name, e)| {
                let target = Target::from_key(&name, &self.origin).ok()?;
                e.serves(&target).then_some((target, e.meta))
            })
            .collect())
    }
}

impl TokenStore for FileStore {
    fn get_token(&self, key: &str) -> Result<Option<Secret>, Error> {
        Ok(self.read()?.tokens.remove(key))
    }

    fn put_token(&self, key: &str, token: &Secret) -> Result<(), Error> {
        let token = token.clone();
        self.update(|doc| {
            doc.tokens.insert(key.to_owned(), token);
        })
    }

    fn delete_token(&self, key: &str) -> Result<bool, Error> {
        if !self.path.exists() {
            return Ok(false);
        }
        self.update(|doc| doc.tokens.remove(key).is_some())
    }
}
