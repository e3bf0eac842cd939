//! Properties over machine-made input: the protocol reader and URL → organization resolution.
//! The default run is quick; a longer search (a stable-toolchain stand-in for a fuzzer):
//! `PROPTEST_CASES=200000 cargo test --test properties`.

use git_credential_azdo::org::{resolve, Instances, Resolution, Target, UrlParts};
use git_credential_azdo::protocol::{parse_request, write_answer, Answer};
use git_credential_azdo::secret::Secret;
use proptest::prelude::*;

/// A value git could send: any text without NUL, LF or CR.
fn value() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[^\\x00\\n\\r]{1,80}").expect("regex")
}

fn no_raw_controls(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && c != '\n')
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// What the helper writes, git's reader (and ours) reads back unchanged.
    #[test]
    fn answers_round_trip(username in value(), password in value(), expiry in proptest::option::of(1i64..4_000_000_000)) {
        let answer = Answer { username: username.clone(), password: Secret::new(password.clone()), password_expiry_utc: expiry };
        let mut out = b"protocol=https\nhost=dev.azure.com\n".to_vec();
        write_answer(&answer, &mut out).expect("write");
        let back = parse_request(&out).expect("read back");
        prop_assert_eq!(back.username.as_deref(), Some(username.as_str()));
        prop_assert_eq!(back.password, Some(Secret::new(password)));
        prop_assert_eq!(back.password_expiry_utc, expiry);
    }

    /// Any bytes: a request or a clear error, never a panic, never a raw control character or a
    /// value echoed in the message.
    #[test]
    fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Err(e) = parse_request(&bytes) {
            let msg = e.to_string();
            prop_assert!(no_raw_controls(&msg), "{msg:?}");
        }
    }

    /// Lines that look like git's: still no panic, and a parsed request keeps host and protocol.
    #[test]
    fn git_like_requests(keys in proptest::collection::vec(prop_oneof![
        Just("protocol"), Just("host"), Just("path"), Just("username"), Just("password"),
        Just("capability[]"), Just("wwwauth[]"), Just("state[]"), Just("password_expiry_utc"), Just("url"), Just("x")
    ], 0..10), values in proptest::collection::vec(proptest::string::string_regex("[ -~\\r\\x00\\u{80}-\\u{10FFFF}]{0,30}").expect("regex"), 10)) {
        let mut text = String::new();
        for (k, v) in keys.iter().zip(values.iter()) {
            text.push_str(&format!("{k}={v}\n"));
        }
        match parse_request(text.as_bytes()) {
            Ok(req) => {
                prop_assert!(!req.host.contains(['\0', '\n', '\r']));
                prop_assert!(!req.protocol.contains(['\0', '\n', '\r']));
            }
            Err(e) => prop_assert!(no_raw_controls(&e.to_string())),
        }
    }

    /// Any URL-ish request either names a well-formed organization or is refused.
    #[test]
    fn any_request_resolves_to_a_valid_org_or_nothing(
        protocol in prop_oneof![Just("https".to_owned()), Just("http".to_owned()), "[a-z]{1,6}"],
        host in prop_oneof![
            Just("dev.azure.com".to_owned()), Just("DEV.Azure.com:443".to_owned()),
            "[a-zA-Z0-9_-]{1,60}\\.visualstudio\\.com", "[ -~]{0,40}", "[a-z.]{1,30}(:[0-9]{1,5})?"
        ],
        path in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..80)),
        username in proptest::option::of("[ -~\\u{80}-\\u{2FF}]{0,40}"),
    ) {
        let req = UrlParts { protocol: &protocol, host: &host, path: path.as_deref(), username: username.as_deref() };
        match resolve(&req, &Instances::default()) {
            Resolution::Target(org) => {
                prop_assert_eq!(Target::org(org.name()), Ok(org.clone()), "resolved to an invalid name");
                prop_assert_eq!(org.name().to_ascii_lowercase(), org.name().to_owned());
                prop_assert!(!org.is_server());
            }
            Resolution::Refused(e) => prop_assert!(no_raw_controls(&e.to_string())),
            Resolution::NotOurs | Resolution::Insecure | Resolution::NeedsOrganization => {}
        }
    }

    /// Org names: accepted ones are lower-case, short, and safe in URLs and keyring names.
    #[test]
    fn accepted_org_names_are_safe(name in "[ -~\\u{80}-\\u{2FF}]{0,60}") {
        match Target::org(&name) {
            Ok(org) => {
                prop_assert!(org.name().len() <= 50);
                prop_assert!(org.name().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'));
            }
            Err(e) => prop_assert!(no_raw_controls(&e.to_string())),
        }
    }
}
