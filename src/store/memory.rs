//! In-memory store, for unit tests only.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{Credential, Error, Metadata, Store};
use crate::org::Org;
use crate::secret::Secret;

#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<BTreeMap<Org, Credential>>,
    tokens: Mutex<BTreeMap<String, Secret>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<Org, Credential>> {
        // A panic while holding the lock cannot leave the map half-written: take it anyway.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn get(&self, org: &Org) -> Result<Option<Credential>, Error> {
        Ok(self.entries().get(org).cloned())
    }

    fn put(&self, org: &Org, credential: &Credential) -> Result<(), Error> {
        self.entries().insert(org.clone(), credential.clone());
        Ok(())
    }

    fn set_metadata(&self, org: &Org, meta: &Metadata) -> Result<bool, Error> {
        Ok(self.entries().get_mut(org).map(|c| c.meta = meta.clone()).is_some())
    }

    fn delete(&self, org: &Org) -> Result<bool, Error> {
        Ok(self.entries().remove(org).is_some())
    }

    fn list(&self) -> Result<Vec<(Org, Metadata)>, Error> {
        Ok(self.entries().iter().map(|(o, c)| (o.clone(), c.meta.clone())).collect())
    }

    fn get_token(&self, key: &str) -> Result<Option<Secret>, Error> {
        Ok(self.tokens.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned())
    }

    fn put_token(&self, key: &str, token: &Secret) -> Result<(), Error> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_owned(), token.clone());
        Ok(())
    }

    fn delete_token(&self, key: &str) -> Result<bool, Error> {
        Ok(self.tokens.lock().unwrap_or_else(|p| p.into_inner()).remove(key).is_some())
    }
}
