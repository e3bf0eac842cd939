//! Azure DevOps responses: common headers, the org challenge, connectionData, error bodies and
//! fault responses. Shapes follow captures of the real service; each function's comment says
//! where its values come from, and which ones are inferred where no capture exists.

use crate::http::{Request, Response};
use crate::server::{GitEndpoint, Target};
use crate::util::{self, json_str, percent_encode};
use crate::{Auth, Org, Shared, State, User, ANONYMOUS_ID, MSA_TENANT_ID, REALM, TENANT_ID};

pub(crate) const JSON: &str = "application/json; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";
/// The version reported when the request names none.
const DEFAULT_API_VERSION: &str = "7.1-preview.1";
/// `locationServiceData.serviceOwner` of Azure DevOps Services (from captures).
const SERVICE_OWNER: &str = "00025394-6065-48ca-87d9-7f5672854ef7";
const REQUEST_CONTEXT: &str = "appId=cid-v1:0f8b2d32-fdff-4d39-87b8-548fb9450eb7";
const P3P: &str = "CP=\"CAO DSP COR ADMa DEV CONo TELo CUR PSA PSD TAI IVDo OUR SAMi BUS DEM NAV STA UNI COM INT PHY ONL FIN PUR LOC CNT\"";

type Headers = Vec<(String, String)>;

fn h(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_string(), value.into())
}

