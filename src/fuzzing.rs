//! Entry points for the fuzz targets in `fuzz/` (README.md, Development): the parsers of server
//! replies, which live in private modules, called exactly as the helper calls them after a
//! request, with what they made of the reply handed back without its secrets; and the run
//! builder with the settings every layer reads. Not an API: hidden from the docs, it changes
//! whenever the targets need it. (The protocol, URL resolution, the settings table and the file
//! store are fuzzed through their public API.)

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::StatusCode;

use crate::azure::connection_data::{self, Verdict};
use crate::azure::{entra, pats, tenant};
use crate::time::now;

/// Reply headers from `(name, value)` pairs, in order; a pair HTTP cannot carry (a name with a
/// space, a value with a line break) is left out, as no reply could hold it.
fn header_map(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value)) {
            map.append(name, value);
        }
    }
    map
}

/// The verdict on a connectionData reply: `valid: USER`, `invalid: REASON` or `unknown: REASON`
/// (`None` for a status HTTP cannot carry).
pub fn connection_data(status: u16, headers: &[(&str, &[u8])], body: &[u8]) -> Option<String> {
    let status = StatusCode::from_u16(status).ok()?;
    Some(match connection_data::judge(status, &header_map(headers), body) {
        Verdict::Valid { user } => format!("valid: {user}"),
        Verdict::Invalid { reason } => format!("invalid: {reason}"),
        Verdict::Unknown { reason } => format!("unknown: {reason}"),
    })
}

/// The tenant an unauthenticated challenge names (`common` when none).
pub fn tenant_from_challenge(headers: &[(&str, &[u8])]) -> String {
    tenant::tenant_from_challenge(&header_map(headers))
}

/// A PAT as the lifecycle API's reply described it; of the secret, only whether it came.
#[derive(Debug)]
pub struct Pat {
    pub authorization_id: String,
    pub display_name: String,
    pub scope: String,
    pub valid_to: Option<i64>,
    pub has_token: bool,
}

impl From<pats::PatInfo> for Pat {
    fn from(p: pats::PatInfo) -> Pat {
        Pat {
            has_token: p.token.is_some(),
            authorization_id: p.authorization_id,
            display_name: p.display_name,
            scope: p.scope,
            valid_to: p.valid_to,
        }
    }
}

/// The reply to a PAT create: the new PAT, or the error's message.
pub fn pat_create(status: u16, body: &[u8]) -> Result<Pat, String> {
    pats::parse_create_reply(status, body).map(Pat::from).map_err(|e| e.to_string())
}

/// One page of a PAT list: its PATs and the continuation token, or the error's message.
pub fn pat_list(status: u16, body: &[u8]) -> Result<(Vec<Pat>, String), String> {
    pats::parse_list_reply(status, body)
        .map(|(list, next)| (list.into_iter().map(Pat::from).collect(), next))
        .map_err(|e| e.to_string())
}

/// An Entra token reply as read: the access token's lifetime from now, and whether a refresh
/// token came with it.
#[derive(Debug)]
pub struct Tokens {
    pub lifetime_secs: i64,
    pub refresh_token: bool,
}

/// The reply of Entra's token endpoint (refresh or device code poll), or the error's message.
pub fn entra_token(status: u16, body: &[u8]) -> Result<Tokens, String> {
    let tokens = entra::parse_token_reply(status, body).map_err(|e| e.to_string())?;
    Ok(Tokens { lifetime_secs: tokens.expires_at - now(), refresh_token: tokens.refresh_token.is_some() })
}

/// A device authorization reply as read: what the person is shown, and the timings.
#[derive(Debug)]
pub struct DeviceCode {
    pub user_code: String,
    pub verification_uri: String,
    pub lifetime_secs: i64,
    pub interval: Duration,
}

/// The reply of Entra's device authorization endpoint, or the error's message.
pub fn entra_device_code(status: u16, body: &[u8]) -> Result<DeviceCode, String> {
    let code = entra::parse_device_code_reply(status, body).map_err(|e| e.to_string())?;
    Ok(DeviceCode {
        user_code: code.user_code,
        verification_uri: code.verification_uri,
        lifetime_secs: code.expires_at - now(),
        interval: code.interval,
    })
}

/// The settings a run for the organization `contoso` reads from `config` and `env` (the
/// helper's, then the build identities'), as `get` reads them: `Err` with the one-line message
/// when one is refused.
pub fn settings(config: crate::config::GitConfig, env: crate::config::Environment) -> Result<(), String> {
    use crate::run::{build, Inputs};
    let inputs = Inputs {
        env,
        config,
        data_dir: Some(std::path::PathBuf::from("/nonexistent/fuzz")),
        messages: crate::messages::Messages::stderr(),
    };
    let instances = inputs.instances().map_err(|e| e.to_string())?;
    let target = crate::org::Target::org_in(&instances.services, "contoso").map_err(|e| e.to_string())?;
    let (run, target) = build::assemble(inputs, instances, Some(target), None).map_err(|e| e.to_string())?;
    crate::identity::settings(&run, target.as_ref()).map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_points_read_what_the_service_sends() {
        let json: &[(&str, &[u8])] = &[("content-type", b"application/json; charset=utf-8")];
        let body =
            br#"{"authenticatedUser":{"id":"22157d54-1821-6536-a446-928b06348385","providerDisplayName":"Alice"}}"#;
        assert_eq!(connection_data(200, json, body).as_deref(), Some("valid: Alice"));
        assert_eq!(connection_data(1000, json, body), None);
        let challenge: &[(&str, &[u8])] = &[(
            "www-authenticate",
            b"Bearer authorization_uri=https://login.example/72f988bf-86f1-41af-91ab-2d7cd011db47",
        )];
        assert_eq!(tenant_from_challenge(challenge), "72f988bf-86f1-41af-91ab-2d7cd011db47");
        assert_eq!(tenant_from_challenge(&[("bad name", b"x"), ("x-vss-resourcetenant", b"a\nb")]), "common");
        let created =
            br#"{"patToken":{"displayName":"n","authorizationId":"4ab5764f","token":"tok"},"patTokenError":"none"}"#;
        let pat = pat_create(200, created).expect("created");
        assert!(pat.has_token && pat.authorization_id == "4ab5764f");
        let err = pat_create(200, br#"{"patToken":null,"patTokenError":"invalidScope"}"#).expect_err("refused");
        assert!(err.contains("invalidScope"), "{err}");
        let (page, next) =
            pat_list(200, br#"{"continuationToken":"c","patTokens":[{"authorizationId":"a"}]}"#).expect("page");
        assert_eq!((page.len(), next.as_str()), (1, "c"));
        let tokens =
            entra_token(200, br#"{"access_token":"at","refresh_token":"rt","expires_in":3599}"#).expect("tokens");
        assert!(tokens.refresh_token && (3598..=3599).contains(&tokens.lifetime_secs), "{tokens:?}");
        let err =
            entra_token(400, br#"{"error":"invalid_grant","error_description":"AADSTS700082: expired\r\nTrace"}"#);
        assert_eq!(err.expect_err("refused"), "Entra ID refused: invalid_grant: AADSTS700082: expired");
        let code = entra_device_code(200, br#"{"user_code":"FSBFZMBKC","device_code":"d","verification_uri":"https://microsoft.com/devicelogin","interval":"5"}"#)
            .expect("code");
        assert_eq!((code.user_code.as_str(), code.interval), ("FSBFZMBKC", Duration::from_secs(5)));
    }
}
