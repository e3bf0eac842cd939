//! The one-pass reader against the reader it replaced: its own `validate`, then gix-credentials'
//! `Context::from_bytes`, then its own `extras` (kept here, for this comparison only). Over
//! generated git-like requests and any bytes, both give the same request or the same error.

use gix_credentials::protocol::{Context, ContextOptions};
use proptest::prelude::*;

use super::{parse_request, Error, Request, MAX_LINE};
use crate::secret::Secret;

/// The reader before the one-pass one, as it was.
fn old_parse_request(buf: &[u8]) -> Result<Request, Error> {
    let end = validate(buf)?;
    let ctx =
        Context::from_bytes(&buf[..end], ContextOptions { protect_protocol: true }).map_err(|_| Error::Malformed)?;
    let (authtype, ephemeral, pre_encoded) = extras(&buf[..end]);
    let Context { protocol, host, path, username, password, password_expiry_utc, www_authenticate, .. } = ctx;
    Ok(Request {
        protocol: protocol.ok_or(Error::Missing("protocol"))?,
        host: host.ok_or(Error::Missing("host"))?,
        path: path.map(|p| p.to_vec()).filter(|p| !p.is_empty()),
        username: username.filter(|u| !u.is_empty()),
        empty_password: password.as_ref().is_some_and(|p| p.is_empty()),
        password: password.map(Secret::from).filter(|p| !p.is_empty()),
        password_expiry_utc: password_expiry_utc.filter(|t| *t > 0),
        authtype,
        ephemeral,
        pre_encoded,
        wwwauth: www_authenticate.iter().filter_map(|v| super::wwwauth_value(v)).take(super::MAX_WWWAUTH).collect(),
    })
}

fn extras(buf: &[u8]) -> (bool, bool, bool) {
    let (mut authtype, mut ephemeral, mut pre_encoded) = (false, false, false);
    for line in buf.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(eq) = line.iter().position(|b| *b == b'=') else { continue };
        let (key, value) = (&line[..eq], &line[eq + 1..]);
        match key {
            b"capability[]" if value == b"authtype" => authtype = true,
            b"ephemeral" => ephemeral = crate::valid::bool_value(&String::from_utf8_lossy(value)).unwrap_or(true),
            b"authtype" | b"credential" => {
                pre_encoded = true;
                ephemeral |= !value.is_empty();
            }
            _ => {}
        }
    }
    (authtype, ephemeral, pre_encoded)
}

fn validate(buf: &[u8]) -> Result<usize, Error> {
    let mut pos = 0;
    for (n, raw) in buf.split_inclusive(|b| *b == b'\n').enumerate() {
        let line_no = n + 1;
        let start = pos;
        pos += raw.len();
        let mut line = raw.strip_suffix(b"\n").unwrap_or(raw);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Ok(start);
        }
        if line.len() > MAX_LINE {
            return Err(Error::LineTooLong { line: line_no });
        }
        let Some(eq) = line.iter().position(|b| *b == b'=') else {
            return Err(Error::NotKeyValue { line: line_no });
        };
        let (key, value) = (&line[..eq], &line[eq + 1..]);
        let key_text = crate::text::printable_bytes(key);
        if key.is_empty() || key.iter().any(|b| *b == 0 || *b == b'\r') {
            return Err(Error::NotKeyValue { line: line_no });
        }
        if value.contains(&0) {
            return Err(Error::BadValue { key: key_text, what: "a NUL byte" });
        }
        if value.contains(&b'\r') {
            return Err(Error::BadValue { key: key_text, what: "a carriage return" });
        }
        let must_be_utf8 = matches!(key, b"protocol" | b"host" | b"username" | b"password" | b"oauth_refresh_token");
        if must_be_utf8 && std::str::from_utf8(value).is_err() {
            return Err(Error::NotUtf8 { key: key_text });
        }
    }
    Ok(buf.len())
}

