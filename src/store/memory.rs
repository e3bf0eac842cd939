//! In-memory store, for unit tests only.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{Credential, Error, Metadata, Store, TokenStore};
use crate::org::Target;
use crate::secret::Secret;

#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<BTreeMap<Target, Credential>>,
    tokens: Mutex<BTreeMap<String, Secret>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<Target, Credential>> {
        // A panic while holding the lock cannot leave the map half-written: take it anyway.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn get(&self, target: &Target) -> Result<Option<Credential>, Error> {
        Ok(self.entries().get(target).cloned())
    }

    fn put(&self, target: &Target, credential: &Credential) -> Result<(), Error> {
        self.entries().insert(target.clone(), credential.clone());
        Ok(())
    }

    fn set_metadata(&self, target: &Target, meta: &Metadata) -> Result<bool, Error> {
        Ok(self.entries().get_mut(target).map(|c| c.meta = meta.clone()).is_some())
    }

    fn delete(&self, target: &Target) -> Result<bool, Error> {
        Ok(self.entries().remove(target).is_some())
    }

    fn list(&self) -> Result<Vec<(Target, Metadata)>, Error> {
        Ok(self.entries().iter().map(|(o, c)| (o.clone(), c.meta.clone())).collect())
    }
}

impl TokenStore for MemoryStore {
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
