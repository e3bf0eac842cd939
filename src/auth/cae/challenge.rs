//! Reading a claims challenge: the `WWW-Authenticate` values git hands `erase` (`wwwauth[]`),
//! parsed strictly (RFC 9110 §11.6.1 auth-params: `Bearer` then `name=token` or
//! `name="quoted"` pairs; printable ASCII only, each name once, bounded), of which only
//! `error="insufficient_claims"` with a `claims` parameter counts; the claims are base64
//! (standard alphabet) of a JSON claims request, decoded and validated ([`Claims`]). Anything
//! else is no challenge. Nothing here prints a value.

use base64::engine::{general_purpose::GeneralPurposeConfig, DecodePaddingMode, GeneralPurpose};
use base64::Engine as _;

use super::Claims;

/// The longest `WWW-Authenticate` value read (a CAE challenge is a few hundred bytes).
const MAX_HEADER: usize = 4096;
/// The longest base64 `claims` parameter decoded.
const MAX_ENCODED: usize = 2048;

/// The claims of the first `insufficient_claims` challenge among `values`, validated; `None`
/// when there is none (another error, a malformed or oversized header, bad base64, claims
/// that are no JSON claims request).
pub fn from_challenges(values: &[String]) -> Option<Claims> {
    values.iter().find_map(|value| from_challenge(value))
}

fn from_challenge(value: &str) -> Option<Claims> {
    let params = bearer_params(value)?;
    let get = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    if get("error")? != "insufficient_claims" {
        return None;
    }
    let encoded = get("claims")?;
    if encoded.is_empty() || encoded.len() > MAX_ENCODED {
        return None;
    }
    // Entra sends standard base64 with its padding; padding left off is taken too.
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let decoded = engine.decode(encoded).ok()?;
    Claims::from_json(&decoded)
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The auth-params of a `Bearer` challenge (names lower-cased, quoted values unescaped), or
/// `None` when `value` is not exactly one such challenge: another scheme, a token68, a control
/// or non-ASCII byte, an unterminated quote, a repeated name, more than [`MAX_HEADER`] bytes.
fn bearer_params(value: &str) -> Option<Vec<(String, String)>> {
    let bytes = value.as_bytes();
    if bytes.len() > MAX_HEADER || bytes.iter().any(|b| !(b' '..=b'~').contains(b) && *b != b'\t') {
        return None;
    }
    let ows = |i: &mut usize| {
        while bytes.get(*i).is_some_and(|b| *b == b' ' || *b == b'\t') {
            *i += 1;
        }
    };
    let token = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(|b| is_tchar(*b)) {
            *i += 1;
        }
        (*i > start).then(|| &value[start..*i])
    };
    let mut i = 0;
    ows(&mut i);
    if !token(&mut i)?.eq_ignore_ascii_case("bearer") || bytes.get(i) != Some(&b' ') {
        return None;
    }
    let mut params: Vec<(String, String)> = Vec::new();
    loop {
        ows(&mut i);
        let name = token(&mut i)?.to_ascii_lowercase();
        ows(&mut i);
        if bytes.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        ows(&mut i);
        let param = if bytes.get(i) == Some(&b'"') { quoted(bytes, &mut i)? } else { token(&mut i)?.to_owned() };
        if params.iter().any(|(n, _)| *n == name) {
            return None;
        }
        params.push((name, param));
        ows(&mut i);
        match bytes.get(i) {
            None => return Some(params),
            Some(b',') => i += 1,
            Some(_) => return None,
        }
    }
}

