//! The file store's organizations, one private file each, so that a lookup reads one small file
//! whatever the number of organizations: `<store file>.d/<name>.json`, where the name is the
//! SHA-256 of the organization's store key in hex (any key, a Server collection's URL included,
//! gives a fixed-length name with no path in it), and the file holds that key with the PAT and
//! its metadata. Files are written whole and atomically under the store's lock and read without
//! one, checked as every private file is ([`crate::fs::read_private`]: the directory the user's
//! own and not writable by others, the file a regular one of the user's that others cannot read,
//! no link followed, nothing planted there blocks).

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{jsonfile, Error};
use crate::fs;

/// The directory of one store's organization files.
pub struct OrgFiles {
    dir: PathBuf,
}

/// One organization's file: its key and its entry (the entry's fields beside the key).
#[derive(Deserialize)]
struct OrgFile<E> {
    version: u32,
    key: String,
    #[serde(flatten)]
    entry: E,
}

#[derive(Serialize)]
struct OrgFileRef<'a, E> {
    version: u32,
    key: &'a str,
    #[serde(flatten)]
    entry: &'a E,
}

impl OrgFiles {
    /// The organization files of the store in `store_file`: the directory `<store_file>.d`.
    pub fn beside(store_file: &Path) -> OrgFiles {
        let mut dir = store_file.as_os_str().to_owned();
        dir.push(".d");
        OrgFiles { dir: PathBuf::from(dir) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of the organization stored under `key`.
    pub fn path(&self, key: &str) -> PathBuf {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
        // Hex by hand: `format!` per byte was 22,000 instructions of a 390,000-instruction `get`.
        let mut name = String::with_capacity(2 * digest.as_ref().len() + 5);
        for b in digest.as_ref() {
            name.push(char::from(HEX[usize::from(b >> 4)]));
            name.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        name.push_str(".json");
        self.dir.join(name)
    }

    /// The entry stored under `key`, or `None` when it has no file. A file that is not one
    /// organization's file, or that holds another key than its name says, is an error.
    pub fn read<E: DeserializeOwned>(&self, key: &str) -> Result<Option<E>, Error> {
        let path = self.path(key);
        let Some(file) = jsonfile::read_seed(&path, PhantomData::<OrgFile<E>>)? else { return Ok(None) };
        check(&path, &file, Some(key))?;
        Ok(Some(file.entry))
    }

    /// Write the entry under `key` (the caller holds the store's lock).
    pub fn write<E: Serialize>(&self, key: &str, entry: &E) -> Result<(), Error> {
        let path = self.path(key);
        fs::remove_stale_temp_files(&path);
        jsonfile::write_locked(&path, &OrgFileRef { version: 1, key, entry })
    }

    /// Remove the file of `key` (the caller holds the store's lock); whether there was one.
    pub fn remove(&self, key: &str) -> Result<bool, Error> {
        Ok(fs::remove_private(&self.path(key))?)
    }

    /// Every organization's key and entry, in no particular order. Temporary files of writers
    /// (`.tmp-…`) are not entries; any other file is read and checked as [`OrgFiles::read`] does.
    pub fn all<E: DeserializeOwned>(&self) -> Result<Vec<(String, E)>, Error> {
        match fs::check_dir(&self.dir) {
            Err(fs::Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            checked => checked?,
        }
        let listing =
            std::fs::read_dir(&self.dir).map_err(|source| fs::Error::Io { path: self.dir.clone(), source })?;
        let mut found = Vec::new();
        for item in listing {
            let item = item.map_err(|source| fs::Error::Io { path: self.dir.clone(), source })?;
            if item.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = item.path();
            // Gone since the listing (removed by a writer): not an entry any more.
            let Some(file) = jsonfile::read_seed(&path, PhantomData::<OrgFile<E>>)? else { continue };
            check(&path, &file, None)?;
            if path != self.path(&file.key) {
                return Err(corrupt(&path, "its name is not its organization's"));
            }
            found.push((file.key, file.entry));
        }
        Ok(found)
    }
}

fn check<E>(path: &Path, file: &OrgFile<E>, key: Option<&str>) -> Result<(), Error> {
    if file.version != 1 {
        return Err(corrupt(path, &format!("unknown version {}", file.version)));
    }
    if key.is_some_and(|k| k != file.key) {
        return Err(corrupt(path, "it holds another organization's entry"));
    }
    Ok(())
}

fn corrupt(path: &Path, detail: &str) -> Error {
    Error::Corrupt { path: path.to_owned(), detail: detail.to_owned() }
}
