//! A JSON document in a private file ([`crate::fs`]): read without a lock (writes are atomic),
//! updated under an exclusive lock with read-modify-write. A corrupt or loosely-permissioned file
//! is an error and is never overwritten. What was read or written is wiped from memory after.

use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroize;

use super::Error;
use crate::fs::{self, Durability};

/// Read the document, or its default when the file does not exist.
pub fn read<T: DeserializeOwned + Default>(path: &Path) -> Result<T, Error> {
    let Some(mut bytes) = fs::read_private(path)? else { return Ok(T::default()) };
    // serde_json's message may quote file content (a PAT): report only where and what kind.
    let parsed = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
        path: path.to_owned(),
        detail: format!("{:?} error at line {} column {}", e.classify(), e.line(), e.column()),
    });
    bytes.zeroize();
    parsed
}

/// Apply `change` to the document under an exclusive lock (waited for at most `limit`) and write
/// it back atomically; when `change` fails, nothing is written.
pub fn update<T, R>(path: &Path, limit: Duration, change: impl FnOnce(&mut T) -> Result<R, Error>) -> Result<R, Error>
where
    T: DeserializeOwned + Serialize + Default,
{
    let lock = fs::lock(&fs::lock_path(path), Some(limit))?;
    fs::remove_stale_temp_files(path);
    let mut doc: T = read(path)?;
    // A change that fails leaves the file exactly as it was.
    let result = change(&mut doc)?;
    let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|e| fs::Error::Io {
        path: path.to_owned(),
        source: std::io::Error::other(format!("cannot serialise: {:?}", e.classify())),
    })?;
    bytes.push(b'\n');
    let written = fs::write_private(path, &bytes, Durability::Synced);
    bytes.zeroize();
    written?;
    // Dropping `lock` releases it; so does the death of this process.
    drop(lock);
    Ok(result)
}
