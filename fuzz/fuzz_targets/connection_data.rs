//! The connectionData verdict (`azure::connection_data::judge`) on any reply: never a panic;
//! what it shows (the user, or the reason) is printable; only a 200 names a valid PAT, and only a
//! refusal or a sign-in an invalid one. Input: the seed format of `Reply` (status line, header
//! lines, blank line, body).
#![no_main]

use git_credential_azdo::fuzzing::connection_data;
use git_credential_azdo_fuzz::{assert_printable, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(reply) = Reply::parse(data) else { return };
    let Some(verdict) = connection_data(reply.status, &reply.headers, reply.body) else {
        assert!(!(100..=999).contains(&reply.status), "HTTP {} has a verdict", reply.status);
        return;
    };
    assert_printable("a connectionData verdict", &verdict);
    // Only Azure DevOps' own answers about the PAT say anything about it.
    if verdict.starts_with("valid: ") {
        assert_eq!(reply.status, 200, "{verdict}");
    }
    if verdict.starts_with("invalid: ") {
        assert!(matches!(reply.status, 200 | 203 | 300..=399 | 401 | 403), "HTTP {}: {verdict}", reply.status);
    }
});
