//! The PAT lifecycle API's replies, read as a create reply and as a list page: never a panic;
//! what a PAT record shows is printable; a created PAT has its secret; an error is printable and
//! never quotes a PAT (checked with the marker put in every `token` of the reply). Input: the
//! seed format of `Reply` (headers unused).
#![no_main]

use git_credential_azdo::fuzzing::{pat_create, pat_list, Pat};
use git_credential_azdo_fuzz::{assert_no_marker, assert_printable, holds_marker, mark_json_secrets, Reply};
use libfuzzer_sys::fuzz_target;

fn check_pat(pat: &Pat) {
    for field in [&pat.authorization_id, &pat.display_name, &pat.scope] {
        assert_printable("a PAT record", field);
        assert_no_marker("a PAT record", field);
    }
}

fn check(status: u16, body: &[u8]) {
    match pat_create(status, body) {
        Ok(pat) => {
            assert!(pat.has_token, "a created PAT without its secret");
            check_pat(&pat);
        }
        Err(e) => {
            assert_printable("a create error", &e);
            assert_no_marker("a create error", &e);
        }
    }
    match pat_list(status, body) {
        Ok((page, _continuation)) => page.iter().for_each(check_pat),
        Err(e) => {
            assert_printable("a list error", &e);
            assert_no_marker("a list error", &e);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(reply) = Reply::parse(data) else { return };
    if holds_marker(data) {
        return;
    }
    check(reply.status, reply.body);
    if let Some(marked) = mark_json_secrets(reply.body, &["token"]) {
        check(reply.status, &marked);
    }
});
