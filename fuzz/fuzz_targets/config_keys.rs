//! Every setting's parser (`config::keys`) on any text: never a panic; a refusal says why in
//! printable words; an accepted value keeps its parser's promise (bounds, absolute paths, instances
//! and collections that read back as themselves). Then the same text through the settings as
//! git config gives them (`KEY\nVALUE`) and as the setting's variable: a clean error or settings.
//! Input: a key on the first line (`azdo.timeout`), the value after it.
#![no_main]

use std::time::Duration;

use git_credential_azdo::config::keys::{self, Key, Why};
use git_credential_azdo::config::{Environment, GitConfig, SETTINGS};
use git_credential_azdo::org::{ServiceUrl, Target};
use git_credential_azdo_fuzz::assert_printable;
use libfuzzer_sys::fuzz_target;

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// The parser's value; panics if its refusal is not printable.
fn parse<T>(key: &Key<T>, value: &str) -> Option<T> {
    match (key.parse)(value) {
        Ok(v) => Some(v),
        Err(Why(why)) => {
            assert_printable(key.setting.key, &why);
            None
        }
    }
}

fn is_tenant_like(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

fn check_parsers(v: &str) {
    if parse(&keys::STORE, v).is_some() {
        assert!(matches!(v.trim(), "keyring" | "file"), "{v:?}");
    }
    if let Some(path) = parse(&keys::STORE_FILE, v) {
        assert!(path.is_absolute(), "{path:?}");
    }
    parse(&keys::INTERACTIVE, v);
    for key in [&keys::KEYRING_TIMEOUT, &keys::TIMEOUT, &keys::CONNECT_TIMEOUT] {
        if let Some(d) = parse(key, v) {
            assert!(!d.is_zero() && d <= YEAR, "{}: {d:?}", key.setting.key);
        }
    }
    if let Some(Some(d)) = parse(&keys::VALIDATE_INTERVAL, v) {
        assert!(d <= YEAR, "{d:?}");
    }
    if let Some(url) = parse(&keys::URL, v) {
        assert_eq!(ServiceUrl::parse(&url.base()).as_ref(), Ok(&url));
    }
    if let Some(target) = parse(&keys::SERVER, v) {
        assert!(target.is_server());
        assert_eq!(Target::server(target.name()).as_ref(), Ok(&target));
    }
    for key in [&keys::VSSPS_URL, &keys::AUTHORITY] {
        if let Some(origin) = parse(key, v) {
            assert!(origin.starts_with("https://") || origin.starts_with("http://"), "{origin:?}");
            assert_eq!(parse(key, &origin).as_ref(), Some(&origin), "an origin reads back as itself");
        }
    }
    parse(&keys::MINT, v);
    parse(&keys::TOKEN_SOURCE, v);
    for key in [&keys::CLIENT_ID, &keys::TENANT] {
        if let Some(id) = parse(key, v) {
            assert!(is_tenant_like(&id), "{}: {id:?}", key.setting.key);
        }
    }
    if let Some(scope) = parse(&keys::SCOPE, v) {
        assert!(!scope.is_empty() && !scope.contains("  ") && scope.trim() == scope, "{scope:?}");
        assert_eq!(parse(&keys::SCOPE, &scope).as_ref(), Some(&scope));
    }
    for key in [&keys::PAT_LIFETIME, &keys::RENEW_BEFORE] {
        if let Some(days) = parse(key, v) {
            assert!(days <= 3650, "{}: {days}", key.setting.key);
        }
    }
    parse(&keys::CREDENTIAL_TYPE, v);
}

/// Settings for an org from `config` and `env`, the build identities' too: a clean error or
/// settings.
fn check_settings(config: GitConfig, env: Environment) {
    if let Err(e) = git_credential_azdo::fuzzing::settings(config, env) {
        assert_printable("a settings error", &e);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (key, value) = text.split_once('\n').unwrap_or((&text, ""));
    check_parsers(value);
    check_settings(GitConfig::parse_z(format!("{key}\n{value}\0").as_bytes()), Environment::default());
    if let Some(setting) = SETTINGS.iter().find(|s| s.key.eq_ignore_ascii_case(key)) {
        check_settings(GitConfig::default(), Environment::from_pairs([(setting.env, value)]));
    }
});
