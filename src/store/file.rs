//! The file store (opt-in, for headless machines): every org's PAT and metadata in one JSON file
//! with mode 0600, written atomically under a lock.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{jsonfile, Credential, Error, Metadata, Store, TokenStore};
use crate::org::{ServiceUrl, Target};
use crate::secret::Secret;

pub struct FileStore {
    path: PathBuf,
    /// The Services origin its organizations are on.
    origin: ServiceUrl,
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
    #[serde(flatten)]
    meta: Metadata,
}

impl FileStore {
    /// The store in the file `path`, for organizations of dev.azure.com.
    pub fn new(path: PathBuf) -> Self {
        FileStore { path, origin: ServiceUrl::default() }
    }

    /// Its organizations are on another Services origin (`azdo.url`).
    pub fn for_origin(mut self, origin: ServiceUrl) -> Self {
        self.origin = origin;
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
        jsonfile::update(&self.path, |doc: &mut Document| {
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
        Ok(self.read()?.organizations.remove(target.name()).map(|e| Credential { pat: e.pat, meta: e.meta }))
    }

    fn put(&self, target: &Target, credential: &Credential) -> Result<(), Error> {
        let entry = Entry { pat: credential.pat.clone(), meta: credential.meta.clone() };
        self.update(|doc| {
            doc.organizations.insert(target.name().to_owned(), entry);
        })
    }

    fn set_metadata(&self, target: &Target, meta: &Metadata) -> Result<bool, Error> {
        self.update(|doc| doc.organizations.get_mut(target.name()).map(|e| e.meta = meta.clone()).is_some())
    }

    fn delete(&self, target: &Target) -> Result<bool, Error> {
        if !self.path.exists() {
            return Ok(false);
        }
        self.update(|doc| doc.organizations.remove(target.name()).is_some())
    }

    fn delete_if(&self, target: &Target, pat: &Secret) -> Result<bool, Error> {
        if !self.path.exists() {
            return Ok(false);
        }
        self.update(|doc| match doc.organizations.get(target.name()) {
            Some(e) if &e.pat == pat => doc.organizations.remove(target.name()).is_some(),
            _ => false,
        })
    }

    fn set_metadata_if(&self, target: &Target, pat: &Secret, meta: &Metadata) -> Result<bool, Error> {
        self.update(|doc| match doc.organizations.get_mut(target.name()) {
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
            .filter_map(|(name, e)| Target::from_key(&name, &self.origin).ok().map(|target| (target, e.meta)))
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
