//! The reader and writer on what git sends and takes: requests, answers, tokens, refusals.

use super::*;

fn parse(s: &str) -> Result<Request, Error> {
    parse_request(s.as_bytes())
}

#[test]
fn parses_what_git_2_47_sends_on_get() {
    let req = parse(
        "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=dev.azure.com\n\
         path=contoso/proj/_git/repo\nusername=contoso\nwwwauth[]=Basic realm=\"x\"\n\
         wwwauth[]=Bearer authorization_uri=https://login.example/\nstate[]=other:1\n\
         password_expiry_utc=1900000000\nsome_future_key=1\n",
    )
    .expect("valid request");
    assert_eq!(req.protocol, "https");
    assert_eq!(req.host, "dev.azure.com");
    assert_eq!(req.path.as_deref(), Some(&b"contoso/proj/_git/repo"[..]));
    assert_eq!(req.username.as_deref(), Some("contoso"));
    assert_eq!(req.password_expiry_utc, Some(1_900_000_000));
    assert_eq!(req.wwwauth, ["Basic realm=\"x\"", "Bearer authorization_uri=https://login.example/"]);
}

#[test]
fn wwwauth_values_are_kept_in_order_and_bounded() {
    let mut input = String::from("protocol=https\nhost=dev.azure.com\nwwwauth[]=\n");
    input.push_str(&format!("wwwauth[]={}\n", "a".repeat(MAX_WWWAUTH_LEN + 1)));
    for n in 0..MAX_WWWAUTH + 5 {
        input.push_str(&format!("wwwauth[]=Bearer n={n}\n"));
    }
    let req = parse(&input).expect("valid");
    assert_eq!(req.wwwauth.len(), MAX_WWWAUTH);
    assert_eq!(req.wwwauth[0], "", "an empty value is a value");
    assert_eq!(req.wwwauth[1], "Bearer n=0", "a value over the bound is skipped");
    assert_eq!(req.wwwauth[MAX_WWWAUTH - 1], format!("Bearer n={}", MAX_WWWAUTH - 2));
    let not_utf8 = parse_request(b"protocol=https\nhost=h\nwwwauth[]=\xff\nwwwauth[]=Basic\n").expect("valid");
    assert_eq!(not_utf8.wwwauth, ["Basic"]);
}

#[test]
fn stops_at_blank_line_and_accepts_crlf() {
    let req = parse("protocol=https\r\nhost=dev.azure.com\r\n\r\nhost=evil.example\n").expect("valid");
    assert_eq!(req.host, "dev.azure.com");
}

#[test]
fn refuses_control_characters_without_echoing_the_value() {
    for (input, key) in [
        ("protocol=https\nhost=dev.azure.com\npassword=se\rcret\n", "password"),
        ("protocol=https\nhost=dev.azure.com\npassword=se\0cret\n", "password"),
        ("protocol=https\nhost=dev.az\rure.com\n", "host"),
    ] {
        let err = parse(input).expect_err("must refuse").to_string();
        assert!(err.contains(key), "{err}");
        assert!(!err.contains("cret") && !err.contains("ure.com"), "value leaked: {err}");
    }
}

#[test]
fn refuses_lines_without_equals_and_non_utf8() {
    assert!(matches!(parse("protocol=https\nhost\n"), Err(Error::NotKeyValue { line: 2 })));
    let err = parse_request(b"protocol=https\nhost=dev.azure.com\nusername=\xff\xfe\n").expect_err("refuse");
    assert!(matches!(err, Error::NotUtf8 { .. }));
    // Paths may hold any bytes.
    assert!(parse_request(b"protocol=https\nhost=dev.azure.com\npath=\xff/x\n").is_ok());
}

#[test]
fn requires_protocol_and_host() {
    assert!(matches!(parse("protocol=https\n"), Err(Error::Missing("host"))));
    assert!(matches!(parse("host=dev.azure.com\n"), Err(Error::Missing("protocol"))));
}

#[test]
fn bounds_the_input() {
    let big = format!("protocol=https\nhost=dev.azure.com\npath={}\n", "a".repeat(MAX_LINE + 1));
    assert!(matches!(parse(&big), Err(Error::LineTooLong { line: 3 })));
    let huge = "x=y\n".repeat(MAX_INPUT);
    assert!(matches!(read_request(huge.as_bytes()), Err(Error::TooLarge)));
}

#[test]
fn zero_expiry_means_none() {
    let req = parse("protocol=https\nhost=h\npassword_expiry_utc=0\n").expect("valid");
    assert_eq!(req.password_expiry_utc, None);
}

#[test]
fn answer_has_only_username_password_and_expiry() {
    let mut out = Vec::new();
    let answer = Answer {
        username: "contoso".into(),
        password: Secret::new("pat123"),
        password_expiry_utc: Some(1_900_000_000),
    };
    write_answer(&answer, &mut out).expect("write");
    assert_eq!(
        String::from_utf8(out).expect("utf8"),
        "username=contoso\npassword=pat123\npassword_expiry_utc=1900000000\n"
    );
}

#[test]
fn capabilities_and_ephemeral_credentials_are_seen() {
    let req = parse("capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=h\n").expect("valid");
    assert!(req.authtype && !req.ephemeral);
    let req = parse("capability[]=state\nprotocol=https\nhost=h\nauthtype=authtype\n").expect("valid");
    assert!(!req.authtype && req.ephemeral, "authtype= as a value is not the capability");
    let req = parse("protocol=https\nhost=h\nephemeral=1\ncredential=tok\n").expect("valid");
    assert!(req.ephemeral && format!("{req:?}").find("tok").is_none());
    let req = parse("protocol=https\nhost=h\nephemeral=false\n").expect("valid");
    assert!(!req.ephemeral);
}

#[test]
fn tokens_go_as_bearer_to_git_that_takes_it_else_as_a_password() {
    let answer =
        TokenAnswer { username: "build".into(), token: Secret::new("eyJ.a.b"), expires_at: Some(1_900_000_000) };
    let mut out = Vec::new();
    write_token(&answer, true, &mut out).expect("write");
    assert_eq!(
        String::from_utf8(out).expect("utf8"),
        "capability[]=authtype\nauthtype=Bearer\ncredential=eyJ.a.b\nephemeral=1\npassword_expiry_utc=1900000000\n"
    );
    let mut out = Vec::new();
    write_token(&answer, false, &mut out).expect("write");
    assert_eq!(
        String::from_utf8(out).expect("utf8"),
        "username=build\npassword=eyJ.a.b\npassword_expiry_utc=1900000000\n"
    );
    let bad = TokenAnswer { username: "u".into(), token: Secret::new("a\nb"), expires_at: None };
    let mut out = Vec::new();
    assert!(write_token(&bad, true, &mut out).is_err() && out.is_empty());
}

#[test]
fn capabilities_and_quit_are_written_as_git_reads_them() {
    let mut out = Vec::new();
    write_capabilities(&mut out).expect("write");
    assert_eq!(out, CAPABILITIES.as_bytes());
    let mut out = Vec::new();
    write_quit(&mut out).expect("write");
    assert_eq!(out, b"quit=1\n");
}

#[test]
fn answer_with_newline_is_refused() {
    let answer = Answer { username: "u".into(), password: Secret::new("a\nb"), password_expiry_utc: None };
    let mut out = Vec::new();
    let err = write_answer(&answer, &mut out).expect_err("refuse");
    assert!(!err.to_string().contains("a\nb"));
    assert!(out.is_empty());
}
