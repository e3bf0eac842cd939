//! Entra's replies, read as a token reply and as a device authorization reply: never a panic;
//! lifetimes and the polling interval stay in their bounds; what a person is shown is printable;
//! an error is printable and never quotes a token or device code (checked with the marker put in
//! every such field of the reply). Input: the seed format of `Reply` (headers unused).
#![no_main]

use std::time::Duration;

use git_credential_azdo::fuzzing::{entra_device_code, entra_token};
use git_credential_azdo_fuzz::{assert_no_marker, assert_printable, holds_marker, mark_json_secrets, Reply};
use libfuzzer_sys::fuzz_target;

const SECRETS: &[&str] = &["access_token", "refresh_token", "id_token", "device_code"];

fn check(status: u16, body: &[u8]) {
    match entra_token(status, body) {
        // A second may pass between reading the reply and measuring.
        Ok(tokens) => assert!((59..=24 * 3600).contains(&tokens.lifetime_secs), "{tokens:?}"),
        Err(e) => {
            assert_printable("a token error", &e);
            assert_no_marker("a token error", &e);
        }
    }
    match entra_device_code(status, body) {
        Ok(code) => {
            assert!((-1..=3600).contains(&code.lifetime_secs), "{code:?}");
            assert!(code.interval <= Duration::from_secs(60), "{code:?}");
            for shown in [&code.user_code, &code.verification_uri] {
                assert_printable("the device code prompt", shown);
                assert_no_marker("the device code prompt", shown);
            }
        }
        Err(e) => {
            assert_printable("a device code error", &e);
            assert_no_marker("a device code error", &e);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(reply) = Reply::parse(data) else { return };
    if holds_marker(data) {
        return;
    }
    check(reply.status, reply.body);
    if let Some(marked) = mark_json_secrets(reply.body, SECRETS) {
        check(reply.status, &marked);
    }
});
