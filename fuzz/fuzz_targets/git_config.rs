//! The git config snapshot (`GitConfig::parse_z_with_origins`, `get_urlmatch`) on any bytes and
//! any URL: never a panic; a matched value is a value of the config; with no URL-scoped entry
//! for a key, matching any URL gives the plain key's value. Input: the URL on the first line,
//! then `git config -z --list --show-origin` output.
#![no_main]

use git_credential_azdo::config::GitConfig;
use libfuzzer_sys::fuzz_target;

const KEYS: &[&str] = &["azdo.interactive", "azdo.validateInterval", "credential.interactive", "http.proxy"];

fuzz_target!(|data: &[u8]| {
    let (url, raw) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (String::from_utf8_lossy(&data[..i]), &data[i + 1..]),
        None => (String::from_utf8_lossy(data), &b""[..]),
    };
    let (config, origins) = GitConfig::parse_z_with_origins(raw);
    for (i, o) in origins.iter().enumerate() {
        assert!(!origins[..i].contains(o), "origin {o:?} listed twice");
    }
    // The keys above, and whatever key the config itself names first.
    let first = config.entries().first().map(|(k, _)| k.clone());
    for key in KEYS.iter().copied().chain(first.as_deref()) {
        let Some((section, name)) = key.split_once('.') else { continue };
        let name = name.rsplit_once('.').map_or(name, |(_, n)| n);
        let matched = config.get_urlmatch(&format!("{section}.{name}"), &url);
        if let Some(value) = matched {
            assert!(config.entries().iter().any(|(_, v)| v.as_deref() == value), "{value:?} is no value of the config");
        }
        let scoped = config.entries().iter().any(|(k, _)| {
            k.split_once('.').is_some_and(|(s, rest)| {
                s.eq_ignore_ascii_case(section)
                    && rest.rsplit_once('.').is_some_and(|(sub, n)| !sub.is_empty() && n.eq_ignore_ascii_case(name))
            })
        });
        if !scoped {
            assert_eq!(matched, config.get(&format!("{section}.{name}")), "{section}.{name} for {url:?}");
        }
    }
});
