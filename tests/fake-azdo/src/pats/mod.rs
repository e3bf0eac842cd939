//! The PAT lifecycle API (reference §5): `/{org}/_apis/tokens/pats` with create (POST), list
//! and get (GET), update (PUT) and revoke (DELETE). Entra bearer tokens only. PATs it creates
//! live in the same store as [`crate::FakeAzdo::add_pat`]'s, so they work (and stop working
//! when revoked) on connectionData and git alike.
//!
//! Documented: paths, api-versions, request and response schemas and key order, `token` only
//! on create, `targetAccounts: null` for all-org PATs, the `patTokenError` values, the 1/300 s
//! rounding of dates, `continuationToken: ""` on the last page, `$top` capped at 100, validTo
//! clamped by the lifespan policy, 204 on revoke. Inferred (reference §5.7, §11.6): policy and
//! validation failures are HTTP 200 with `patToken: null` (switchable), an unknown
//! `authorizationId` is 404 `SessionTokenNotFoundException`, the default page size (100,
//! switchable) and the continuation token's format (base64 of an offset).

pub(crate) mod control;
mod existing;

use base64::Engine as _;
use serde_json::Value;

use crate::azdo::{
    api_headers, basic_challenge, challenge_headers, negotiate_version, requested_api_version, sign_in_page,
    soap_exception, unknown_org, wrapped_exception,
};
use crate::http::{Request, Response};
use crate::server::PatOp;
use crate::util::{self, json_str, percent_encode, query_param, Stamp};
use crate::{key, Auth, PatPolicy, PatRecord, Shared, State, User};

use existing::*;

/// `$top` is documented as "limit of 100".
const MAX_TOP: usize = 100;

/// `PatToken`, in the service's key order. `with_token` only on create.
fn pat_json(st: &State, p: &PatRecord, with_token: bool) -> String {
    let targets = if p.all_orgs {
        "null".to_string()
    } else {
        let id = st.orgs.get(&p.org_key).map(|o| o.instance_id.clone()).unwrap_or_default();
        format!("[{}]", json_str(&id))
    };
    format!(
        "{{\"displayName\":{},\"validTo\":\"{}\",\"scope\":{},\"targetAccounts\":{targets},\"validFrom\":\"{}\",\"authorizationId\":\"{}\",\"token\":{}}}",
        json_str(&p.display_name),
        p.valid_to.format(),
        json_str(&p.scopes.join(" ")),
        p.valid_from.format(),
        p.authorization_id,
        if with_token { json_str(&p.token) } else { "null".to_string() }
    )
}

/// The negotiated version and whether it is 7.2 or later (which adds `patTokenErrorMessage`).
struct Version {
    echo: String,
    v72: bool,
}

fn version(shared: &Shared, req: &Request) -> Result<Version, Response> {
    if requested_api_version(req).is_none() {
        let message = format!(
            "No api-version was supplied for the \"{}\" request. The version must be supplied either as part of the Accept header (e.g. \"application/json; api-version=1.0\") or as a query parameter (e.g. \"?api-version=1.0\").",
            req.method
        );
        return Err(fail(
            shared,
            req,
            400,
            &message,
            "Microsoft.VisualStudio.Services.WebApi.VssVersionNotSpecifiedException, Microsoft.VisualStudio.Services.WebApi",
            "VssVersionNotSpecifiedException",
        ));
    }
    let echo = negotiate_version(shared, req)?;
    let mut nums = echo.split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
    Ok(Version { echo, v72: (major, minor) >= (7, 2) })
}

/// A wrapped-exception error with its message in `X-TFS-ServiceError`.
fn fail(shared: &Shared, req: &Request, status: u16, message: &str, type_name: &str, type_key: &str) -> Response {
    Response::new(status)
        .headers(api_headers(shared, req))
        .header("X-TFS-ServiceError", percent_encode(message))
        .body(crate::azdo::JSON, wrapped_exception(message, type_name, type_key))
}

fn bad_request(shared: &Shared, req: &Request, message: &str) -> Response {
    fail(shared, req, 400, message, "System.ArgumentException, mscorlib", "ArgumentException")
}

fn not_found(shared: &Shared, req: &Request, id: &str) -> Response {
    fail(
        shared,
        req,
        404,
        &format!("The personal access token with authorization id {id} was not found."),
        "Microsoft.VisualStudio.Services.DelegatedAuthorization.SessionTokenNotFoundException, Microsoft.VisualStudio.Services.DelegatedAuthorization",
        "SessionTokenNotFoundException",
    )
}