/// Correlation headers every Azure DevOps response carries: `ActivityId`, `X-TFS-ProcessId`,
/// `X-TFS-Session` (echoed, else the activity id), `X-VSS-E2EID`, `X-VSS-SenderDeploymentId`,
/// plus `Date` and the security headers. Git responses get these only; API responses also
/// [`cache_headers`].
pub(crate) fn id_headers(shared: &Shared, req: &Request) -> Headers {
    let now = util::now_unix();
    let activity = util::guid();
    let session = req.header("X-TFS-Session").map(str::to_string).unwrap_or_else(|| activity.clone());
    vec![
        h("Date", util::http_date(now)),
        h("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
        h("X-TFS-ProcessId", shared.process_id.clone()),
        h("ActivityId", activity.clone()),
        h("X-TFS-Session", session),
        h("X-VSS-E2EID", activity),
        h("X-VSS-SenderDeploymentId", shared.deployment_id.clone()),
        h("X-Frame-Options", "SAMEORIGIN"),
        h("X-Content-Type-Options", "nosniff"),
    ]
}

/// The rest of §2.2's headers on REST API responses.
fn cache_headers() -> Headers {
    let now = util::now_unix();
    vec![
        h("Cache-Control", "no-cache"),
        h("Pragma", "no-cache"),
        h("Expires", "-1"),
        h("P3P", P3P),
        h("Request-Context", REQUEST_CONTEXT),
        h("Access-Control-Expose-Headers", "Request-Context"),
        h("X-Cache", "CONFIG_NOCACHE"),
        h(
            "X-MSEdge-Ref",
            format!(
                "Ref A: {:032X} Ref B: FAKE01EDGE0101 Ref C: {}",
                u128::from(util::random_u64()) << 64 | u128::from(util::random_u64()),
                util::iso_date(now)
            ),
        ),
    ]
}

pub(crate) fn api_headers(shared: &Shared, req: &Request) -> Headers {
    let mut v = id_headers(shared, req);
    v.extend(cache_headers());
    v
}

/// The three `WWW-Authenticate` lines and the tenant headers of an unauthenticated request
/// (§2.3, §4.2): what GCM reads to find the org's Entra authority. An MSA-backed org sends a
/// bare `Bearer` and the all-zero tenant ("MSA-backed accounts don't expose a parameter").
pub(crate) fn challenge_headers(st: &State, org: &Org) -> Headers {
    let (bearer, tenant) = if org.msa {
        ("Bearer".to_string(), MSA_TENANT_ID)
    } else {
        (format!("Bearer authorization_uri={}/{TENANT_ID}", st.authority), TENANT_ID)
    };
    vec![
        h("WWW-Authenticate", bearer),
        h("WWW-Authenticate", format!("Basic realm=\"{REALM}\"")),
        h("WWW-Authenticate", "TFS-Federated"),
        h("X-TFS-FedAuthRealm", REALM),
        h("X-TFS-FedAuthIssuer", format!("https://{}.visualstudio.com/", org.name)),
        h("X-VSS-ResourceTenant", tenant),
        h("X-VSS-AuthorizationEndpoint", format!("https://{}.vssps.visualstudio.com/", org.name)),
    ]
}

/// The `WWW-Authenticate` line of a 401 for credentials that were sent but rejected (captured:
/// only the Basic realm).
pub(crate) fn basic_challenge() -> (String, String) {
    h("WWW-Authenticate", format!("Basic realm=\"{REALM}\""))
}

/// The `WWW-Authenticate` lines of a 401 for a CAE token whose session was revoked: the claims
/// challenge (identities sheet §8: "the fields sit in one `WWW-Authenticate` header among
/// possibly several"), then the Basic realm every rejection carries. Whether Azure DevOps sends
/// the challenge on git's endpoints too is not confirmed (§9.5); the fake does.
pub(crate) fn cae_challenge_headers(st: &State, claims: &str) -> Headers {
    vec![h("WWW-Authenticate", crate::entra::cae_challenge_header(&st.authority, claims)), basic_challenge()]
}

/// 401 for a CAE token whose session was revoked: the claims challenge, and the TF400813 body of
/// a rejected token (not captured for CAE).
pub(crate) fn cae_rejected(shared: &Shared, req: &Request, st: &State, claims: &str) -> Response {
    let message = "TF400813: The user '' is not authorized to access this resource.";
    Response::new(401)
        .headers(api_headers(shared, req))
        .headers(cae_challenge_headers(st, claims))
        .header("X-TFS-ServiceError", percent_encode(message))
        .body(
            JSON,
            wrapped_exception(
                message,
                "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, Microsoft.TeamFoundation.Framework.Server",
                "UnauthorizedRequestException",
            ),
        )
}

/// `X-TFS-ServiceError` of a 401 for an expired PAT.
pub(crate) const EXPIRED_MESSAGE: &str = "Access Denied: The Personal Access Token used has expired.";

/// `X-TFS-ServiceError` of a 401 for a global ("all accessible organizations") PAT once global
/// PATs are retired (from 2026-12-01). Not captured: the wording is inferred, and carries the
/// 7.2 `TokenError` value `globalPatUsageDisabled`.
pub const GLOBAL_PAT_RETIRED_MESSAGE: &str = "Access Denied: Global personal access tokens are no longer supported (globalPatUsageDisabled). Use a personal access token scoped to this organization.";

/// The 401 for a retired global PAT (see [`GLOBAL_PAT_RETIRED_MESSAGE`]).
pub(crate) fn global_pat_retired(shared: &Shared, req: &Request) -> Response {
    Response::new(401)
        .headers(api_headers(shared, req))
        .headers([basic_challenge()])
        .header("X-TFS-ServiceError", percent_encode(GLOBAL_PAT_RETIRED_MESSAGE))
        .body(
            JSON,
            wrapped_exception(
                GLOBAL_PAT_RETIRED_MESSAGE,
                "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, Microsoft.TeamFoundation.Framework.Server",
                "UnauthorizedRequestException",
            ),
        )
}

/// The JSON "wrapped exception" error body, in the service's key order.
pub(crate) fn wrapped_exception(message: &str, type_name: &str, type_key: &str) -> String {
    format!(
        "{{\"$id\":\"1\",\"innerException\":null,\"message\":{},\"typeName\":{},\"typeKey\":{},\"errorCode\":0,\"eventId\":3000}}",
        json_str(message),
        json_str(type_name),
        json_str(type_key)
    )
}

/// The AccessCheckException body reported for an expired PAT.
fn expired_body() -> String {
    format!(
        "{{\"$id\":\"1\",\"customProperties\":{{\"Descriptor\":null,\"IdentityDisplayName\":null,\"Token\":null,\"RequestedPermissions\":0,\"NamespaceId\":\"00000000-0000-0000-0000-000000000000\"}},\"innerException\":null,\"message\":{},\"typeName\":\"Microsoft.VisualStudio.Services.Security.AccessCheckException, Microsoft.VisualStudio.Services.WebApi\",\"typeKey\":\"AccessCheckException\",\"errorCode\":0,\"eventId\":3000}}",
        json_str(EXPIRED_MESSAGE)
    )
}

/// The URL-encoded SOAP fault of an anonymous request to a private org (agent traces).
pub(crate) fn soap_exception() -> String {
    percent_encode(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Receiver</soap:Value><soap:Subcode><soap:Value>UnauthorizedRequestException</soap:Value></soap:Subcode></soap:Code><soap:Reason><soap:Text xml:lang=\"en\">TF400813: Resource not available for anonymous access. Client authentication required.</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>",
    )
}

/// 404 for an org that does not exist. The real status and body are not captured (doc gap);
/// this is a wrapped exception with the message also in `X-TFS-ServiceError`.
pub(crate) fn unknown_org(shared: &Shared, req: &Request, org: &str) -> Response {
    let message = format!("The organization '{org}' does not exist or has been deleted.");
    Response::new(404)
        .headers(api_headers(shared, req))
        .header("X-TFS-ServiceError", percent_encode(&message))
        .body(
            JSON,
            wrapped_exception(
                &message,
                "Microsoft.TeamFoundation.Framework.Server.HostDoesNotExistException, Microsoft.TeamFoundation.Framework.Server",
                "HostDoesNotExistException",
            ),
        )
}

/// 404 for an unknown REST route: `text/plain` plus `X-TFS-ServiceError`, as captured for
/// "The controller for path ... was not found".
pub(crate) fn api_not_found(shared: &Shared, req: &Request, org: Option<&str>) -> Response {
    if let Some(org) = org {
        if shared.state().org(org).is_none() {
            return unknown_org(shared, req, org);
        }
    }
    let message = format!("The controller for path '{}' was not found or does not implement IController.", req.path);
    Response::new(404)
        .headers(api_headers(shared, req))
        .header("X-TFS-ServiceError", percent_encode(&message))
        .body(TEXT, message)
}

/// 404 for anything that is not an Azure DevOps route the fake serves.
pub(crate) fn not_found(shared: &Shared, req: &Request) -> Response {
    Response::new(404)
        .headers(api_headers(shared, req))
        .header("X-TFS-ServiceError", percent_encode("Page not found."))
        .body(TEXT, "Page not found.")
}

/// `GET|HEAD /{org}`: the tenant-discovery challenge. A caller with a valid PAT of the org gets
/// a small 200 HTML page instead.
pub(crate) fn challenge(shared: &Shared, req: &Request, org: &str) -> Response {
    let st = shared.state();
    let Some(o) = st.org(org) else {
        drop(st);
        return unknown_org(shared, req, org);
    };
    if let Auth::Valid { user, .. } = st.authenticate(org, req.header("Authorization")) {
        let name = o.name.clone();
        drop(st);
        return Response::new(200)
            .headers(api_headers(shared, req))
            .header("X-VSS-UserData", user_data(&user))
            .body(
                HTML,
                format!("<!DOCTYPE html><html><head><title>{name} - Azure DevOps Services</title></head><body><h1>{name}</h1></body></html>\n"),
            );
    }
    let challenge = challenge_headers(&st, o);
    drop(st);
    Response::new(401).headers(api_headers(shared, req)).headers(challenge)
}

fn user_data(user: &User) -> String {
    format!("{}:{}", user.id, user.upn)
}

/// The api-version the request asked for: `?api-version=` or `Accept: ...;api-version=`.
pub(crate) fn requested_api_version(req: &Request) -> Option<String> {
    if let Some(v) = util::query_param(&req.query, "api-version") {
        return Some(v.trim().to_string());
    }
    req.header("Accept")?.split([';', ',']).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("api-version").then(|| v.trim().to_string())
    })
}

