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

use super::git::{holds_secret, GitConfig};

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
    let dir = std::env::current_dir().ok()?;
    Some(key_of(dir.as_os_str(), &|var| std::env::var_os(var)))
}

/// The key for directory `dir` and the environment `env`, lossless: names that are not UTF-8
/// are kept byte for byte (as hex), so two directories never share an entry.
fn key_of(dir: &std::ffi::OsStr, env: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> String {
    let mut raw = dir.as_encoded_bytes().to_vec();
    for var in KEY_VARS {
        raw.push(0);
        if let Some(value) = env(var) {
            raw.extend_from_slice(var.as_bytes());
            raw.push(b'=');
            raw.extend_from_slice(value.as_encoded_bytes());
        }
    }
    match String::from_utf8(raw) {
        Ok(text) => text,
        Err(e) => e.into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>() + "\0hex",
    }
}

/// Whether `key` names a program this helper runs or an endpoint credentials go to: never
/// cached, so a cache (even one that passed the checks) can never redirect them; they are
/// re-read from git.
fn names_program_or_endpoint(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower == "core.askpass"
        || ["azdo.url", "azdo.server", "azdo.vsspsurl", "azdo.authority", "azdo.imdsurl", "azdo.agent"]
            .contains(&lower.as_str())
}

/// A path git reported relative (`file:.git/config`, relative to the worktree's top level,
/// whatever the directory git runs in) as the file it is: found from the nearest ancestor of the
/// current directory holding `.git`, as git itself finds the repository.
fn resolve(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_owned();
    }
    let Ok(cwd) = std::env::current_dir() else { return path.to_owned() };
    cwd.ancestors().find(|dir| dir.join(".git").exists()).unwrap_or(&cwd).join(path)
}

/// The cache file; none under a relative cache directory (a relative HOME), which would be
/// inside whatever repository git runs in.
fn cache_path() -> Option<PathBuf> {
    Some(dirs::cache_dir().filter(|d| d.is_absolute())?.join("git-credential-azdo").join("config-cache.json"))
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
    usable(&entry, now).then_some(GitConfig { complete: false, entries: entry.config })
}

/// Whether an entry may answer at `now`: young enough (checked arithmetic: no wrap makes an old
/// entry look new), with the files it came from recorded and all unchanged, and holding nothing
/// that is never cached.
fn usable(entry: &Entry, now: i64) -> bool {
    let fresh = now.checked_sub(entry.created).is_some_and(|age| (0..=MAX_AGE).contains(&age));
    let unchanged = !entry.files.is_empty() && entry.files.iter().all(|f| stamp(&f.path) == f.stamp);
    fresh && unchanged && !entry.config.iter().any(|(k, _)| names_program_or_endpoint(k))
}

/// Remember `config` (already reduced to the relevant keys) for `key`, given the files it came from.
pub fn save(key: String, now: i64, config: &GitConfig, origins: &[PathBuf]) {
    if config.entries.iter().any(|(k, _)| names_program_or_endpoint(k)) {
        tracing::debug!("git config names a program or an endpoint; not cached");
        return;
    }
    if config.entries.iter().any(|(k, _)| holds_secret(k)) {
        tracing::debug!("git config holds a secret; not cached");
        return;
    }
    let mut paths: Vec<PathBuf> = origins.iter().map(|p| resolve(p)).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(created: i64, files: Vec<FileState>, config: &[(&str, &str)]) -> Entry {
        Entry {
            key: "k".into(),
            created,
            files,
            config: config.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect(),
        }
    }

    /// Hole 1: an entry never answers when it is too old (however its time is written), names
    /// no file, or holds a program or an endpoint.
    #[test]
    fn only_young_complete_harmless_entries_answer() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("config");
        std::fs::write(&file, "x").expect("write");
        let files = || vec![FileState { stamp: stamp(&file), path: file.clone() }];
        let now = 1_000_000;
        assert!(usable(&entry(now - 10, files(), &[("azdo.interactive", "false")]), now));
        assert!(!usable(&entry(now - MAX_AGE - 1, files(), &[]), now), "too old");
        assert!(!usable(&entry(i64::MIN, files(), &[]), now), "a wrapped age");
        assert!(!usable(&entry(now + 10, files(), &[]), now), "from the future");
        assert!(!usable(&entry(now, Vec::new(), &[]), now), "no file recorded");
        for key in ["core.askPass", "azdo.url", "azdo.vsspsUrl", "azdo.authority", "azdo.server"] {
            assert!(!usable(&entry(now, files(), &[(key, "x")]), now), "{key}");
        }
    }

    /// Hole 9: directory names that are not UTF-8 never share an entry.
    #[cfg(unix)]
    #[test]
    fn keys_keep_every_byte_of_the_directory() {
        use std::os::unix::ffi::OsStrExt;
        let env = |_: &str| None;
        let a = key_of(std::ffi::OsStr::from_bytes(b"/r/\xff"), &env);
        let b = key_of(std::ffi::OsStr::from_bytes(b"/r/\xfe"), &env);
        assert_ne!(a, b);
        assert_eq!(key_of(std::ffi::OsStr::new("/r/x"), &env), key_of(std::ffi::OsStr::new("/r/x"), &env));
    }
}
