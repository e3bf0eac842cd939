//! Issuing Entra tokens (JWT-shaped, recognised by lookup) and the success answer of a grant.

use super::*;

pub(super) fn b64url(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s.as_bytes())
}

/// A JWT-shaped string: base64url header and claims, and 342 characters of "signature" (an
/// RS256 signature's length). The fake recognises its tokens by lookup, never by verifying.
pub(super) fn jwt(claims: &str) -> String {
    format!(
        "{}.{}.{}",
        b64url("{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"fake-azdo\"}"),
        b64url(claims),
        util::random_string(B64URL, 342)
    )
}

/// The tenant id tokens from `tenant` carry: the fake's users all live in [`TENANT_ID`].
pub(super) fn token_tenant(tenant: &str) -> &'static str {
    if tenant.eq_ignore_ascii_case("consumers") {
        MSA_HOME_TENANT
    } else {
        TENANT_ID
    }
}

/// Issues an access token (and a refresh token with `offline_access`, an id token with
/// `openid`) for `user`, recording them. Not a CAE token (see [`issue_cae`]).
pub(crate) fn issue(st: &mut State, user: &User, client_id: &str, tid: &str, scopes: &[String]) -> Issued {
    issue_cae(st, user, client_id, tid, scopes, false)
}

/// [`issue`], a CAE token when `cae` (the client declared `cp1`): its access token carries
/// `xms_cc` and its session can be revoked under CAE.
pub(crate) fn issue_cae(
    st: &mut State,
    user: &User,
    client_id: &str,
    tid: &str,
    scopes: &[String],
    cae: bool,
) -> Issued {
    let now = util::now_unix();
    let has = |s: &str| scopes.iter().any(|x| x.eq_ignore_ascii_case(s));
    let access_token = jwt(&format!(
        "{{\"aud\":\"{ADO_RESOURCE_ID}\",\"iss\":\"https://sts.windows.net/{tid}/\",\"iat\":{now},\"nbf\":{now},\"exp\":{exp},\"appid\":{},\"name\":{},\"oid\":{},\"scp\":\"user_impersonation\",\"tid\":\"{tid}\",\"unique_name\":{upn},\"upn\":{upn},\"uti\":\"{}\",\"ver\":\"1.0\"{}}}",
        json_str(client_id),
        json_str(&user.display_name),
        json_str(&user.id),
        util::random_string(B64URL, 22),
        if cae { ",\"xms_cc\":[\"CP1\"]" } else { "" },
        exp = now + ACCESS_TOKEN_LIFETIME,
        upn = json_str(&user.upn),
    ));
    let e = &mut st.entra;
    e.access_tokens.insert(
        access_token.clone(),
        AccessToken {
            upn: user.upn.clone(),
            tid: tid.to_string(),
            expires_at: now + ACCESS_TOKEN_LIFETIME,
            principal: None,
            cae,
            challenge: None,
        },
    );
    e.issued.push(access_token.clone());
    let refresh_token = has("offline_access").then(|| {
        let rt = format!("1.AXkA{}", util::random_string(B64URL, 250));
        e.refresh_tokens.insert(
            rt.clone(),
            RefreshToken {
                upn: user.upn.clone(),
                client_id: client_id.to_string(),
                tid: tid.to_string(),
                scopes: scopes.to_vec(),
                issued_at: now,
                status: RtStatus::Valid,
                required_claims: None,
            },
        );
        e.issued.push(rt.clone());
        rt
    });
    let id_token = has("openid").then(|| {
        let t = jwt(&format!(
            "{{\"aud\":{},\"iss\":\"https://login.microsoftonline.com/{tid}/v2.0\",\"iat\":{now},\"nbf\":{now},\"exp\":{},\"name\":{},\"oid\":{},\"preferred_username\":{},\"sub\":\"{}\",\"tid\":\"{tid}\",\"ver\":\"2.0\"}}",
            json_str(client_id),
            now + ACCESS_TOKEN_LIFETIME,
            json_str(&user.display_name),
            json_str(&user.id),
            json_str(&user.upn),
            util::random_string(B64URL, 43),
        ));
        e.issued.push(t.clone());
        t
    });
    Issued { access_token, refresh_token, id_token }
}

/// The §8.4 success body, in the documented key order (plus `ext_expires_in`, which real
/// responses carry).
pub(super) fn success(req: &Request, scopes: &[String], issued: &Issued) -> Response {
    let mut scope = vec![GRANTED_SCOPE.to_string()];
    for r in RESERVED_SCOPES {
        if scopes.iter().any(|s| s.eq_ignore_ascii_case(r)) {
            scope.push(r.to_string());
        }
    }
    let mut body = format!(
        "{{\"token_type\":\"Bearer\",\"scope\":{},\"expires_in\":{ACCESS_TOKEN_LIFETIME},\"ext_expires_in\":{ACCESS_TOKEN_LIFETIME},\"access_token\":{}",
        json_str(&scope.join(" ")),
        json_str(&issued.access_token)
    );
    if let Some(rt) = &issued.refresh_token {
        body.push_str(&format!(",\"refresh_token\":{}", json_str(rt)));
    }
    if let Some(id) = &issued.id_token {
        body.push_str(&format!(",\"id_token\":{}", json_str(id)));
    }
    body.push('}');
    let (headers, _) = entra_headers(req);
    Response::new(200).headers(headers).body(JSON, body)
}