/// connectionData exists in preview versions only: a version without `-preview` is refused with
/// 400 (third-party report; the message follows the service's VssInvalidPreviewVersionException).
/// Returns the version to echo in `Content-Type`, or the 400.
pub(crate) fn negotiate_version(shared: &Shared, req: &Request) -> Result<String, Response> {
    let Some(v) = requested_api_version(req) else {
        return Ok(DEFAULT_API_VERSION.to_string());
    };
    let Some((base, preview)) = v.split_once("-preview") else {
        let base = v.clone();
        let message = format!(
            "The requested version \"{v}\" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests. For example: \"{base}-preview\""
        );
        return Err(Response::new(400)
            .headers(api_headers(shared, req))
            .header("X-TFS-ServiceError", percent_encode(&message))
            .body(
                JSON,
                wrapped_exception(
                    &message,
                    "Microsoft.VisualStudio.Services.WebApi.VssInvalidPreviewVersionException, Microsoft.VisualStudio.Services.WebApi",
                    "VssInvalidPreviewVersionException",
                ),
            ));
    };
    let resource = preview.strip_prefix('.').unwrap_or("1");
    let resource = if resource.is_empty() { "1" } else { resource };
    Ok(format!("{base}-preview.{resource}"))
}

fn identity_json(
    id: &str,
    descriptor: &str,
    subject: Option<&str>,
    display: &str,
    custom: Option<&str>,
    account: &str,
    meta_type_id: u32,
) -> String {
    let mut s = format!("{{\"id\":{},\"descriptor\":{},", json_str(id), json_str(descriptor));
    if let Some(subject) = subject {
        s.push_str(&format!("\"subjectDescriptor\":{},", json_str(subject)));
    }
    s.push_str(&format!("\"providerDisplayName\":{},", json_str(display)));
    if let Some(custom) = custom {
        s.push_str(&format!("\"customDisplayName\":{},", json_str(custom)));
    }
    s.push_str(&format!(
        "\"isActive\":true,\"properties\":{{\"Account\":{{\"$type\":\"System.String\",\"$value\":{}}}}},\"resourceVersion\":2,\"metaTypeId\":{meta_type_id}}}",
        json_str(account)
    ));
    s
}

