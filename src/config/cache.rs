//! A cache of the few git config entries this helper reads, so that the hot path spawns no `git`.
//!
//! An entry is keyed by the directory and the environment variables that decide which config files
//! git reads. It records every file that gave an entry (from `--show-origin`) and the standard
//! user-level candidates, with their size, mtime and inode. It is used only while all of those are
//! unchanged (a `git config` write replaces the file, so it always shows) and for at most
//! [`MAX_AGE`] seconds, which bounds how long a newly created system or worktree config file can go
//! unseen. Command-line config (`git -c`) is never cached. Only non-secret keys are stored
//! ([`super::git::is_relevant`]); the file is private like every file of this helper ([`crate::fs`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::git::GitConfig;

/// Seconds an entry is trusted at most.
pub const MAX_AGE: i64 = 300;
const MAX_ENTRIES: usize = 32;
/// Variables that change which config files git reads, or mean config comes from the command line.
const KEY_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_COMMON_DIR",
    "GIT_WORK_TREE",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_CONFIG",
    "GIT_CEILING_DIRECTORIES",
    "HOME",
    "XDG_CONFIG_HOME",
];
const UNCACHEABLE_VARS: &[&str] = &["GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    size: u64,
    mtime_ns: i128,
    inode: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileState {
    path: PathBuf,
    /// `None`: the file did not exist.
    stamp: Option<Stamp>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    key: String,
    created: i64,
    files: Vec<FileState>,
    config: Vec<(String, Option<String>)>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    entries: Vec<Entry>,
}

/// What identifies one configuration context; `None` when config comes from the command line.
pub fn current_key() -> Option<String> {
    if UNCACHEABLE_VARS.iter().any(|v| std::env::var_os(v).is_some()) {
        return None;
    }
    let mut key = std::env::current_dir().ok()?.to_string_lossy().into_owned();
    for var in KEY_VARS {
        key.push('\0');
        if let Some(value) = std::env::var_os(var) {
            key.push_str(var);
            key.push('=');
            key.push_str(&value.to_string_lossy());
        }
    }
    Some(key)
}

fn cache_path() -> Option<PathBuf> {
    Some(dirs::cache_dir()?.join("git-credential-azdo").join("config-cache.json"))
}

pub fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128);
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp { size: meta.len(), mtime_ns, inode })
}

/// The user-level files git would read even when they do not exist yet.
fn candidates() -> Vec<PathBuf> {
    if let Some(global) = std::env::var_os("GIT_CONFIG_GLOBAL") {
        return vec![PathBuf::from(global)];
    }
    let mut files = Vec::new();
    let xdg =
        std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| dirs::home_dir().map(|h| h.join(".config")));
    if let Some(xdg) = xdg {
        files.push(xdg.join("git").join("config"));
    }
    if let Some(home) = dirs::home_dir() {
        files.push(home.join(".gitconfig"));
    }
    files
}

fn read() -> Option<CacheFile> {
    let bytes = crate::fs::read_private(&cache_path()?).ok().flatten()?;
    serde_json::from_slice::<CacheFile>(&bytes).ok().filter(|c| c.version == 1)
}

/// The cached config for `key`, if every recorded file is unchanged and the entry is young enough.
pub fn lookup(key: &str, now: i64) -> Option<GitConfig> {
    let cache = read()?;
    let entry = cache.entries.into_iter().find(|e| e.key == key)?;
    let fresh = now >= entry.created && now - entry.created <= MAX_AGE;
    let unchanged = entry.files.iter().all(|f| stamp(&f.path) == f.stamp);
    (fresh && unchanged).then_some(GitConfig { complete: false, entries: entry.config })
}

/// Remember `config` (already reduced to the relevant keys) for `key`, given the files it came from.
pub fn save(key: String, now: i64, config: &GitConfig, origins: &[PathBuf]) {
    let mut paths: Vec<PathBuf> = origins.to_vec();
    paths.extend(candidates());
    paths.sort();
    paths.dedup();
    let files = paths.into_iter().map(|path| FileState { stamp: stamp(&path), path }).collect();
    let mut cache = read().unwrap_or(CacheFile { version: 1, entries: Vec::new() });
    cache.entries.retain(|e| e.key != key);
    cache.entries.insert(0, Entry { key, created: now, files, config: config.entries.clone() });
    cache.entries.truncate(MAX_ENTRIES);
    if let Err(e) = write(&cache) {
        tracing::debug!(error = %e, "could not write the config cache");
    }
}

fn write(cache: &CacheFile) -> Result<(), crate::fs::Error> {
    let path = cache_path().ok_or_else(|| crate::fs::Error::Io {
        path: PathBuf::from("config-cache.json"),
        source: std::io::Error::other("no cache directory"),
    })?;
    let bytes = serde_json::to_vec(cache).map_err(|e| crate::fs::Error::Io {
        path: path.clone(),
        source: std::io::Error::other(format!("cannot serialise: {:?}", e.classify())),
    })?;
    crate::fs::write_private(&path, &bytes, crate::fs::Durability::Cache)
}
