//! The file store (opt-in, for headless machines): each organization's PAT and metadata in a file
//! of its own ([`super::orgfiles`]: `<store file>.d/`, so a lookup reads one small file whatever
//! the number of organizations), sign-in secrets in the store file itself, every file mode 0600,
//! written atomically under one lock. Organizations that an earlier version kept in the store
//! file are moved to their own files by the first change made under the lock, and are read from
//! the store file until then.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::orgfiles::OrgFiles;
use super::{jsonfile, Credential, Error, Metadata, Store, TokenStore};
use crate::org::{ServiceUrl, Target};
use crate::secret::Secret;

pub struct FileStore {
    path: PathBuf,
    /// Each organization's file.
    orgs: OrgFiles,
    /// The Services origin its organizations are on.
    origin: ServiceUrl,
    /// How long a change waits for another process's lock (a stopped holder must not hang git).
    lock_timeout: Duration,
}

#[derive(Serialize, Deserialize)]
struct Document {
    version: u32,
    /// Organizations as versions before one file per organization kept them: moved out by the
    /// first change ([`FileStore::migrate`]), empty after.
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

impl FileStore {
    /// The store in the file `path`, for organizations of dev.azure.com.
    pub fn new(path: PathBuf) -> Self {
        let orgs = OrgFiles::beside(&path);
        FileStore { path, orgs, origin: ServiceUrl::default(), lock_timeout: Duration::from_secs(10) }
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
    /// building the others.
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

    /// The entry stored under `key`: its own file, else (a store not yet moved to one file per
    /// organization) the store file's; and when neither has it, its own file once more, which a
    /// move that finished between the two reads has written (a move writes every organization's
    /// file before it empties the store file's map).
    fn entry(&self, key: &str) -> Result<Option<Entry>, Error> {
        if let Some(entry) = self.orgs.read(key)? {
            return Ok(Some(entry));
        }
        if let Some(entry) = self.pick("organizations", key)? {
            return Ok(Some(entry));
        }
        self.orgs.read(key)
    }

    /// Whether anything of the store exists on disk (a change of nothing creates nothing).
    fn exists(&self) -> bool {
        self.path.exists() || self.orgs.dir().exists()
    }

    /// Run `change` under the store's lock, after moving organizations still in the store file
    /// to their own files.
    fn locked<R>(&self, change: impl FnOnce() -> Result<R, Error>) -> Result<R, Error> {
        let lock = crate::fs::lock(&crate::fs::lock_path(&self.path), Some(self.lock_timeout))?;
        self.migrate()?;
        let result = change()?;
        drop(lock);
        Ok(result)
    }

    /// Move the organizations of the store file (as versions before one file per organization
    /// kept them) to their own files, then empty its map: each file is written (atomically,
    /// synced) before the store file drops its entry, so a reader finds every organization in
    /// one place or the other at any moment. An entry in both is the store file's (an earlier
    /// version wrote it since). Under the lock; nothing to do in a store already moved.
    fn migrate(&self) -> Result<(), Error> {
        let mut doc = self.read()?;
        if doc.organizations.is_empty() {
            return Ok(());
        }
        for (key, entry) in &doc.organizations {
            self.orgs.write(key, entry)?;
        }
        tracing::debug!(moved = doc.organizations.len(), "moved the store file's organizations to their own files");
        doc.organizations.clear();
        jsonfile::update_locked(&self.path, |stored: &mut Document| {
            *stored = doc;
            Ok(())
        })
    }

    /// The entry for `target` as stored now (the caller holds the lock, after [`Self::migrate`]).
    fn own_entry(&self, target: &Target) -> Result<Option<Entry>, Error> {
        Ok(self.orgs.read::<Entry>(&target.store_key())?.filter(|e| e.serves(target)))
    }
}

impl Store for FileStore {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn get(&self, target: &Target) -> Result<Option<Credential>, Error> {
        let entry = self.entry(&target.store_key())?;
        Ok(entry.filter(|e| e.serves(target)).map(|e| Credential { pat: e.pat, meta: e.meta }))
    }

    fn put(&self, target: &Target, credential: &Credential) -> Result<(), Error> {
        let service = match target {
            Target::Services { origin, .. } => Some(origin.base()),
            Target::Server { .. } => None,
        };
        let entry = Entry { pat: credential.pat.clone(), service, meta: credential.meta.clone() };
        // What is there is read first: a file that is not an organization's is left as it is.
        self.locked(|| {
            self.orgs.read::<Entry>(&target.store_key())?;
            self.orgs.write(&target.store_key(), &entry)
        })
    }

    fn set_metadata(&self, target: &Target, meta: &Metadata) -> Result<bool, Error> {
        if !self.exists() {
            return Ok(false);
        }
        self.locked(|| match self.own_entry(target)? {
            Some(mut entry) => {
                entry.meta = meta.clone();
                self.orgs.write(&target.store_key(), &entry).map(|()| true)
            }
            None => Ok(false),
        })
    }

    fn delete(&self, target: &Target) -> Result<bool, Error> {
        if !self.exists() {
            return Ok(false);
        }
        self.locked(|| match self.own_entry(target)? {
            Some(_) => self.orgs.remove(&target.store_key()),
            None => Ok(false),
        })
    }

    fn delete_if(&self, target: &Target, pat: &Secret) -> Result<bool, Error> {
        if !self.exists() {
            return Ok(false);
        }
        self.locked(|| match self.own_entry(target)? {
            Some(e) if &e.pat == pat => self.orgs.remove(&target.store_key()),
            _ => Ok(false),
        })
    }

    fn set_metadata_if(&self, target: &Target, pat: &Secret, meta: &Metadata) -> Result<bool, Error> {
        if !self.exists() {
            return Ok(false);
        }
        self.locked(|| match self.own_entry(target)? {
            Some(mut entry) if &entry.pat == pat => {
                entry.meta = meta.clone();
                self.orgs.write(&target.store_key(), &entry).map(|()| true)
            }
            _ => Ok(false),
        })
    }

    fn list(&self) -> Result<Vec<(Target, Metadata)>, Error> {
        // The store file's organizations (a store not yet moved), then their own files', which
        // win; sorted by key.
        let mut all: BTreeMap<String, Entry> = self.read()?.organizations;
        all.extend(self.orgs.all::<Entry>()?);
        Ok(all
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
        self.locked(|| {
            jsonfile::update_locked(&self.path, |doc: &mut Document| {
                doc.tokens.insert(key.to_owned(), token);
                Ok(())
            })
        })
    }

    fn delete_token(&self, key: &str) -> Result<bool, Error> {
        if !self.path.exists() {
            return Ok(false);
        }
        self.locked(|| jsonfile::update_locked(&self.path, |doc: &mut Document| Ok(doc.tokens.remove(key).is_some())))
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