/// Both readers on `input`: the same request, or errors of the same kind and text.
fn same(input: &[u8]) -> Result<(), TestCaseError> {
    let shown = |r: Result<Request, Error>| r.map_err(|e| format!("{e:?} / {e}"));
    prop_assert_eq!(
        shown(parse_request(input)),
        shown(old_parse_request(input)),
        "{:?}",
        String::from_utf8_lossy(input)
    );
    Ok(())
}

/// Keys git sends, gix or this helper reads, or nobody does.
const KEYS: &[&str] = &[
    "protocol",
    "host",
    "path",
    "username",
    "password",
    "password_expiry_utc",
    "oauth_refresh_token",
    "url",
    "quit",
    "wwwauth[]",
    "capability[]",
    "state[]",
    "ephemeral",
    "authtype",
    "credential",
    "some_future_key",
    "Protocol",
    "",
];

/// Typical values: numbers for the expiry, booleans, the capability, a URL.
const VALUES: &[&str] = &[
    "https",
    "dev.azure.com",
    "contoso/p/_git/r",
    "",
    "0",
    "1",
    "-5",
    "+7",
    "1900000000",
    "99999999999999999999",
    "x1",
    "true",
    "no",
    "authtype",
    "Bearer",
    "https://u:p@h/x",
    "é",
    " 1 ",
];

/// A known key, or any bytes (not UTF-8, empty).
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(|k| k.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..6),
    ]
}

/// A typical value, any bytes, or any text with CRs and NULs.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(VALUES).prop_map(|v| v.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..12),
        1 => "[ -~\\r\\x00\\u{80}-\\u{10FFFF}]{0,12}".prop_map(String::into_bytes),
    ]
}

/// How a line ends: LF, CRLF, a lone CR, or not at all.
fn end() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(vec![&b"\n"[..], b"\n", b"\n", b"\r\n", b"\r", b""])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn the_one_pass_reader_reads_git_like_requests_as_before(
        lines in prop::collection::vec((key(), prop::option::weighted(0.95, Just(b'=')), value(), end()), 0..12),
        blank in prop::option::of(0usize..12),
        known_target in any::<bool>(),
    ) {
        // Half the requests name a target first, so that the fields after it are compared too.
        let mut input = if known_target { b"protocol=https\nhost=h\n".to_vec() } else { Vec::new() };
        for (i, (key, eq, value, end)) in lines.iter().enumerate() {
            if blank == Some(i) {
                input.extend_from_slice(b"\n");
            }
            input.extend_from_slice(key);
            input.extend(eq);
            input.extend_from_slice(value);
            input.extend_from_slice(end);
        }
        same(&input)?;
    }

    #[test]
    fn the_one_pass_reader_reads_any_bytes_as_before(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        same(&bytes)?;
    }
}

#[test]
fn the_corners_read_as_before() {
    for input in [
        &b"protocol=https\nhost=h\npath=a\npath=\n"[..],
        b"protocol=https\nhost=h\nhost=g\nusername=a\nusername=\n",
        b"protocol=https\nhost=h\npassword_expiry_utc=5\npassword_expiry_utc=x\n",
        b"protocol=https\nhost=h\npassword_expiry_utc=x\npassword_expiry_utc=+5\n",
        b"protocol=https\nhost=h\npassword=p\npassword=\n",
        b"url=https://u@dev.azure.com/contoso\n",
        b"protocol=https\nhost=h\nurl=https://other.example/x\n",
        b"protocol=https\nhost=h\r",
        b"protocol=https\nhost=h\n\r",
        b"protocol=https\nhost=h\nx=\r",
        b"protocol=https\nhost=h\n\xff=1\n",
        b"\xff=1\nhost\n",
        b"protocol=https\nhost=h\ncredential=t\nephemeral=0\n",
        b"protocol=https\nhost=h\nephemeral=0\nauthtype=Bearer\n",
        b"protocol=https\nhost=h\nephemeral=maybe\n",
        b"protocol=https\nhost=h\ncapability[]=authtype\r\n",
        b"protocol=https\r\nhost=h\r\n\r\nhost=x\n",
        b"",
        b"\n",
    ] {
        same(input).expect("the same result");
    }
}
