//! Loading git's configuration for a run: from the config cache ([`super::cache`]) when no config
//! file changed, else from git ([`super::git`]), and caching what git gave once the request turns
//! out to be ours. The one place that knows both the snapshot and the cache.

use std::path::PathBuf;

use super::git::{is_relevant, GitConfig};

/// A pending write of the config cache (see [`GitConfig::load_readonly_with_save`]).
pub struct CacheSave(Option<(String, i64, Vec<PathBuf>)>);

impl CacheSave {
    /// Cache the relevant entries of `config`, if it came from git.
    pub fn remember(self, config: &GitConfig) {
        if let Some((key, now, files)) = self.0 {
            let cacheable = GitConfig {
                entries: config.entries.iter().filter(|(k, _)| is_relevant(k)).cloned().collect(),
                complete: false,
            };
            super::cache::save(key, now, &cacheable, &files);
        }
    }
}

impl GitConfig {
    /// The configuration for this directory: from the cache when nothing changed (no process at
    /// all), else from one `git config --list --show-origin`. A missing git or a broken config
    /// yields an empty snapshot (git itself reports broken config to the user).
    pub fn load() -> GitConfig {
        let (config, save) = GitConfig::load_readonly_with_save();
        save.remember(&config);
        config
    }

    /// Like [`GitConfig::load`], but writes no cache yet: the returned [`CacheSave`] does, once
    /// the request turned out to be ours (nothing is written for other hosts).
    pub fn load_readonly_with_save() -> (GitConfig, CacheSave) {
        let key = super::cache::current_key();
        let now = crate::time::now();
        if let Some(hit) = key.as_deref().and_then(|k| super::cache::lookup(k, now)) {
            tracing::debug!("git config from the cache");
            return (hit, CacheSave(None));
        }
        let (config, files) = GitConfig::read_from_git();
        // Only file-based config can be checked for changes later.
        let save = match (key, files) {
            (Some(key), Some(files)) => CacheSave(Some((key, now, files))),
            _ => CacheSave(None),
        };
        (config, save)
    }
}
