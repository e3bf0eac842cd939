//! URL → target resolution on any request and any command-line argument, with the default
//! instances and with a loopback Services origin plus Azure DevOps Server collections: never a
//! panic; a resolved organization is on the configured origin, valid and lower-case; a resolved
//! collection is a declared one; every error is printable. Input: `protocol`, `host`, `path`,
//! `username` lines (a missing line is an absent attribute); the whole input is also tried as an
//! argument, a collection URL and a Services origin.
#![no_main]

use std::sync::LazyLock;

use git_credential_azdo::org::{resolve, Instances, Resolution, ServiceUrl, Target, UrlParts};
use git_credential_azdo_fuzz::assert_printable;
use libfuzzer_sys::fuzz_target;

/// A loopback Services origin and three declared collections, one under another's host.
static CUSTOM: LazyLock<Instances> = LazyLock::new(|| Instances {
    services: ServiceUrl::parse("http://127.0.0.1:8123").expect("loopback origin"),
    servers: [
        "https://tfs.example.com/tfs/DefaultCollection",
        "https://tfs.example.com/tfs/Other/Sub",
        "http://[::1]:8080/coll",
    ]
    .iter()
    .map(|u| Target::server(u).expect("collection"))
    .collect(),
});

/// A target these instances may name.
fn check_target(target: &Target, instances: &Instances) {
    match target {
        Target::Services { origin, org, .. } => {
            assert_eq!(origin, &instances.services, "an org on another origin");
            assert_eq!(Target::org_in(origin, org).as_ref(), Ok(target), "an invalid org name {org:?}");
            assert!(!org.is_empty() && org.len() <= 50, "{org:?}");
            assert!(
                org.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'),
                "{org:?}"
            );
        }
        Target::Server { .. } => assert!(instances.servers.contains(target), "an undeclared collection {target:?}"),
    }
}

fn check(req: &UrlParts<'_>, instances: &Instances) {
    match resolve(req, instances) {
        Resolution::Target(target) => {
            check_target(&target, instances);
            if instances.is_default() {
                assert!(target.url().starts_with("https://dev.azure.com/"), "{target:?}");
            }
        }
        Resolution::Refused(e) => assert_printable("a refusal", &e.to_string()),
        Resolution::Insecure => assert!(req.protocol.eq_ignore_ascii_case("http"), "{:?}", req.protocol),
        Resolution::NotOurs | Resolution::NeedsOrganization => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let fields: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    let text = |i: usize| fields.get(i).map(|f| String::from_utf8_lossy(f).into_owned());
    let (protocol, host, username) = (text(0).unwrap_or_default(), text(1).unwrap_or_default(), text(3));
    let request = UrlParts {
        protocol: &protocol,
        host: &host,
        // The path may hold any bytes.
        path: fields.get(2).copied().filter(|p| !p.is_empty()),
        username: username.as_deref().filter(|u| !u.is_empty()),
    };
    let (default, custom) = (Instances::default(), &*CUSTOM);
    check(&request, &default);
    check(&request, custom);

    let arg = String::from_utf8_lossy(data);
    for instances in [&default, custom] {
        match Target::from_arg(&arg, instances) {
            Ok(target) => check_target(&target, instances),
            Err(e) => assert_printable("an argument error", &e.to_string()),
        }
    }
    match Target::server(&arg) {
        Ok(target) => {
            let name = target.name();
            assert_eq!(name, name.to_ascii_lowercase());
            assert_eq!(Target::server(name).as_ref(), Ok(&target), "a collection URL reads back as itself");
        }
        Err(e) => assert_printable("a collection error", &e.to_string()),
    }
    match ServiceUrl::parse(&arg) {
        Ok(url) => assert_eq!(ServiceUrl::parse(&url.base()).as_ref(), Ok(&url), "an origin reads back as itself"),
        Err(e) => assert_printable("an origin error", &e.to_string()),
    }
});
