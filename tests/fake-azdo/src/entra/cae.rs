//! Continuous access evaluation (identities sheet §8): the `claims` request parameter of the
//! token, device-code and authorize endpoints (read, recorded, checked for the `cp1` capability
//! and for a challenge's claims), the challenge a resource answers a revoked CAE token with, and
//! the test controls that revoke a user's session under CAE and show what was asked.
//!
//! Only tokens issued to a client that declared `cp1` are CAE tokens: Entra sends challenges only
//! to such clients, and a token of any other client lives out its hour. Revoking a session marks
//! the user's CAE access tokens (each then answered with the challenge) and the user's refresh
//! tokens (each then redeemed only with the challenge's claims in `claims`).

use super::*;
use crate::FakeAzdo;

/// The `claims` parameter of one request to the identity service (see
/// [`FakeAzdo::token_claims`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// `devicecode`, `authorize`, or the token request's `grant_type`.
    pub endpoint: String,
    /// The parameter as sent (decoded), `None` when absent.
    pub claims: Option<String>,
}

/// The `claims` parameter of a request: `Ok(None)` when absent, the JSON object when it is one,
/// else the error answer (not captured: Entra's wording for claims that are not JSON).
pub(super) fn requested_claims(
    shared: &Shared,
    req: &Request,
    endpoint: &str,
    params: &str,
) -> Result<Option<serde_json::Value>, Response> {
    let raw = query_param(params, "claims").filter(|c| !c.is_empty());
    shared.state().entra.claims_seen.push(TokenClaims { endpoint: endpoint.to_string(), claims: raw.clone() });
    let Some(raw) = raw else { return Ok(None) };
    match serde_json::from_str::<serde_json::Value>(&raw) {
        Ok(value) if value.is_object() => Ok(Some(value)),
        _ => Err(error(
            shared,
            req,
            400,
            "invalid_request",
            9_002_313,
            "Invalid request. Request is malformed or invalid.",
        )),
    }
}

/// Whether `claims` declares the `cp1` client capability:
/// `{"access_token":{"xms_cc":{"values":["cp1"]}}}`, as MSAL sends it.
pub(super) fn declares_cp1(claims: Option<&serde_json::Value>) -> bool {
    claims
        .and_then(|c| c.pointer("/access_token/xms_cc/values"))
        .and_then(serde_json::Value::as_array)
        .is_some_and(|values| values.iter().any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case("cp1"))))
}

/// Whether the requested `claims` carry every claim of the `required` challenge (JSON), each
/// with the same request: what a client that merged the challenge into its claims sends.
pub(super) fn satisfies(claims: Option<&serde_json::Value>, required: &str) -> bool {
    let Ok(serde_json::Value::Object(required)) = serde_json::from_str::<serde_json::Value>(required) else {
        return false;
    };
    let Some(claims) = claims else { return false };
    required.iter().all(|(section, wanted)| {
        let Some(wanted) = wanted.as_object() else { return false };
        wanted.iter().all(|(name, spec)| claims.get(section).and_then(|s| s.get(name)) == Some(spec))
    })
}

/// The `WWW-Authenticate` value of a 401 for a token revoked under CAE (identities sheet §8,
/// the documented example's shape): `Bearer` with `error="insufficient_claims"` and the claims
/// base64-encoded.
pub(crate) fn cae_challenge_header(authority: &str, claims: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(claims.as_bytes());
    format!(
        "Bearer realm=\"\", authorization_uri=\"{}/common/oauth2/authorize\", error=\"insufficient_claims\", claims=\"{encoded}\"",
        authority.trim_end_matches('/')
    )
}

impl FakeAzdo {
    /// Revokes `upn`'s sign-in session under CAE (as a critical event, or a location policy
    /// that now applies, does) and returns the challenge's claims (JSON,
    /// `{"access_token":{"nbf":{"essential":true,"value":"<now>"}}}`). From now on every CAE
    /// access token issued to `upn` so far is answered on Azure DevOps routes (REST and git) with
    /// 401 and `WWW-Authenticate: Bearer ... error="insufficient_claims", claims="<base64>"`;
    /// `upn`'s refresh tokens are redeemed only with a `claims` parameter that carries these
    /// claims merged with the `cp1` capability (else 400 `interaction_required`). Tokens issued to clients that did not declare
    /// `cp1` are not CAE tokens and keep working until they expire. A new sign-in (device code,
    /// browser) starts a new session.
    pub fn revoke_session_under_cae(&self, upn: &str) -> String {
        let claims =
            format!("{{\"access_token\":{{\"nbf\":{{\"essential\":true,\"value\":\"{}\"}}}}}}", util::now_unix());
        let mut st = self.shared.state();
        for at in st.entra.access_tokens.values_mut() {
            if at.cae && at.principal.is_none() && at.upn.eq_ignore_ascii_case(upn) {
                at.challenge = Some(claims.clone());
            }
        }
        for rt in st.entra.refresh_tokens.values_mut() {
            if rt.upn.eq_ignore_ascii_case(upn) {
                rt.required_claims = Some(claims.clone());
            }
        }
        claims
    }

    /// The `claims` parameter of every request to the token, device-code and authorize
    /// endpoints so far, oldest first.
    pub fn token_claims(&self) -> Vec<TokenClaims> {
        self.shared.state().entra.claims_seen.clone()
    }

    /// Whether `access_token` (one the fake issued) is a CAE token: its client declared `cp1`.
    pub fn is_cae_token(&self, access_token: &str) -> bool {
        self.shared.state().entra.access_tokens.get(access_token).is_some_and(|at| at.cae)
    }
}
