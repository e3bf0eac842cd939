//! The browser sign-in's request: a PKCE pair (a random verifier, kept, and its `S256`
//! challenge), a random `state`, and the authorize URL the browser is sent to, every value
//! percent-encoded ([`crate::percent::escape`]). Randomness is the system's, through `ring`.

use base64::Engine as _;

use super::Error;
use crate::percent::escape;
use crate::secret::Secret;

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn random(len: usize) -> Result<Vec<u8>, Error> {
    let mut bytes = vec![0u8; len];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).map_err(|_| Error::Random)?;
    Ok(bytes)
}

/// A PKCE pair: the verifier (kept, sent only to the token endpoint) and its `S256` challenge.
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Result<Pkce, Error> {
        // 32 random bytes: a 43-character verifier, RFC 7636's minimum length and its advice.
        let verifier = b64url(&random(32)?);
        Ok(Pkce::from_verifier(Secret::from(verifier)))
    }

    fn from_verifier(verifier: Secret) -> Pkce {
        let challenge = b64url(ring::digest::digest(&ring::digest::SHA256, verifier.expose().as_bytes()).as_ref());
        Pkce { verifier, challenge }
    }
}

/// A random `state` for one sign-in.
pub fn new_state() -> Result<String, Error> {
    Ok(b64url(&random(24)?))
}

/// What the authorize request says besides the PKCE challenge and the state.
pub struct Request<'a> {
    pub authority: &'a str,
    pub tenant: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub redirect_uri: &'a str,
    /// The account to sign in (`login_hint`); without one, `prompt=select_account`.
    pub login_hint: Option<&'a str>,
    /// The `claims` request parameter (the client's capabilities, and a challenge's claims).
    pub claims: &'a str,
}

/// The authorize URL the browser is sent to (`response_mode=form_post`: the code does not appear
/// in the browser's address bar or history).
pub fn authorize_url(req: &Request<'_>, state: &str, challenge: &str) -> String {
    let mut params: Vec<(&str, &str)> = vec![
        ("client_id", req.client_id),
        ("response_type", "code"),
        ("redirect_uri", req.redirect_uri),
        ("response_mode", "form_post"),
        ("scope", req.scope),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("claims", req.claims),
    ];
    let domain;
    match req.login_hint {
        Some(hint) => {
            params.push(("login_hint", hint));
            // The domain of a UPN names the tenant's home realm: no e-mail discovery page.
            if let Some((_, d)) = hint.rsplit_once('@').filter(|(_, d)| d.contains('.')) {
                domain = d.to_owned();
                params.push(("domain_hint", &domain));
            }
        }
        None => params.push(("prompt", "select_account")),
    }
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", escape(v))).collect();
    format!("{}/{}/oauth2/v2.0/authorize?{}", req.authority.trim_end_matches('/'), req.tenant, query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_s256_of_the_verifier() {
        // RFC 7636, appendix B.
        let pkce = Pkce::from_verifier(Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert_eq!(pkce.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let fresh = Pkce::new().expect("random");
        assert_eq!(fresh.verifier.expose().len(), 43);
        assert_ne!(fresh.verifier.expose(), Pkce::new().expect("random").verifier.expose());
        assert_ne!(new_state().expect("random"), new_state().expect("random"));
    }

    #[test]
    fn the_authorize_url_carries_every_parameter_encoded() {
        let req = Request {
            authority: "https://login.microsoftonline.com/",
            tenant: "organizations",
            client_id: "cid",
            scope: "499b84ac-1321-427f-aa17-267ca6975798/.default offline_access",
            redirect_uri: "http://localhost:1234/",
            login_hint: None,
            claims: r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#,
        };
        let url = authorize_url(&req, "st", "ch");
        assert!(url.starts_with("https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?client_id=cid&"));
        assert!(url.contains("&redirect_uri=http%3A%2F%2Flocalhost%3A1234%2F&"), "{url}");
        assert!(url.contains("&scope=499b84ac-1321-427f-aa17-267ca6975798%2F.default%20offline_access&"), "{url}");
        assert!(
            url.contains("&code_challenge=ch&code_challenge_method=S256&claims=%7B%22access_token%22%3A%7B%22xms_cc%22%3A%7B%22values%22%3A%5B%22cp1%22%5D%7D%7D%7D&prompt=select_account"),
            "{url}"
        );
        let hinted = authorize_url(&Request { login_hint: Some("a.b@contoso.com"), ..req }, "st", "ch");
        assert!(hinted.ends_with("&login_hint=a.b%40contoso.com&domain_hint=contoso.com"), "{hinted}");
        assert!(!hinted.contains("prompt="));
    }
}
