//! What every Entra endpoint checks first (method, tenant, client, scopes), and its error
//! answers in Entra's shape.

use super::*;

/// Headers of a login.microsoftonline.com answer; returns them with the request id (the
/// `trace_id` of error bodies).
pub(super) fn entra_headers(req: &Request) -> (Vec<(String, String)>, String) {
    let request_id = util::guid();
    let mut v: Vec<(String, String)> = vec![
        ("Date".into(), util::http_date(util::now_unix())),
        ("Cache-Control".into(), "no-store, no-cache".into()),
        ("Pragma".into(), "no-cache".into()),
        ("Expires".into(), "-1".into()),
        ("Strict-Transport-Security".into(), "max-age=31536000; includeSubDomains".into()),
        ("X-Content-Type-Options".into(), "nosniff".into()),
        ("P3P".into(), "CP=\"DSP CUR OTPi IND OTRi ONL FIN\"".into()),
        ("x-ms-request-id".into(), request_id.clone()),
        ("x-ms-ests-server".into(), "2.1.99999.1 - FAKE ProdSlices".into()),
        ("X-XSS-Protection".into(), "0".into()),
    ];
    if let Some(id) = req.header("client-request-id") {
        v.push(("client-request-id".into(), id.to_string()));
    }
    (v, request_id)
}

/// An Entra error answer: `{status}` with the §8.3/§8.5 body.
pub(crate) fn error(shared: &Shared, req: &Request, status: u16, error: &str, code: u32, text: &str) -> Response {
    let (headers, trace) = entra_headers(req);
    let correlation = req.header("client-request-id").map(str::to_string).unwrap_or_else(util::guid);
    let ts = util::entra_timestamp(util::now_unix());
    let authority = shared.state().authority.clone();
    let description =
        format!("AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {ts}");
    let body = format!(
        "{{\"error\":{},\"error_description\":{},\"error_codes\":[{code}],\"timestamp\":\"{ts}\",\"trace_id\":\"{trace}\",\"correlation_id\":{},\"error_uri\":{}}}",
        json_str(error),
        json_str(&description),
        json_str(&correlation),
        json_str(&format!("{authority}/error?code={code}"))
    );
    Response::new(status).headers(headers).body(JSON, body)
}

pub(super) fn missing(shared: &Shared, req: &Request, name: &str) -> Response {
    error(
        shared,
        req,
        400,
        "invalid_request",
        900_144,
        &format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// `common`, `organizations`, `consumers` and the fake's tenant are known; anything else
/// (the all-zero MSA tenant included) is AADSTS90002, as for a tenant that does not exist.
pub(super) fn check_tenant(shared: &Shared, req: &Request, tenant: &str) -> Result<(), Response> {
    let known = ["common", "organizations", "consumers", TENANT_ID].iter().any(|t| t.eq_ignore_ascii_case(tenant));
    if known {
        return Ok(());
    }
    Err(error(
        shared,
        req,
        400,
        "invalid_request",
        90002,
        &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."),
    ))
}

pub(super) fn check_method(shared: &Shared, req: &Request) -> Result<(), Response> {
    if req.method == "POST" {
        return Ok(());
    }
    Err(error(
        shared,
        req,
        400,
        "invalid_request",
        900_561,
        &format!("The endpoint only accepts POST, OPTIONS requests. Received a {} request.", req.method),
    ))
}

/// `client_id` present and allowed: AADSTS900144 when absent; AADSTS700016
/// (`unauthorized_client`) for an application the directory does not know.
pub(super) fn check_client(shared: &Shared, req: &Request, tenant: &str, form: &str) -> Result<String, Response> {
    let Some(client_id) = query_param(form, "client_id").filter(|c| !c.is_empty()) else {
        return Err(missing(shared, req, "client_id"));
    };
    let allowed = shared.state().entra.allowed_clients.iter().any(|c| c.eq_ignore_ascii_case(&client_id));
    if allowed {
        return Ok(client_id);
    }
    Err(error(
        shared,
        req,
        400,
        "unauthorized_client",
        700_016,
        &format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."),
    ))
}

/// Whether `scope` is the Azure DevOps resource's `.default`.
pub(crate) fn is_ado_default_scope(scope: &str) -> bool {
    ADO_DEFAULT_SCOPES.iter().any(|ok| ok.eq_ignore_ascii_case(scope))
}

/// Splits and checks `scope`: it must name the Azure DevOps resource's `.default`; other
/// scopes than the OpenID ones are AADSTS70011 (the fake serves no other resource).
pub(super) fn parse_scopes(shared: &Shared, req: &Request, scope: &str) -> Result<Vec<String>, Response> {
    let scopes: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
    let invalid = |what: &str| {
        error(
            shared,
            req,
            400,
            "invalid_scope",
            70011,
            &format!("The provided value for the input parameter 'scope' is not valid. The scope {what} is not valid."),
        )
    };
    if let Some(bad) = scopes
        .iter()
        .find(|s| !ADO_DEFAULT_SCOPES.iter().chain(RESERVED_SCOPES.iter()).any(|ok| ok.eq_ignore_ascii_case(s)))
    {
        return Err(invalid(bad));
    }
    if !scopes.iter().any(|s| ADO_DEFAULT_SCOPES.iter().any(|ok| ok.eq_ignore_ascii_case(s))) {
        return Err(invalid(scope));
    }
    Ok(scopes)
}
