//! Where each setting's text comes from: its environment variable, else git config (URL-matched
//! for URL-scoped keys), else its default from the key table, parsed by the key's parser.

use super::keys::{Alias, Key, Setting, Why};
use super::{Env, Error, GitConfig};
use crate::text::printable;

/// Where each setting's text comes from: its variable, else git config (URL-matched against the
/// target's URL for URL-scoped keys). A bare boolean key reads as `true`.
pub struct Source<'a> {
    pub config: &'a GitConfig,
    pub env: Env<'a>,
    pub url: Option<&'a str>,
}

impl Source<'_> {
    fn text(&self, setting: &Setting) -> Option<String> {
        if let Some(value) = (self.env)(setting.env) {
            return Some(value.to_string_lossy().into_owned());
        }
        match self.url.filter(|_| setting.url_scoped) {
            Some(url) => self.config.get_urlmatch(setting.key, url),
            None => self.config.get(setting.key),
        }
        .map(|v| v.unwrap_or("true").to_owned())
    }

    fn parse<T>(key: &Key<T>, value: &str) -> Result<T, Error> {
        // A secret's value is never shown, not even a wrong one.
        let secret = super::keys::SECRET_KEYS.contains(&key.setting.key);
        (key.parse)(value).map_err(|Why(why)| Error::Invalid {
            key: key.setting.key,
            value: if secret { "(hidden)".to_owned() } else { printable(value.trim()) },
            why: why.into_owned(),
        })
    }

    /// The setting's value, or its default.
    pub fn get<T>(&self, key: &Key<T>) -> Result<T, Error> {
        Source::parse(key, &self.text(&key.setting).unwrap_or_else(|| key.setting.default.to_owned()))
    }

    /// The setting's value, or `None` when it is not set (its default is described, not a value).
    pub fn get_opt<T>(&self, key: &Key<T>) -> Result<Option<T>, Error> {
        self.text(&key.setting).map(|v| Source::parse(key, &v)).transpose()
    }

    /// The text of Git Credential Manager's setting `alias` names: its variable, else its
    /// `credential.*` key (URL-matched against the target's URL, as GCM reads it).
    pub fn alias_text(&self, alias: &Alias) -> Option<String> {
        if let Some(v) = (self.env)(alias.env).filter(|v| !v.is_empty()) {
            return Some(v.to_string_lossy().into_owned());
        }
        match self.url {
            Some(url) => self.config.get_urlmatch(alias.key, url),
            None => self.config.get(alias.key),
        }
        .map(|v| v.unwrap_or("true").to_owned())
    }

    /// The setting's value; when it is not set, the value of Git Credential Manager's setting
    /// for the same thing (recorded in `used`: `doctor` says which alias it read).
    pub fn get_opt_or_alias<T>(&self, key: &Key<T>, used: &mut Vec<String>) -> Result<Option<T>, Error> {
        let alias = super::keys::gcm_alias(key.setting.key);
        match alias {
            Some(alias) if self.text(&key.setting).is_none() => {
                let Some(value) = self.alias_text(alias) else { return Ok(None) };
                let from_env = (self.env)(alias.env).is_some_and(|v| !v.is_empty());
                used.push(format!("{} for {}", if from_env { alias.env } else { alias.key }, key.setting.key));
                let secret = super::keys::SECRET_KEYS.contains(&key.setting.key);
                (key.parse)(&value).map(Some).map_err(|Why(why)| Error::Invalid {
                    key: alias.key,
                    value: if secret { "(hidden)".to_owned() } else { printable(value.trim()) },
                    why: why.into_owned(),
                })
            }
            _ => self.get_opt(key),
        }
    }

    /// [`Source::get_opt_or_alias`], or the default.
    pub fn get_or_alias<T>(&self, key: &Key<T>, used: &mut Vec<String>) -> Result<T, Error> {
        match self.get_opt_or_alias(key, used)? {
            Some(v) => Ok(v),
            None => self.get(key),
        }
    }

    /// Every value of a multi-valued setting (the variable holds them separated by spaces).
    pub fn get_all<T>(&self, key: &Key<T>) -> Result<Vec<T>, Error> {
        let values: Vec<String> = match (self.env)(key.setting.env) {
            Some(v) => v.to_string_lossy().split_whitespace().map(str::to_owned).collect(),
            None => self.config.get_all(key.setting.key).into_iter().map(str::to_owned).collect(),
        };
        values.iter().map(|v| Source::parse(key, v)).collect()
    }
}
