//! The authorize page (§8.6) a browser is sent to: it records the request and, as the test
//! scripted, redirects to the loopback `redirect_uri` with a code or an error, or stays open.

use super::*;

/// An HTML page as login.microsoftonline.com answers a browser.
pub(super) fn page(req: &Request, status: u16, body: String) -> Response {
    let (headers, _) = entra_headers(req);
    Response::new(status).headers(headers).header("X-Frame-Options", "DENY").body(
        "text/html; charset=utf-8",
        format!("<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body>{body}</body></html>"),
    )
}

/// Escapes text for HTML.
pub(super) fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// An error page Entra shows itself, without redirecting (an unknown client, a redirect URI that
/// matches no registration, an unknown tenant).
pub(super) fn error_page(req: &Request, code: u32, text: &str) -> Response {
    page(
        req,
        400,
        format!("<h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS{code}: {}</p>", html(text)),
    )
}

/// `redirect_uri` matches the Visual Studio client's `http://localhost` registration: `http`,
/// host `localhost`, any port (ignored in matching), no path but `/` (reply-url rules).
pub(super) fn loopback_redirect(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://localhost") else {
        return false;
    };
    let (port, path) = match rest.strip_prefix(':') {
        Some(after) => after.split_at(after.find('/').unwrap_or(after.len())),
        None => ("", rest),
    };
    port.bytes().all(|b| b.is_ascii_digit()) && (rest.starts_with(':') != port.is_empty()) && matches!(path, "" | "/")
}

/// The answer that takes the browser back to `redirect_uri` with `params`: a 302 with a query
/// (`response_mode=query`), or for `form_post` the page Entra sends, whose script POSTs a hidden
/// form there.
pub(super) fn redirect(req: &Request, redirect_uri: &str, mode: &str, params: &[(&str, String)]) -> Response {
    if mode == "form_post" {
        let inputs: String = params
            .iter()
            .map(|(k, v)| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\" />", html(v)))
            .collect();
        let body = format!(
            "<form method=\"POST\" name=\"hiddenform\" action=\"{}\">{inputs}<noscript><p>Script is disabled. Click Submit to continue.</p><input type=\"submit\" value=\"Submit\" /></noscript></form><script language=\"javascript\">document.forms[0].submit();</script>",
            html(redirect_uri)
        );
        return page(req, 200, body);
    }
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", util::percent_encode(v))).collect();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let (headers, _) = entra_headers(req);
    Response::new(302).headers(headers).header("Location", format!("{redirect_uri}{sep}{}", query.join("&")))
}

/// An OAuth error sent back to the redirect URI (§8.6).
pub(super) fn redirect_error(
    req: &Request,
    redirect_uri: &str,
    mode: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let mut params = vec![("error", error.to_string()), ("error_description", description.to_string())];
    if let Some(state) = state {
        params.push(("state", state.to_string()));
    }
    redirect(req, redirect_uri, mode, &params)
}