/// A quoted-string starting at `bytes[*i]` (the opening quote), unescaped; `*i` ends after the
/// closing quote.
fn quoted(bytes: &[u8], i: &mut usize) -> Option<String> {
    let mut out = Vec::new();
    *i += 1;
    loop {
        match *bytes.get(*i)? {
            b'"' => {
                *i += 1;
                return String::from_utf8(out).ok();
            }
            b'\\' => {
                out.push(*bytes.get(*i + 1)?);
                *i += 2;
            }
            b => {
                out.push(b);
                *i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAIMS: &str = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;

    fn b64(s: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn challenge(error: &str, claims: &str) -> String {
        format!(
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", error=\"{error}\", claims=\"{claims}\""
        )
    }

    fn read(values: &[&str]) -> Option<String> {
        let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        from_challenges(&values).map(|c| c.as_str().to_owned())
    }

    #[test]
    fn the_documented_challenge_is_read_among_other_headers() {
        // The example of Entra's claims-challenge documentation.
        let documented = challenge(
            "insufficient_claims",
            "eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiY3AxIn19fQ==",
        );
        let got = read(&["Basic realm=\"https://tfsprodfake1.app.visualstudio.com/\"", &documented, "TFS-Federated"]);
        assert_eq!(got.as_deref(), Some(r#"{"access_token":{"acrs":{"essential":true,"value":"cp1"}}}"#));
        // Unpadded base64, a token value, any case of the scheme and names, tabs around '='.
        let loose = format!(
            "bearer ERROR = insufficient_claims ,\tClaims=\"{}\"",
            b64(CLAIMS.as_bytes()).trim_end_matches('=')
        );
        assert_eq!(read(&[&loose]).as_deref(), Some(CLAIMS));
        // A quoted-pair is unescaped.
        let escaped = format!("Bearer error=\"insufficient\\_claims\", claims=\"{}\"", b64(CLAIMS.as_bytes()));
        assert_eq!(read(&[&escaped]).as_deref(), Some(CLAIMS));
    }

    #[test]
    fn other_errors_and_schemes_are_no_challenge() {
        let claims = b64(CLAIMS.as_bytes());
        for value in [
            challenge("invalid_token", &claims),
            challenge("Insufficient_Claims", &claims),
            "Bearer error=\"insufficient_claims\"".to_owned(),
            format!("Bearer claims=\"{claims}\""),
            format!("Basic error=\"insufficient_claims\", claims=\"{claims}\""),
            format!("Bearer_x error=\"insufficient_claims\", claims=\"{claims}\""),
            "Bearer".to_owned(),
            "Bearer authorization_uri=https://login.microsoftonline.com/t".to_owned(),
            format!("Bearer {claims}"),
            String::new(),
        ] {
            assert_eq!(read(&[&value]), None, "{value}");
        }
    }

    #[test]
    fn hostile_headers_are_refused() {
        let claims = b64(CLAIMS.as_bytes());
        let ok = challenge("insufficient_claims", &claims);
        assert!(read(&[&ok]).is_some());
        for value in [
            // Control characters, raw or escaped into a quoted value; non-ASCII.
            ok.replace("realm=\"\"", "realm=\"\u{1b}[31m\""),
            ok.replace("realm=\"\"", "realm=\"\u{7f}\""),
            ok.replace("realm=\"\"", "realm=\"é\""),
            ok.replace(", error", ",\r\n error"),
            // Unterminated quotes, a dangling escape, a missing '=' or value, trailing garbage.
            ok.trim_end_matches('"').to_owned(),
            format!("Bearer error=\"insufficient_claims\", claims=\"{claims}\\"),
            format!("Bearer error \"insufficient_claims\", claims=\"{claims}\""),
            format!("Bearer error=, claims=\"{claims}\""),
            format!("{ok} Basic realm=\"x\""),
            format!("{ok},"),
            // A name twice (which one would count?).
            format!("{ok}, claims=\"{claims}\""),
            format!("Bearer error=\"insufficient_claims\", error=\"x\", claims=\"{claims}\""),
            // Huge: the header, or the claims.
            format!("{ok}, x=\"{}\"", "a".repeat(MAX_HEADER)),
            challenge(
                "insufficient_claims",
                &b64(format!("{{\"access_token\":{{\"x\":\"{}\"}}}}", "a".repeat(3000)).as_bytes()),
            ),
        ] {
            assert_eq!(read(&[&value]), None, "{value:?}");
        }
    }

    #[test]
    fn claims_must_be_base64_of_a_json_claims_request() {
        for claims in [
            "not base64!".to_owned(),
            "eyJ=eyJ=".to_owned(),
            "-_-_".to_owned(),
            b64(b"not json"),
            b64(b"[1,2]"),
            b64(b"{}"),
            b64(b"\"text\""),
            b64(br#"{"access_token":"cp1"}"#),
            b64(br#"{"access_token":{}, "id_token": 3}"#),
            b64(&[0xff, 0xfe, b'{', b'}']),
            b64(format!("{}1{}", "{\"a\":".repeat(20), "}".repeat(20)).as_bytes()),
        ] {
            assert_eq!(read(&[&challenge("insufficient_claims", &claims)]), None, "{claims}");
        }
        // A JSON string may hold escaped control characters; the claims kept are re-serialized.
        let escaped = br#"{ "access_token" : { "nbf" : { "value" : "\u001b[2J" } } }"#;
        let got = read(&[&challenge("insufficient_claims", &b64(escaped))]).expect("valid JSON");
        assert_eq!(got, r#"{"access_token":{"nbf":{"value":"\u001b[2J"}}}"#);
        assert!(!got.contains('\u{1b}'));
    }

    proptest::proptest! {
        /// Any header text, and any bytes as the claims of an otherwise valid challenge: no
        /// panic, and whatever is taken is a bounded JSON object of objects.
        #[test]
        fn any_input_is_a_valid_claims_request_or_none(
            header in ".{0,200}",
            claims in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let values = [header, challenge("insufficient_claims", &b64(&claims))];
            for value in &values {
                if let Some(got) = from_challenges(std::slice::from_ref(value)) {
                    let parsed: serde_json::Value = serde_json::from_str(got.as_str()).expect("JSON");
                    proptest::prop_assert!(parsed.as_object().is_some_and(|o| !o.is_empty() && o.values().all(|v| v.is_object())));
                    proptest::prop_assert!(got.as_str().len() <= 2 * super::super::MAX_CLAIMS);
                }
            }
        }
    }

    #[test]
    fn the_first_valid_challenge_counts() {
        let first = b64(CLAIMS.as_bytes());
        let second = b64(br#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#);
        let got = read(&[
            &challenge("insufficient_claims", "!!"),
            &challenge("insufficient_claims", &first),
            &challenge("insufficient_claims", &second),
        ]);
        assert_eq!(got.as_deref(), Some(CLAIMS));
    }
}
