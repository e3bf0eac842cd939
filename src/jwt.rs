//! Reading JSON Web Tokens without verifying them: whether a string has a JWT's shape, and the
//! claims (the payload) of one, for what this helper only needs to know about a token it already
//! holds (whose it is, when it expires). No signature is checked: nothing here decides trust.

use base64::Engine as _;

use crate::secret::Secret;
use crate::text::printable;

/// Entra access tokens are JWTs (`eyJ…` header, three dot-separated base64url parts); PATs have
/// no dots. One handed to git with `azdo.credentialType=oauth` must not be stored as a PAT.
pub fn looks_like_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    s.starts_with("eyJ")
        && parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// The claims of `token`: its second dot-separated part, base64url (padding tolerated), as JSON;
/// `None` when there is no second part or it is no base64url JSON.
pub fn claims(token: &Secret) -> Option<serde_json::Value> {
    let payload = token.expose().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The user an Entra access token is for (`upn`, else `preferred_username`, else
/// `unique_name` of its claims, the first that is a non-empty string), printable, at most 256
/// characters, lower-case; `None` when it is no readable JWT or names no user.
pub fn user(token: &Secret) -> Option<String> {
    let claims = claims(token)?;
    ["upn", "preferred_username", "unique_name"]
        .iter()
        .find_map(|k| claims.get(k).and_then(|v| v.as_str()).filter(|v| !v.is_empty()))
        .map(|v| printable(v).chars().take(256).collect::<String>().to_ascii_lowercase())
}

/// The `exp` claim (Unix seconds) of `token`, if it is a JWT that has a positive integer one.
pub fn expiry(token: &Secret) -> Option<i64> {
    claims(token)?.get("exp")?.as_i64().filter(|t| *t > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    fn jwt(payload: &str) -> Secret {
        Secret::new(format!("{}.{}.sig", b64("{\"alg\":\"RS256\"}"), b64(payload)))
    }

    #[test]
    fn the_expiry_of_a_jwt_is_read_and_nothing_else_is() {
        let jwt = format!("{}.{}.sig", b64("{\"alg\":\"RS256\"}"), b64("{\"exp\":1900000000}"));
        assert_eq!(expiry(&Secret::new(jwt)), Some(1_900_000_000));
        assert_eq!(expiry(&Secret::new("not-a-jwt")), None);
        assert_eq!(expiry(&Secret::new(format!("a.{}.c", b64("{\"exp\":\"soon\"}")))), None);
    }

    #[test]
    fn expiry_edge_cases() {
        assert_eq!(expiry(&jwt("{\"exp\":0}")), None, "not positive");
        assert_eq!(expiry(&jwt("{\"exp\":-5}")), None, "not positive");
        assert_eq!(expiry(&jwt("{\"exp\":1.5}")), None, "not an integer");
        assert_eq!(expiry(&jwt("{}")), None);
        assert_eq!(expiry(&jwt("[1]")), None, "claims that are no object");
    }

    #[test]
    fn the_user_claim_is_the_first_non_empty_one_in_order() {
        assert_eq!(
            user(&jwt(r#"{"upn":"A@B.com","preferred_username":"x","unique_name":"y"}"#)).as_deref(),
            Some("a@b.com")
        );
        assert_eq!(user(&jwt(r#"{"upn":"","preferred_username":"P@B.com"}"#)).as_deref(), Some("p@b.com"));
        assert_eq!(user(&jwt(r#"{"upn":7,"unique_name":"U@B.com"}"#)).as_deref(), Some("u@b.com"));
        assert_eq!(user(&jwt(r#"{"sub":"s"}"#)), None);
        assert_eq!(user(&Secret::new("not-a-jwt")), None);
    }

    #[test]
    fn the_user_claim_is_printable_and_bounded() {
        // `printable` cuts at 200 characters; escaped control characters can still make more.
        let long = "a".repeat(300);
        let got = user(&jwt(&format!("{{\"upn\":\"{long}\"}}"))).expect("user");
        assert_eq!(got, format!("{}…", "a".repeat(200)));
        let escapes = "\\u001b".repeat(100);
        let got = user(&jwt(&format!("{{\"upn\":\"{escapes}\"}}"))).expect("user");
        assert_eq!(got.chars().count(), 256);
        let got = user(&jwt("{\"upn\":\"Eve\\u001b[2J\"}")).expect("user");
        assert!(!got.contains('\u{1b}'), "{got}");
        assert!(got.starts_with("eve"), "{got}");
    }

    #[test]
    fn claims_tolerate_padding_and_refuse_what_is_not_base64url_json() {
        let padded = format!("h.{}==.s", b64("{\"n\":1}"));
        assert_eq!(claims(&Secret::new(padded)), Some(serde_json::json!({"n": 1})));
        // Only the second part is read: the number of parts is not checked here.
        assert_eq!(claims(&Secret::new(format!("h.{}", b64("{\"n\":2}")))), Some(serde_json::json!({"n": 2})));
        assert_eq!(claims(&Secret::new(format!("h.{}.s.t", b64("3")))), Some(serde_json::json!(3)));
        assert_eq!(claims(&Secret::new("only-one-part")), None, "no payload");
        assert_eq!(claims(&Secret::new("h..s")), None, "an empty payload");
        assert_eq!(claims(&Secret::new(format!("h.{}.s", b64("not json")))), None, "not JSON");
        assert_eq!(claims(&Secret::new("h.e30+.s")), None, "standard base64, not base64url");
        assert_eq!(claims(&Secret::new("h.!!!.s")), None, "not base64");
    }

    #[test]
    fn the_shape_of_a_jwt() {
        assert!(looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln-_"));
        assert!(!looks_like_jwt("abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop"), "a PAT");
        assert!(!looks_like_jwt("eyJ.x"), "two parts");
        assert!(!looks_like_jwt("eyJ.x.y.z"), "four parts");
        assert!(!looks_like_jwt("eyJ..y"), "an empty part");
        assert!(!looks_like_jwt("eyJ.x=.y"), "padding");
        assert!(!looks_like_jwt("eyJ.x+.y"), "not base64url");
        assert!(!looks_like_jwt("aGVsbG8.x.y"), "no JSON header");
    }
}