/// `GET /{tenant}/oauth2/v2.0/authorize` (§8.6): checks the request as Entra does for a public
/// client, records it, and answers as the person's sign-in ends ([`BrowserPlan`]); with no plan,
/// the sign-in page stays on screen, as when nobody signs in.
pub(crate) fn authorize(shared: &Shared, req: &Request, tenant: &str, query: &str) -> Response {
    let param = |name: &str| query_param(query, name).filter(|v| !v.is_empty());
    if check_tenant(shared, req, tenant).is_err() {
        return error_page(req, 90002, &format!("Tenant '{tenant}' not found."));
    }
    let Some(client_id) = param("client_id") else {
        return error_page(req, 900_144, "The request body must contain the following parameter: 'client_id'.");
    };
    if !shared.state().entra.allowed_clients.iter().any(|c| c.eq_ignore_ascii_case(&client_id)) {
        return error_page(
            req,
            700_016,
            &format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'."),
        );
    }
    let redirect_uri = param("redirect_uri").unwrap_or_default();
    if !loopback_redirect(&redirect_uri) {
        return error_page(req, 50011, &format!("The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'."));
    }
    let record = crate::AuthorizeRequest {
        tenant: tenant.to_string(),
        client_id: client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        response_type: param("response_type").unwrap_or_default(),
        response_mode: param("response_mode").unwrap_or_default(),
        scope: param("scope").unwrap_or_default(),
        state: param("state"),
        code_challenge: param("code_challenge"),
        code_challenge_method: param("code_challenge_method"),
        prompt: param("prompt"),
        login_hint: param("login_hint"),
        domain_hint: param("domain_hint"),
        claims: param("claims"),
    };
    shared.state().entra.authorizations.push(record.clone());
    let mode = match record.response_mode.as_str() {
        "" | "query" => "query",
        "form_post" => "form_post",
        _ => {
            return redirect_error(
                req,
                &redirect_uri,
                "query",
                record.state.as_deref(),
                "invalid_request",
                "AADSTS900144: The response_mode is not supported.",
            );
        }
    };
    let fail = |error: &str, text: &str| redirect_error(req, &redirect_uri, mode, record.state.as_deref(), error, text);
    if record.response_type != "code" {
        return fail("unsupported_response_type", "AADSTS700054: response_type 'code' is required.");
    }
    let Ok(claims) = requested_claims(shared, req, "authorize", query) else {
        return fail("invalid_request", "AADSTS9002313: Invalid request. Request is malformed or invalid.");
    };
    let cp1 = declares_cp1(claims.as_ref());
    let scopes: Vec<String> = record.scope.split_whitespace().map(str::to_string).collect();
    let known =
        |s: &String| ADO_DEFAULT_SCOPES.iter().chain(RESERVED_SCOPES.iter()).any(|ok| ok.eq_ignore_ascii_case(s));
    if scopes.is_empty()
        || !scopes.iter().all(known)
        || !scopes.iter().any(|s| ADO_DEFAULT_SCOPES.iter().any(|ok| ok.eq_ignore_ascii_case(s)))
    {
        return fail("invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid.");
    }
    // Not captured: Entra lets a native client skip PKCE; the fake insists (the helper always
    // sends it) and accepts the two documented methods.
    let method = record.code_challenge_method.clone().unwrap_or_else(|| "plain".into());
    let challenge_ok = record.code_challenge.as_deref().is_some_and(|c| {
        (43..=128).contains(&c.len()) && c.bytes().all(|b| B64URL.contains(&b) || b == b'.' || b == b'~')
    });
    if !challenge_ok || !matches!(method.as_str(), "S256" | "plain") {
        return fail(
            "invalid_request",
            "AADSTS501491: Invalid size of Code_Challenge parameter or unsupported code_challenge_method.",
        );
    }
    let plan = shared.state().entra.browser.clone();
    match plan {
        None => page(req, 200, "<h1>Sign in</h1><form method=\"POST\"><input type=\"email\" name=\"loginfmt\" placeholder=\"Email, phone, or Skype\" /></form>".into()),
        Some(BrowserPlan::Deny) => fail("access_denied", "the user canceled the authentication"),
        Some(BrowserPlan::Approve(planned)) => {
            // An empty plan signs in whoever `login_hint` names (the person took the hint).
            let upn = if planned.is_empty() { record.login_hint.clone().unwrap_or_default() } else { planned };
            if upn.is_empty() {
                return fail("login_required", "AADSTS50058: A silent sign-in request was sent but no user is signed in.");
            }
            let code = format!("0.AXoA{}", util::random_string(B64URL, 400));
            let mut st = shared.state();
            st.ensure_user(&upn);
            st.entra.codes.insert(
                code.clone(),
                AuthCode {
                    upn,
                    client_id,
                    tid: token_tenant(tenant).to_string(),
                    redirect_uri: redirect_uri.clone(),
                    challenge: record.code_challenge.clone().unwrap_or_default(),
                    method,
                    scopes,
                    issued: Instant::now(),
                    redeemed: false,
                    cp1,
                },
            );
            st.entra.issued.push(code.clone());
            drop(st);
            let mut params = vec![("code", code)];
            if let Some(state) = &record.state {
                params.push(("state", state.clone()));
            }
            params.push(("session_state", util::guid()));
            redirect(req, &redirect_uri, mode, &params)
        }
    }
}