/// Who is calling. Only an Entra access token sent as `Bearer` gets in; anything else is 401
/// with `X-TFS-FedAuthRedirect: Suppress`, else the 203 sign-in page (reference §5.1).
fn caller(shared: &Shared, req: &Request, st: &State, org: &str) -> Result<User, Response> {
    let suppress = req.header("X-TFS-FedAuthRedirect").is_some_and(|v| v.trim().eq_ignore_ascii_case("Suppress"));
    let authorization = req.header("Authorization");
    let bearer =
        authorization.is_some_and(|a| a.trim_start().get(..7).is_some_and(|s| s.eq_ignore_ascii_case("bearer ")));
    let auth = if bearer || authorization.is_none() { st.authenticate(org, authorization) } else { Auth::Bad };
    let reject = |user_id: &str| -> Response {
        let o = st.org(org).map(|o| o.name.clone()).unwrap_or_default();
        if !suppress {
            return Response::new(203)
                .headers(api_headers(shared, req))
                .body("text/html; charset=utf-8", sign_in_page(&o));
        }
        let message = format!("TF400813: The user '{user_id}' is not authorized to access this resource.");
        Response::new(401)
            .headers(api_headers(shared, req))
            .headers([basic_challenge()])
            .header("X-TFS-ServiceError", percent_encode(&message))
            .body(
                crate::azdo::JSON,
                wrapped_exception(
                    &message,
                    "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, Microsoft.TeamFoundation.Framework.Server",
                    "UnauthorizedRequestException",
                ),
            )
    };
    match auth {
        Auth::Valid { user, .. } if bearer => Ok(user),
        Auth::Challenged(claims) if suppress => Err(crate::azdo::cae_rejected(shared, req, st, &claims)),
        Auth::Anonymous => {
            if !suppress {
                return Err(reject(""));
            }
            let o = st.org(org).ok_or_else(|| reject(""))?;
            Err(Response::new(401)
                .headers(api_headers(shared, req))
                .headers(challenge_headers(st, o))
                .header("X-TFS-SoapException", soap_exception()))
        }
        _ => {
            // A PAT sent as Basic: name its user, as the service knows who it is.
            let user_id = match (bearer, st.authenticate(org, authorization)) {
                (false, Auth::Valid { user, .. }) => user.id,
                _ => String::new(),
            };
            Err(reject(&user_id))
        }
    }
}

/// `GET|POST|PUT|DELETE /{org}/_apis/tokens/pats`.
pub(crate) fn handle(shared: &Shared, req: &Request, org: &str, op: PatOp, body: &[u8]) -> Response {
    let st = shared.state();
    if st.org(org).is_none() {
        drop(st);
        return unknown_org(shared, req, org);
    }
    let user = match caller(shared, req, &st, org) {
        Ok(u) => u,
        Err(r) => return r,
    };
    drop(st);
    let v = match version(shared, req) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let answer = match op {
        PatOp::Create => create(shared, req, org, &user, &v, body),
        PatOp::List => list(shared, req, org, &user),
        PatOp::Get => get(shared, req, org, &user, &v),
        PatOp::Update => update(shared, req, org, &user, &v, body),
        PatOp::Revoke => revoke(shared, req, org, &user),
    };
    match answer {
        Answer::Json(status, json) => Response::new(status)
            .headers(api_headers(shared, req))
            .header("X-VSS-UserData", format!("{}:{}", user.id, user.upn))
            .body(&format!("application/json; charset=utf-8; api-version={}", v.echo), json),
        Answer::NoContent => Response::new(204)
            .headers(api_headers(shared, req))
            .header("X-VSS-UserData", format!("{}:{}", user.id, user.upn)),
        Answer::Error(r) => r,
    }
}

enum Answer {
    Json(u16, String),
    NoContent,
    Error(Response),
}

/// `PatTokenResult` carrying an error (`patToken: null`), with the configured status (200).
fn refused(st: &State, v: &Version, error: &str) -> Answer {
    let mut json = format!("{{\"patToken\":null,\"patTokenError\":\"{error}\"");
    if v.v72 {
        json.push_str(&format!(",\"patTokenErrorMessage\":{}", json_str(&error_message(error))));
    }
    json.push('}');
    Answer::Json(st.pat_error_status, json)
}

fn result(st: &State, v: &Version, p: &PatRecord, with_token: bool) -> Answer {
    let mut json = format!("{{\"patToken\":{},\"patTokenError\":\"none\"", pat_json(st, p, with_token));
    if v.v72 {
        json.push_str(",\"patTokenErrorMessage\":null");
    }
    json.push('}');
    Answer::Json(200, json)
}

/// `patTokenErrorMessage` (7.2) wording: not captured, written in the service's style.
fn error_message(error: &str) -> String {
    match error {
        "disablePatCreationPolicyViolation" => {
            "Personal access token creation has been restricted by your organization's policy.".into()
        }
        "fullScopePatPolicyViolation" => {
            "Creation of full-scoped personal access tokens is restricted by your organization's policy.".into()
        }
        "globalPatPolicyViolation" => {
            "Creation of global personal access tokens is restricted by your organization's policy.".into()
        }
        "globalPATCreationBlocked" => "Creation of global personal access tokens is no longer supported.".into(),
        "patLifespanPolicyViolation" => {
            "The expiration date exceeds the maximum personal access token lifespan allowed by your organization's policy."
                .into()
        }
        other => format!("The personal access token request failed: {other}."),
    }
}