fn connection_data_json(shared: &Shared, org: &Org, identity: &str) -> String {
    format!(
        "{{\"authenticatedUser\":{identity},\"authorizedUser\":{identity},\"instanceId\":{},\"deploymentId\":{},\"deploymentType\":\"hosted\",\"locationServiceData\":{{\"serviceOwner\":\"{SERVICE_OWNER}\",\"defaultAccessMappingMoniker\":\"PublicAccessMapping\",\"lastChangeId\":{id},\"lastChangeId64\":{id}}}}}",
        json_str(&org.instance_id),
        json_str(&shared.deployment_id),
        id = shared.last_change_id
    )
}

/// A user's identity; in an MSA-backed org the descriptor has no tenant and the subject
/// descriptor is `msa.` (§3.1, GCM4W capture).
fn user_identity_json(user: &User, msa: bool) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(user.subject_id.as_bytes());
    let (subject, descriptor) = if msa {
        (format!("msa.{encoded}"), format!("Microsoft.IdentityModel.Claims.ClaimsIdentity;{}", user.upn))
    } else {
        (format!("aad.{encoded}"), format!("Microsoft.IdentityModel.Claims.ClaimsIdentity;{TENANT_ID}\\{}", user.upn))
    };
    identity_json(&user.id, &descriptor, Some(&subject), &user.display_name, None, &user.upn, 0)
}

