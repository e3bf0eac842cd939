//! The protocol reader on any bytes: a request or a clean error (no raw control character, no
//! value echoed); a parsed request keeps host and protocol on one line; the username and password
//! it read, written back as an answer, read back unchanged (tests/e2e/properties.rs checks the same
//! on generated input).
#![no_main]

use git_credential_azdo::protocol::{parse_request, write_answer, Answer};
use git_credential_azdo_fuzz::{assert_no_marker, assert_printable, holds_marker, MARKER};
use libfuzzer_sys::fuzz_target;

/// `data` with the marker at the start of every line's value (after its first `=`).
fn mark_values(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    for line in data.split_inclusive(|b| *b == b'\n') {
        match line.iter().position(|b| *b == b'=') {
            Some(eq) => {
                out.extend_from_slice(&line[..=eq]);
                out.extend_from_slice(MARKER.as_bytes());
                out.extend_from_slice(&line[eq + 1..]);
            }
            None => out.extend_from_slice(line),
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    match parse_request(data) {
        Err(e) => assert_printable("a protocol error", &e.to_string()),
        Ok(req) => {
            assert!(!req.host.contains(['\0', '\n', '\r']), "{:?}", req.host);
            assert!(!req.protocol.contains(['\0', '\n', '\r']), "{:?}", req.protocol);
            if let (Some(username), Some(password)) = (req.username, req.password) {
                let answer = Answer { username, password, password_expiry_utc: req.password_expiry_utc };
                let mut out = b"protocol=https\nhost=dev.azure.com\n".to_vec();
                write_answer(&answer, &mut out).expect("a value the reader accepted can be written");
                let back = parse_request(&out).expect("an answer reads back");
                assert_eq!(back.username.as_deref(), Some(answer.username.as_str()));
                assert_eq!(back.password.as_ref(), Some(&answer.password));
                assert_eq!(back.password_expiry_utc, answer.password_expiry_utc);
            }
        }
    }
    if !holds_marker(data) {
        if let Err(e) = parse_request(&mark_values(data)) {
            assert_no_marker("a protocol error", &e.to_string());
        }
    }
});
