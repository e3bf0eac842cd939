//! Managed identities: the instance metadata endpoint and the App Service form, each handing
//! out the managed identity's tokens for a resource.

use super::*;

/// `GET /metadata/identity/oauth2/token`: the instance metadata endpoint.
pub(crate) fn imds(shared: &Shared, req: &Request) -> Response {
    shared.state().ids.mi_requests += 1;
    let err = |status: u16, error: &str, text: &str| {
        Response::new(status)
            .header("Server", "IMDS/150.870.65.1544")
            .body(JSON, format!("{{\"error\":{},\"error_description\":{}}}", json_str(error), json_str(text)))
    };
    if req.header("Metadata") != Some("true") {
        return err(400, "invalid_request", "Required metadata header not specified");
    }
    if req.header("X-Forwarded-For").is_some() {
        return err(400, "invalid_request", "Request is not allowed through a proxy");
    }
    if req.method != "GET" {
        return err(405, "invalid_request", "Method not allowed");
    }
    if query_param(&req.query, "api-version").is_none() {
        return err(400, "invalid_request", "Required queryparam 'api-version' is missing");
    }
    let resource = query_param(&req.query, "resource").unwrap_or_default();
    let exchange = resource.trim_end_matches("/.default") == EXCHANGE_AUDIENCE;
    if !is_ado_resource(&resource) && !exchange {
        return err(400, "invalid_resource", "AADSTS500011: The resource principal named was not found in the tenant");
    }
    let by_client = query_param(&req.query, "client_id");
    let by_resource = query_param(&req.query, "msi_res_id");
    match managed(shared, by_client.as_deref(), by_resource.as_deref()) {
        Some(principal) => {
            // For api://AzureADTokenExchange: the identity's token as another app's assertion
            // (issuer the tenant, subject the identity's object id).
            let token = if exchange {
                let issuer = format!("https://login.microsoftonline.com/{TENANT_ID}/v2.0");
                external_token(shared, &issuer, &principal.object_id, EXCHANGE_AUDIENCE, MI_TOKEN_LIFETIME)
            } else {
                issue(shared, &principal, MI_TOKEN_LIFETIME)
            };
            let now = util::now_unix();
            Response::new(200).header("Server", "IMDS/150.870.65.1544").body(JSON, format!(
                "{{\"access_token\":{},\"client_id\":{},\"expires_in\":\"{MI_TOKEN_LIFETIME}\",\"expires_on\":\"{}\",\"ext_expires_in\":\"{MI_TOKEN_LIFETIME}\",\"not_before\":\"{now}\",\"resource\":\"{ADO_RESOURCE_ID}\",\"token_type\":\"Bearer\"}}",
                json_str(&token),
                json_str(&principal.client_id),
                now + MI_TOKEN_LIFETIME
            ))
        }
        None => err(400, "invalid_request", "Identity not found"),
    }
}

/// `GET /msi/token`: the App Service / Functions / Container Apps form (`X-IDENTITY-HEADER`).
pub(crate) fn app_service(shared: &Shared, req: &Request) -> Response {
    shared.state().ids.mi_requests += 1;
    let err = |status: u16, text: &str| {
        Response::new(status).body(JSON, format!("{{\"statusCode\":{status},\"message\":{}}}", json_str(text)))
    };
    let header = shared.state().ids.app_service_header.clone();
    if header.is_none() || req.header("X-IDENTITY-HEADER") != header.as_deref() {
        return err(401, "Unauthorized: the X-IDENTITY-HEADER is missing or does not match.");
    }
    if query_param(&req.query, "api-version").as_deref() != Some("2019-08-01") {
        return err(400, "The api-version is missing or not supported.");
    }
    if !query_param(&req.query, "resource").is_some_and(|r| is_ado_resource(&r)) {
        return err(400, "The resource is not valid.");
    }
    let by_client = query_param(&req.query, "client_id");
    let by_resource = query_param(&req.query, "mi_res_id");
    match managed(shared, by_client.as_deref(), by_resource.as_deref()) {
        Some(principal) => {
            let token = issue(shared, &principal, MI_TOKEN_LIFETIME);
            let now = util::now_unix();
            Response::new(200).body(JSON, format!(
                "{{\"access_token\":{},\"expires_on\":\"{}\",\"resource\":\"{ADO_RESOURCE_ID}\",\"token_type\":\"Bearer\",\"client_id\":{}}}",
                json_str(&token),
                now + MI_TOKEN_LIFETIME,
                json_str(&principal.client_id)
            ))
        }
        None => err(400, "No managed identity found for the specified parameters."),
    }
}

pub(super) fn is_ado_resource(r: &str) -> bool {
    let r = r.trim_end_matches('/');
    r.eq_ignore_ascii_case(ADO_RESOURCE_ID) || r.eq_ignore_ascii_case("https://app.vssps.visualstudio.com")
}

/// The managed identity a request names: by client id, by resource id, or the system-assigned one.
pub(super) fn managed(shared: &Shared, client_id: Option<&str>, resource_id: Option<&str>) -> Option<Principal> {
    let st = shared.state();
    let found = st.ids.managed.iter().find(|(id, assignment)| match (client_id, resource_id, assignment) {
        (Some(c), None, _) => id.eq_ignore_ascii_case(c),
        (None, Some(r), Assignment::User { resource_id }) => resource_id.eq_ignore_ascii_case(r),
        (None, None, Assignment::System) => true,
        _ => false,
    })?;
    st.ids.principal(&found.0).map(|p| p.principal.clone())
}
