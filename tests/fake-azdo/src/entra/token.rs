//! The token endpoint (§8.3-§8.6): the grant types, and the refresh-token and
//! authorization-code grants (the device-code grant is in device.rs).

use super::*;

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) fn token(shared: &Shared, req: &Request, tenant: &str, form: &str) -> Response {
    if let Err(r) = check_method(shared, req).and_then(|_| check_tenant(shared, req, tenant)) {
        return r;
    }
    let Some(grant) = query_param(form, "grant_type").filter(|g| !g.is_empty()) else {
        return missing(shared, req, "grant_type");
    };
    if grant == "client_credentials" {
        return crate::identity::client_credentials(shared, req, tenant, form);
    }
    let client_id = match check_client(shared, req, tenant, form) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match grant.as_str() {
        DEVICE_GRANT => device_grant(shared, req, &client_id, form),
        "authorization_code" => code_grant(shared, req, &client_id, form),
        "refresh_token" => refresh_grant(shared, req, &client_id, form),
        other => error(
            shared,
            req,
            400,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

/// The refresh-token grant (§8.5): a valid refresh token gets a new access token and a new
/// refresh token; the old one stays valid unless single-use refresh tokens are switched on.
pub(super) fn refresh_grant(shared: &Shared, req: &Request, client_id: &str, form: &str) -> Response {
    let Some(rt) = query_param(form, "refresh_token").filter(|r| !r.is_empty()) else {
        return missing(shared, req, "refresh_token");
    };
    let requested = match query_param(form, "scope").filter(|s| !s.trim().is_empty()) {
        Some(s) => match parse_scopes(shared, req, &s) {
            Ok(s) => Some(s),
            Err(r) => return r,
        },
        None => None,
    };
    let claims = match requested_claims(shared, req, "refresh_token", form) {
        Ok(claims) => claims,
        Err(r) => return r,
    };
    let mut st = shared.state();
    st.entra.refresh_grants += 1;
    let single_use = st.entra.single_use_refresh;
    let mut unanswered = false;
    let found = st.entra.refresh_tokens.get_mut(&rt).map(|r| {
        let status = r.status;
        let mut ok = status == RtStatus::Valid && r.client_id.eq_ignore_ascii_case(client_id);
        // A session revoked under CAE: only a request that carries the challenge's claims,
        // merged with the cp1 capability (a client gets a challenge only for having declared it).
        let answered = |c: &str| satisfies(claims.as_ref(), c) && declares_cp1(claims.as_ref());
        if ok && r.required_claims.as_deref().is_some_and(|c| !answered(c)) {
            (ok, unanswered) = (false, true);
        }
        if ok && single_use {
            r.status = RtStatus::Used;
        }
        (status, ok, r.upn.clone(), r.tid.clone(), r.scopes.clone(), r.issued_at)
    });
    let invalid_grant = |code: u32, text: &str| error(shared, req, 400, "invalid_grant", code, text);
    match found {
        None if !rt.starts_with("1.AXkA") => {
            drop(st);
            invalid_grant(9_002_313, "Invalid request. Request is malformed or invalid.")
        }
        Some((RtStatus::Revoked, _, _, _, _, issued_at)) => {
            drop(st);
            invalid_grant(
                50173,
                &format!(
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{}'.",
                    util::iso_date(issued_at),
                    util::iso_date(util::now_unix())
                ),
            )
        }
        Some((RtStatus::Expired, _, _, _, _, issued_at)) => {
            drop(st);
            invalid_grant(
                700_082,
                &format!(
                    "The refresh token has expired due to inactivity. The token was issued on {} and was inactive for 90.00:00:00.",
                    util::iso_date(issued_at)
                ),
            )
        }
        Some((_, true, upn, tid, scopes, _)) => {
            let mut scopes = requested.unwrap_or(scopes);
            // A refresh always returns a new refresh token.
            if !scopes.iter().any(|s| s.eq_ignore_ascii_case("offline_access")) {
                scopes.push("offline_access".to_string());
            }
            let user = st.ensure_user(&upn);
            let issued = issue_cae(&mut st, &user, client_id, &tid, &scopes, declares_cp1(claims.as_ref()));
            drop(st);
            success(req, &scopes, &issued)
        }
        // Not captured: Entra's answer to a refresh token of a session revoked under CAE that
        // comes without the challenge's claims; `interaction_required` is what MSAL reads as "ask
        // the user" (its error carries the claims to ask with).
        _ if unanswered => {
            drop(st);
            error(
                shared,
                req,
                400,
                "interaction_required",
                50133,
                "Session is invalid due to expiration or recent password change. The token request must carry the claims of the resource's claims challenge.",
            )
        }
        // Unknown, used (single-use mode) or another client's refresh token.
        _ => {
            drop(st);
            invalid_grant(
                70000,
                "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.",
            )
        }
    }
}

/// The authorization-code grant (§8.6): the code, the same redirect URI, and the verifier whose
/// S256 (or plain) transform is the challenge. A code is redeemed once and lives 10 minutes.
pub(super) fn code_grant(shared: &Shared, req: &Request, client_id: &str, form: &str) -> Response {
    use base64::Engine as _;
    shared.state().entra.code_grants += 1;
    let field = |name: &str| query_param(form, name).filter(|v| !v.is_empty());
    let Some(code) = field("code") else {
        return missing(shared, req, "code");
    };
    let Some(redirect_uri) = field("redirect_uri") else {
        return missing(shared, req, "redirect_uri");
    };
    let verifier = field("code_verifier");
    if let Some(v) = &verifier {
        shared.state().entra.verifiers.push(v.clone());
    }
    let claims = match requested_claims(shared, req, "authorization_code", form) {
        Ok(claims) => claims,
        Err(r) => return r,
    };
    let invalid_grant = |code: u32, text: &str| error(shared, req, 400, "invalid_grant", code, text);
    let mut st = shared.state();
    let Some(entry) = st.entra.codes.get_mut(&code) else {
        drop(st);
        return invalid_grant(9_002_313, "Invalid request. Request is malformed or invalid.");
    };
    if entry.redeemed {
        drop(st);
        return invalid_grant(54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.");
    }
    if entry.issued.elapsed() > Duration::from_secs(600) {
        drop(st);
        return invalid_grant(70008, "The provided authorization code or refresh token has expired due to inactivity.");
    }
    if !entry.client_id.eq_ignore_ascii_case(client_id) {
        drop(st);
        return invalid_grant(70000, "The provided value for the input parameter 'code' is not valid for this client.");
    }
    if entry.redirect_uri != redirect_uri {
        drop(st);
        // Not captured: the wording for a redirect URI that differs from the authorize request's.
        return invalid_grant(70000, "The redirect URI does not match the one of the authorization request.");
    }
    let Some(verifier) = verifier else {
        drop(st);
        return invalid_grant(
            50148,
            "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
        );
    };
    let transformed = if entry.method == "S256" {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
    } else {
        verifier.clone()
    };
    if transformed != entry.challenge {
        drop(st);
        return invalid_grant(
            501_481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        );
    }
    entry.redeemed = true;
    let (upn, tid, scopes) = (entry.upn.clone(), entry.tid.clone(), entry.scopes.clone());
    // A new sign-in: a new session, a CAE token when the client declared cp1.
    let cae = entry.cp1 || declares_cp1(claims.as_ref());
    st.entra.codes_redeemed += 1;
    let user = st.ensure_user(&upn);
    let issued = issue_cae(&mut st, &user, client_id, &tid, &scopes, cae);
    drop(st);
    success(req, &scopes, &issued)
}