fn anonymous_identity_json() -> String {
    identity_json(
        ANONYMOUS_ID,
        &format!("System:PublicAccess;{ANONYMOUS_ID}"),
        None,
        "Anonymous",
        Some("Anonymous"),
        "Anonymous",
        255,
    )
}

/// The HTML sign-in page served (203) to a client that did not send
/// `X-TFS-FedAuthRedirect: Suppress` and is not authenticated.
pub(crate) fn sign_in_page(org: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n<meta charset=\"utf-8\">\n<title>Azure DevOps Services | Sign In</title>\n</head>\n<body>\n<div id=\"signin\">Sign in to continue to {org}.</div>\n<a href=\"https://spsprodfake1.vssps.visualstudio.com/_signin?realm=dev.azure.com\">Sign in</a>\n</body>\n</html>\n"
    )
}

/// `GET /{org}/_apis/connectionData` (see §3.1.1 of the reference).
pub(crate) fn connection_data(shared: &Shared, req: &Request, org: &str) -> Response {
    let st = shared.state();
    let Some(o) = st.org(org) else {
        drop(st);
        return unknown_org(shared, req, org);
    };
    let auth = st.authenticate(org, req.header("Authorization"));
    if let Auth::Challenged(claims) = &auth {
        return cae_rejected(shared, req, &st, claims);
    }
    let suppress = req.header("X-TFS-FedAuthRedirect").is_some_and(|v| v.trim().eq_ignore_ascii_case("Suppress"));
    let ok = |identity: String, user: Option<&User>| -> Response {
        let version = match negotiate_version(shared, req) {
            Ok(v) => v,
            Err(resp) => return resp,
        };
        let mut resp = Response::new(200).headers(api_headers(shared, req));
        if let Some(user) = user {
            resp = resp.header("X-VSS-UserData", user_data(user));
        }
        resp.body(
            &format!("application/json; charset=utf-8; api-version={version}"),
            connection_data_json(shared, o, &identity),
        )
    };
    match auth {
        Auth::Valid { user, .. } => ok(user_identity_json(&user, o.msa), Some(&user)),
        _ if o.public => ok(anonymous_identity_json(), None),
        _ if !suppress => Response::new(203).headers(api_headers(shared, req)).body(HTML, sign_in_page(&o.name)),
        Auth::Anonymous => Response::new(401)
            .headers(api_headers(shared, req))
            .headers(challenge_headers(&st, o))
            .header("X-TFS-SoapException", soap_exception()),
        Auth::Bad => Response::new(401).headers(api_headers(shared, req)).headers([basic_challenge()]),
        Auth::Expired => Response::new(401)
            .headers(api_headers(shared, req))
            .headers([basic_challenge()])
            .header("X-TFS-ServiceError", percent_encode(EXPIRED_MESSAGE))
            .body(JSON, expired_body()),
        Auth::ExpiredToken => expired_token(shared, req),
        Auth::GlobalRetired => global_pat_retired(shared, req),
        Auth::Challenged(claims) => cae_rejected(shared, req, &st, &claims),
    }
}

/// 401 for an expired Entra access token: the captured TF400813 UnauthorizedRequestException
/// (reference §3.1.1, "Expired Entra bearer").
pub(crate) fn expired_token(shared: &Shared, req: &Request) -> Response {
    let message = "TF400813: The user '' is not authorized to access this resource.";
    Response::new(401)
        .headers(api_headers(shared, req))
        .headers([basic_challenge()])
        .header("X-TFS-ServiceError", percent_encode(message))
        .body(
            JSON,
            wrapped_exception(
                message,
                "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, Microsoft.TeamFoundation.Framework.Server",
                "UnauthorizedRequestException",
            ),
        )
}

