//! The file store (opt-in, for headless machines): every org's PAT and metadata in one JSON file
//! with mode 0600, written atomically under a lock. A `get` builds only the entry it looks up.

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

    /// The entry under `key` of the document's map `map` (`organizations` or `tokens`), without
    /// building the others: what `get` needs from a store of any size.
    fn pick<T: for<'de> Deserialize<'de>>(&self, map: &'static str, key: &str) -> Result<Option<T>, Error> {
        let Some(picked) = jsonfile::pick::<T>(&self.path, map, key)? else { return Ok(None) };
        match picked.version {
            Some(1) => Ok(picked.found),
            other => Err(Error::Corrupt {
                path: self.path.clone(),
                detail: other.map_or_else(|| "no version".to_owned(), |v| format!("unknown version {v}")),
            }),
        }
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
        let entry: Option<Entry> = self.pick("organizations", &target.store_key())?;
        Ok(entry.filter(|e| e.serves(target)).map(|e| Credential { pat: e.pat, meta: e.meta }))
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
        self.pick("tokens", key)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(text: &str) -> (tempfile::TempDir, FileStore) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("credentials.json");
        std::fs::write(&path, text).expect("write");
        #[cfg(unix)]
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("mode");
        (dir, FileStore::new(path))
    }

    #[test]
    fn get_builds_the_one_entry_it_looks_up_among_many() {
        let mut orgs: Vec<String> =
            (0..300).map(|i| format!(r#""org{i}": {{"pat": "p{i}", "stored_at": {i}}}"#)).collect();
        // Another org's entry that is not an entry at all does not stop a lookup.
        orgs.push(r#""broken": [1, {"x": "\u00e9"}, null]"#.to_owned());
        let text = format!(
            r#"{{"version": 1, "extra": {{"a": [1, 2]}}, "organizations": {{{}}}, "tokens": {{"k": "t", "j": "u"}}}}"#,
            orgs.join(",")
        );
        let (_dir, store) = store_with(&text);
        let got = store.get(&Target::org("org123").expect("org")).expect("read").expect("found");
        assert_eq!((got.pat.expose(), got.meta.stored_at), ("p123", 123));
        assert!(store.get(&Target::org("org999").expect("org")).expect("read").is_none());
        assert_eq!(store.get_token("j").expect("read").map(|t| t.expose().to_owned()), Some("u".into()));
        assert!(store.get_token("nope").expect("read").is_none());
    }

    #[test]
    fn a_lookup_still_refuses_a_file_that_is_not_the_document() {
        for text in [
            r#"{"version": 2, "organizations": {}}"#,
            r#"{"organizations": {}}"#,
            r#"{"version": 1, "organizations": {"a": {"pat": "p", "stored_at": 1}}"#,
            r#"{"version": 1} trailing"#,
            r#"[1]"#,
        ] {
            let (_dir, store) = store_with(text);
            let got = store.get(&Target::org("a").expect("org"));
            assert!(matches!(got, Err(Error::Corrupt { .. })), "{text}: {:?}", got.map(|c| c.is_some()));
        }
    }
}
