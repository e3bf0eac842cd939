//! A JSON document in a private file ([`crate::fs`]): read without a lock (writes are atomic),
//! updated under an exclusive lock with read-modify-write. A corrupt or loosely-permissioned file
//! is an error and is never overwritten. What was read or written is wiped from memory after.

use std::marker::PhantomData;
use std::path::Path;
use std::time::Duration;

use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde::Serialize;
use zeroize::Zeroize;

use super::Error;
use crate::fs::{self, Durability};

/// Read the document, or its default when the file does not exist.
pub fn read<T: DeserializeOwned + Default>(path: &Path) -> Result<T, Error> {
    read_seed(path, std::marker::PhantomData::<T>).map(Option::unwrap_or_default)
}

/// Read the file with `seed` (which may build only part of the document); `None` when the file
/// does not exist.
pub fn read_seed<V, S>(path: &Path, seed: S) -> Result<Option<V>, Error>
where
    S: for<'de> serde::de::DeserializeSeed<'de, Value = V>,
{
    let Some(mut bytes) = fs::read_private(path)? else { return Ok(None) };
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    // serde_json's message may quote file content (a PAT): report only where and what kind.
    let parsed = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v)).map_err(|e| Error::Corrupt {
        path: path.to_owned(),
        detail: format!("{:?} error at line {} column {}", e.classify(), e.line(), e.column()),
    });
    bytes.zeroize();
    parsed.map(Some)
}

/// The entry under `key` of the document's map `map`, and the document's `version`, without
/// building the other entries: what a lookup needs from a store of any size. `None` when the
/// file does not exist.
pub fn pick<T: DeserializeOwned>(path: &Path, map: &'static str, key: &str) -> Result<Option<Picked<T>>, Error> {
    read_seed(path, Pick::<T> { map, key, found: PhantomData })
}

/// A reader of the document that builds one entry of one of its maps and skips the rest
/// unbuilt (serde's `IgnoredAny`); what it reads of the document's shape is checked as
/// strictly as [`Document`] does.
pub struct Pick<'k, T> {
    map: &'static str,
    key: &'k str,
    found: PhantomData<T>,
}

pub struct Picked<T> {
    pub version: Option<u32>,
    pub found: Option<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Pick<'_, T> {
    type Value = Picked<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Picked<T>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Pick<'_, T> {
    type Value = Picked<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("the store document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Picked<T>, A::Error> {
        let mut picked = Picked { version: None, found: None };
        while let Some(name) = map.next_key::<String>()? {
            if name == "version" {
                picked.version = Some(map.next_value()?);
            } else if name == self.map {
                picked.found = map.next_value_seed(Entries::<T> { key: self.key, found: PhantomData })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(picked)
    }
}

/// One map of the document: the value under `key` built, every other one skipped.
struct Entries<'k, T> {
    key: &'k str,
    found: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Entries<'_, T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Entries<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map of entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let mut found = None;
        while let Some(name) = map.next_key::<String>()? {
            if name == self.key {
                found = Some(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Apply `change` to the document under an exclusive lock (waited for at most `limit`) and write
/// it back atomically; when `change` fails, nothing is written.
pub fn update<T, R>(path: &Path, limit: Duration, change: impl FnOnce(&mut T) -> Result<R, Error>) -> Result<R, Error>
where
    T: DeserializeOwned + Serialize + Default,
{
    let lock = fs::lock(&fs::lock_path(path), Some(limit))?;
    let result = update_locked(path, change)?;
    // Dropping `lock` releases it; so does the death of this process.
    drop(lock);
    Ok(result)
}

/// [`update`] for a caller that already holds the document's lock.
pub fn update_locked<T, R>(path: &Path, change: impl FnOnce(&mut T) -> Result<R, Error>) -> Result<R, Error>
where
    T: DeserializeOwned + Serialize + Default,
{
    fs::remove_stale_temp_files(path);
    let mut doc: T = read(path)?;
    // A change that fails leaves the file exactly as it was.
    let result = change(&mut doc)?;
    write_locked(path, &doc)?;
    Ok(result)
}

/// Replace the file with `doc` (private, synced, atomically), for a caller that holds its lock.
/// The serialised copy is wiped after.
pub fn write_locked<T: Serialize>(path: &Path, doc: &T) -> Result<(), Error> {
    let mut bytes = serde_json::to_vec_pretty(doc).map_err(|e| fs::Error::Io {
        path: path.to_owned(),
        source: std::io::Error::other(format!("cannot serialise: {:?}", e.classify())),
    })?;
    bytes.push(b'\n');
    let written = fs::write_private(path, &bytes, Durability::Synced);
    bytes.zeroize();
    Ok(written?)
}