/// `Fault::Status(n)`: a wrapped exception with status n. 503 is the captured "collection
/// stopped" answer, with its leading UTF-8 byte-order mark.
pub(crate) fn fault_status(shared: &Shared, req: &Request, target: &Target, status: u16) -> Response {
    let org = match target {
        Target::ConnectionData { org }
        | Target::Challenge { org }
        | Target::Git { org, .. }
        | Target::Pats { org, .. }
        | Target::PipelinesOidc { org }
        | Target::Api { org: Some(org) } => org.clone(),
        Target::Api { org: None }
        | Target::Entra { .. }
        | Target::ManagedIdentity { .. }
        | Target::GithubIdToken
        | Target::Other => "DefaultCollection".to_string(),
    };
    let resp = Response::new(status).headers(api_headers(shared, req));
    if status == 503 {
        let message = format!("TF24668: The following team project collection is stopped: {org}. Start the collection and then try again. Administrator Reason: This Azure DevOps organization has been deactivated due to inactivity. For more information please visit aka.ms/adofootprintreduction");
        let mut body = "\u{feff}".to_string();
        body.push_str(&wrapped_exception(
            &message,
            "Microsoft.VisualStudio.Services.Common.VssServiceException, Microsoft.VisualStudio.Services.Common",
            "VssServiceException",
        ));
        return resp.header("X-TFS-ServiceError", percent_encode(&message)).body("application/json", body);
    }
    let message = format!("fake-azdo injected fault: HTTP {status}.");
    resp.header("X-TFS-ServiceError", percent_encode(&message)).body(
        JSON,
        wrapped_exception(
            &message,
            "Microsoft.VisualStudio.Services.Common.VssServiceException, Microsoft.VisualStudio.Services.Common",
            "VssServiceException",
        ),
    )
}

/// `Fault::Throttle`: 429 with `Retry-After`, the `X-RateLimit-*` headers and a TF400733 body
/// (§9; the body's type name is inferred).
pub(crate) fn throttled(shared: &Shared, req: &Request, retry_after_secs: u64) -> Response {
    let message = "TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource 'Core' in namespace 'User'.";
    let reset = util::now_unix() + i64::try_from(retry_after_secs).unwrap_or(i64::MAX / 2);
    Response::new(429)
        .headers(api_headers(shared, req))
        .header("Retry-After", retry_after_secs.to_string())
        .header("X-RateLimit-Resource", "Core")
        .header("X-RateLimit-Delay", "0.000")
        .header("X-RateLimit-Limit", "200")
        .header("X-RateLimit-Remaining", "0")
        .header("X-RateLimit-Reset", reset.to_string())
        .header("X-TFS-ServiceError", percent_encode(message))
        .body(
            JSON,
            wrapped_exception(
                message,
                "Microsoft.TeamFoundation.Framework.Server.RequestBlockedException, Microsoft.TeamFoundation.Framework.Server",
                "RequestBlockedException",
            ),
        )
}

/// `Fault::Garbage`: 200 with the content type the client expects and a body that is not what
/// that type promises (not JSON; not a pkt-line stream).
pub(crate) fn garbage(shared: &Shared, req: &Request, target: &Target) -> Response {
    let resp = Response::new(200).headers(api_headers(shared, req));
    match target {
        Target::Git { endpoint, .. } => {
            let service = match endpoint {
                GitEndpoint::ReceivePack => "git-receive-pack",
                GitEndpoint::UploadPack => "git-upload-pack",
                GitEndpoint::InfoRefs => {
                    if util::query_param(&req.query, "service").as_deref() == Some("git-receive-pack") {
                        "git-receive-pack"
                    } else {
                        "git-upload-pack"
                    }
                }
            };
            let kind = if *endpoint == GitEndpoint::InfoRefs { "advertisement" } else { "result" };
            resp.body(&format!("application/x-{service}-{kind}"), "<html>this is not a pkt-line stream</html>\n")
        }
        _ => resp.body(JSON, "<html><body>{\"authenticatedUser\": garbage \u{0} not json</body></html>"),
    }
}