fn parse_body(shared: &Shared, req: &Request, body: &[u8], parameter: &str) -> Result<Value, Answer> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(Answer::Error(fail(
            shared,
            req,
            400,
            &format!("Value cannot be null.\r\nParameter name: {parameter}"),
            "System.ArgumentNullException, mscorlib",
            "ArgumentNullException",
        ))),
    }
}

/// Space-separated scopes: `app_token` (full access) or `vso.*` names.
fn valid_scopes(scope: &str) -> Option<Vec<String>> {
    let scopes: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
    let ok = |s: &str| {
        s == "app_token"
            || s.strip_prefix("vso.").is_some_and(|rest| {
                !rest.is_empty()
                    && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.".contains(&b))
            })
    };
    (!scopes.is_empty() && scopes.iter().all(|s| ok(s))).then_some(scopes)
}

fn org_policies(st: &State, org: &str) -> Vec<PatPolicy> {
    st.org(org).map(|o| o.policies.clone()).unwrap_or_default()
}

/// Applies the org's policies to a request; `Err` is the `patTokenError`. Returns the validTo to
/// store (clamped by a lifespan policy, counted from `base`).
fn apply_policies(
    policies: &[PatPolicy],
    creating: bool,
    scopes: Option<&[String]>,
    all_orgs: bool,
    valid_to: Option<Stamp>,
    base: Stamp,
) -> Result<Option<Stamp>, String> {
    let mut valid_to = valid_to;
    for p in policies {
        match p {
            PatPolicy::DisableCreation if creating => return Err("disablePatCreationPolicyViolation".into()),
            PatPolicy::Refuse(e) if creating => return Err(e.clone()),
            PatPolicy::RestrictGlobal if all_orgs => return Err("globalPatPolicyViolation".into()),
            PatPolicy::BlockGlobalCreation if all_orgs => return Err("globalPATCreationBlocked".into()),
            PatPolicy::RestrictFullScope if scopes.is_some_and(|s| s.iter().any(|x| x == "app_token")) => {
                return Err("fullScopePatPolicyViolation".into())
            }
            PatPolicy::MaxLifespanDaysStrict(days) if valid_to.is_some_and(|t| t > base.plus_days(*days)) => {
                return Err("patLifespanPolicyViolation".into())
            }
            PatPolicy::MaxLifespanDays(days) => {
                let max = base.plus_days(*days);
                valid_to = valid_to.map(|t| t.min(max));
            }
            _ => {}
        }
    }
    Ok(valid_to)
}

/// POST: `PatTokenCreateRequest` → `PatTokenResult` with the token string.
fn create(shared: &Shared, req: &Request, org: &str, user: &User, v: &Version, body: &[u8]) -> Answer {
    let json = match parse_body(shared, req, body, "tokenRequest") {
        Ok(j) => j,
        Err(a) => return a,
    };
    let mut st = shared.state();
    let display_name = json.get("displayName").and_then(Value::as_str).unwrap_or("").trim().to_string();
    if display_name.is_empty() {
        return refused(&st, v, "displayNameRequired");
    }
    let Some(scopes) = json.get("scope").and_then(Value::as_str).and_then(valid_scopes) else {
        return refused(&st, v, "invalidScope");
    };
    let requested_valid_to = json.get("validTo").and_then(Value::as_str).unwrap_or("").to_string();
    let now = Stamp::now();
    let Some(valid_to) = Stamp::parse(&requested_valid_to).filter(|t| *t > now) else {
        return refused(&st, v, "invalidValidTo");
    };
    let all_orgs = json.get("allOrgs").and_then(Value::as_bool).unwrap_or(false);
    let valid_to = match apply_policies(&org_policies(&st, org), true, Some(&scopes), all_orgs, Some(valid_to), now) {
        Ok(t) => t.unwrap_or(valid_to),
        Err(e) => return refused(&st, v, &e),
    };
    let policies = org_policies(&st, org);
    let scopes = if policies.contains(&PatPolicy::PackagingOnly) { vec!["vso.packaging".to_string()] } else { scopes };
    let mut token = util::pat_84();
    if policies.contains(&PatPolicy::MalformedToken) {
        token.replace_range(10..11, "-");
    }
    let record = PatRecord {
        token,
        authorization_id: util::guid(),
        org_key: key(org),
        upn: user.upn.clone(),
        display_name,
        scopes,
        valid_from: now,
        valid_to,
        all_orgs,
        revoked: false,
        requested_valid_to: Some(requested_valid_to),
    };
    let answer = result(&st, v, &record, true);
    st.pats.push(record);
    answer
}
