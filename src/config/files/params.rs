//! Config from git's command line (`git -c`, `--config-env`) as git hands it to the programs it
//! starts, read as git 2.47 reads it: `GIT_CONFIG_COUNT` pairs (`GIT_CONFIG_KEY_<n>`,
//! `GIT_CONFIG_VALUE_<n>`), then `GIT_CONFIG_PARAMETERS` (shell-quoted `'key'='value'`, `'key'=`
//! for a bare key, or the old `'key=value'`). Keys are checked and case-folded as git does; what
//! git would reject declines.

use super::parse::{is_key_char, is_space, Entry};
use super::{decline, Decline, Env};

/// How many `GIT_CONFIG_COUNT` pairs are read here at most.
const MAX_COUNT: usize = 1000;

/// The command line's entries, in git's order.
pub fn entries(env: Env) -> Result<Vec<Entry>, Decline> {
    let mut entries = Vec::new();
    if let Some(count) = env("GIT_CONFIG_COUNT") {
        let count =
            count.to_str().filter(|c| c.bytes().all(|b| b.is_ascii_digit())).ok_or(decline("GIT_CONFIG_COUNT"))?;
        let count: usize = if count.is_empty() { 0 } else { count.parse().map_err(|_| decline("GIT_CONFIG_COUNT"))? };
        if count > MAX_COUNT {
            return Err(decline("GIT_CONFIG_COUNT"));
        }
        for i in 0..count {
            let key = env(&format!("GIT_CONFIG_KEY_{i}")).ok_or(decline("a missing GIT_CONFIG_KEY"))?;
            let value = env(&format!("GIT_CONFIG_VALUE_{i}")).ok_or(decline("a missing GIT_CONFIG_VALUE"))?;
            entries.push((canonical(key.as_encoded_bytes())?, Some(value.as_encoded_bytes().to_vec())));
        }
    }
    if let Some(list) = env("GIT_CONFIG_PARAMETERS") {
        parameters(list.as_encoded_bytes(), &mut entries)?;
    }
    Ok(entries)
}

/// `'key'='value' ...`, separated by blanks.
fn parameters(mut rest: &[u8], entries: &mut Vec<Entry>) -> Result<(), Decline> {
    let bogus = || decline("a GIT_CONFIG_PARAMETERS git would refuse");
    while !rest.is_empty() {
        let (key, after) = dequote(rest).ok_or_else(bogus)?;
        rest = match after {
            // The old form, 'key=value'.
            None => {
                entries.push(old_form(&key)?);
                &[]
            }
            Some(after) if is_space(after[0]) => {
                entries.push(old_form(&key)?);
                after
            }
            Some([b'=', after @ ..]) => match after {
                [b'\'', ..] => {
                    let (value, after) = dequote(after).ok_or_else(bogus)?;
                    let after = after.unwrap_or(&[]);
                    if after.first().is_some_and(|c| !is_space(*c)) {
                        return Err(bogus());
                    }
                    entries.push((canonical(&key)?, Some(value)));
                    after
                }
                [] => {
                    entries.push((canonical(&key)?, None));
                    after
                }
                [c, ..] if is_space(*c) => {
                    entries.push((canonical(&key)?, None));
                    after
                }
                _ => return Err(bogus()),
            },
            Some(_) => return Err(bogus()),
        };
        while let [c, after @ ..] = rest {
            if !is_space(*c) {
                break;
            }
            rest = after;
        }
    }
    Ok(())
}

/// One single-quoted word at the start of `text` (`'\''` and `'\!'` join quoted parts) and what
/// follows it (`None` at the end of the text).
fn dequote(text: &[u8]) -> Option<(Vec<u8>, Option<&[u8]>)> {
    let mut rest = text.strip_prefix(b"'")?;
    let mut word = Vec::new();
    loop {
        let (&c, after) = rest.split_first()?;
        rest = after;
        if c != b'\'' {
            word.push(c);
            continue;
        }
        match rest {
            [] => return Some((word, None)),
            [b'\\', quoted @ (b'\'' | b'!'), b'\'', after @ ..] => {
                word.push(*quoted);
                rest = after;
            }
            _ => return Some((word, Some(rest))),
        }
    }
}

/// `key=value` (or `key` alone, a bare key) in one quoted word.
fn old_form(text: &[u8]) -> Result<Entry, Decline> {
    let (key, value) = match text.iter().position(|c| *c == b'=') {
        Some(at) => (&text[..at], Some(text[at + 1..].to_vec())),
        None => (text, None),
    };
    let start = key.iter().position(|c| !is_space(*c)).unwrap_or(key.len());
    let end = key.iter().rposition(|c| !is_space(*c)).map_or(start, |e| e + 1);
    Ok((canonical(&key[start..end])?, value))
}

/// A command-line key as git stores it: section and name checked and lower-cased, the
/// subsection (between the first and the last dot) kept as given.
pub fn canonical(key: &[u8]) -> Result<Vec<u8>, Decline> {
    let bad = || decline("a command-line key git would refuse");
    let last = key.iter().rposition(|c| *c == b'.').filter(|at| *at > 0 && *at + 1 < key.len()).ok_or_else(bad)?;
    let first = key.iter().position(|c| *c == b'.').unwrap_or(last);
    let mut out = Vec::with_capacity(key.len());
    for (i, &c) in key.iter().enumerate() {
        if i < first || i > last {
            if !is_key_char(c) || (i == last + 1 && !c.is_ascii_alphabetic()) {
                return Err(bad());
            }
            out.push(c.to_ascii_lowercase());
        } else if c == b'\n' {
            return Err(bad());
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn read(vars: &[(&str, &str)]) -> Result<Vec<(String, Option<String>)>, Decline> {
        let env = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| OsString::from(v));
        entries(&env).map(|entries| {
            entries
                .into_iter()
                .map(|(k, v)| {
                    (String::from_utf8_lossy(&k).into_owned(), v.map(|v| String::from_utf8_lossy(&v).into_owned()))
                })
                .collect()
        })
    }

    fn pair(k: &str, v: Option<&str>) -> (String, Option<String>) {
        (k.to_owned(), v.map(str::to_owned))
    }

    #[test]
    fn reads_both_forms_in_gits_order() {
        let vars = [
            (
                "GIT_CONFIG_PARAMETERS",
                "'Azdo.Interactive'='no' 'credential.HTTPS://X.helper'= 'a.b=c'  'x.it'\\''s.K'='it'\\''s'",
            ),
            ("GIT_CONFIG_COUNT", "1"),
            ("GIT_CONFIG_KEY_0", "azdo.Store"),
            ("GIT_CONFIG_VALUE_0", ""),
        ];
        assert_eq!(
            read(&vars),
            Ok(vec![
                pair("azdo.store", Some("")),
                pair("azdo.interactive", Some("no")),
                pair("credential.HTTPS://X.helper", None),
                pair("a.b", Some("c")),
                pair("x.it's.k", Some("it's")),
            ])
        );
    }

    #[test]
    fn declines_what_git_refuses() {
        for vars in [
            &[("GIT_CONFIG_PARAMETERS", "'a.b'x")][..],
            &[("GIT_CONFIG_PARAMETERS", "a.b=c")],
            &[("GIT_CONFIG_PARAMETERS", "'a.1b=c'")],
            &[("GIT_CONFIG_PARAMETERS", "'ab=c'")],
            &[("GIT_CONFIG_PARAMETERS", "'a.b'='c")],
            &[("GIT_CONFIG_COUNT", "1")],
            &[("GIT_CONFIG_COUNT", "x")],
        ] {
            assert!(read(vars).is_err(), "{vars:?}");
        }
    }
}
