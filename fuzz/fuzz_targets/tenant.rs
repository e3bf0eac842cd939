//! The tenant an unauthenticated challenge names (`WWW-Authenticate`, `X-VSS-ResourceTenant`):
//! never a panic, and always `common`, `organizations` or a tenant Entra accepts in a path,
//! lower-case (never a host, a path or a query). Input: the seed format of `Reply` (status unused).
#![no_main]

use git_credential_azdo::fuzzing::tenant_from_challenge;
use git_credential_azdo_fuzz::Reply;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(reply) = Reply::parse(data) else { return };
    let tenant = tenant_from_challenge(&reply.headers);
    let ok = !tenant.is_empty()
        && tenant.len() <= 64
        && tenant.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !tenant.starts_with(['-', '.']);
    assert!(ok, "not a tenant: {tenant:?}");
});
