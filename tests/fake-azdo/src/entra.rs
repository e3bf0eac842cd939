//! Microsoft Entra ID, as far as a device-code or browser sign-in for Azure DevOps needs it:
//! `POST /{tenant}/oauth2/v2.0/devicecode`, `GET /{tenant}/oauth2/v2.0/authorize` (the page a
//! browser is sent to: it redirects to the loopback `redirect_uri` with a code, as Entra does once
//! the person has signed in) and `POST /{tenant}/oauth2/v2.0/token` (device-code, authorization
//! code with PKCE, and refresh-token grants). Shapes follow the reference's §8: form-encoded requests, JSON
//! answers, every error HTTP 400 with `error`, `error_description` (`AADSTSnnnn: ...` plus the
//! trace, correlation and timestamp lines), `error_codes`, `timestamp`, `trace_id`,
//! `correlation_id` and `error_uri`. Where an AADSTS code or wording is not documented, the
//! function that emits it says so.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::http::{Request, Response};
use crate::util::{self, json_str, query_param, B64URL};
use crate::{
    DeviceFlowInfo, DeviceFlowState, Fault, Shared, State, User, ADO_RESOURCE_ID, DEFAULT_CLIENT_ID, TENANT_ID,
    VERIFICATION_URI,
};

const JSON: &str = "application/json; charset=utf-8";
/// `{resource}/.default` forms Entra accepts for Azure DevOps: the app id and the resource URI.
const ADO_DEFAULT_SCOPES: [&str; 2] =
    ["499b84ac-1321-427f-aa17-267ca6975798/.default", "https://app.vssps.visualstudio.com/.default"];
/// OpenID Connect scopes Entra handles itself (MSAL always adds them).
const RESERVED_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// What Entra grants for `.default` to a first-party client (not captured; the reference
/// infers the delegated permission of the Azure DevOps resource).
const GRANTED_SCOPE: &str = "499b84ac-1321-427f-aa17-267ca6975798/user_impersonation";
/// The personal-Microsoft-account home tenant (§4.3), for `consumers`.
const MSA_HOME_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// Lifetime of an access token (the documented example's value).
pub(crate) const ACCESS_TOKEN_LIFETIME: i64 = 3599;
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How a scripted device flow ends once its pending polls are used up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FlowOutcome {
    Approve(String),
    Decline,
    Expire,
}

/// The script of one device flow: `pending` answers of `authorization_pending`, then one
/// `slow_down` if asked, then the outcome (`None`: pending until a test decides).
#[derive(Debug, Clone, Default)]
pub(crate) struct FlowPlan {
    pub pending: u32,
    pub slow_down: bool,
    pub outcome: Option<FlowOutcome>,
}

pub(crate) struct Flow {
    pub device_code: String,
    pub user_code: String,
    pub client_id: String,
    pub tenant: String,
    pub scopes: Vec<String>,
    pub issued: Instant,
    pub expires_in: u64,
    pub interval: u64,
    pub plan: FlowPlan,
    pub polls: usize,
    pub last_poll: Option<Instant>,
    pub gaps: Vec<Duration>,
    pub state: DeviceFlowState,
}

pub(crate) struct AccessToken {
    pub upn: String,
    pub tid: String,
    pub expires_at: i64,
    /// The client id of the service principal or managed identity it was issued to (`None`: a user's).
    pub principal: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RtStatus {
    Valid,
    /// Revoked (sign-in sessions revoked, password reset): AADSTS50173.
    Revoked,
    /// Unused for too long: AADSTS700082.
    Expired,
    /// Redeemed while single-use refresh tokens are switched on.
    Used,
}

pub(crate) struct RefreshToken {
    pub upn: String,
    pub client_id: String,
    pub tid: String,
    pub scopes: Vec<String>,
    pub issued_at: i64,
    pub status: RtStatus,
}

/// How the authorize page answers a browser (see [`crate::FakeAzdo::approve_browser_sign_in`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BrowserPlan {
    /// The person signs in as this UPN: a code goes to the redirect URI.
    Approve(String),
    /// The person cancels: `error=access_denied`.
    Deny,
}

/// An authorization code handed to a redirect URI, until it is redeemed.
pub(crate) struct AuthCode {
    pub upn: String,
    pub client_id: String,
    pub tid: String,
    pub redirect_uri: String,
    pub challenge: String,
    pub method: String,
    pub scopes: Vec<String>,
    pub issued: Instant,
    pub redeemed: bool,
}

pub(crate) struct EntraState {
    pub allowed_clients: Vec<String>,
    pub browser: Option<BrowserPlan>,
    pub authorizations: Vec<crate::AuthorizeRequest>,
    pub codes: HashMap<String, AuthCode>,
    pub code_grants: usize,
    pub codes_redeemed: usize,
    /// Every `code_verifier` received (for leak checks).
    pub verifiers: Vec<String>,
    /// Conditional Access blocks the device code flow: every poll answers this AADSTS code.
    pub device_blocked: Option<u32>,
    pub next: FlowPlan,
    pub flows: Vec<Flow>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    /// Every access, refresh and id token issued, in order (for leak checks).
    pub issued: Vec<String>,
    pub interval: u64,
    pub expires_in: u64,
    pub enforce_interval: bool,
    pub single_use_refresh: bool,
    pub refresh_grants: usize,
    pub fault: Fault,
}

impl Default for EntraState {
    fn default() -> EntraState {
        EntraState {
            allowed_clients: vec![DEFAULT_CLIENT_ID.to_string()],
            browser: None,
            authorizations: Vec::new(),
            codes: HashMap::new(),
            code_grants: 0,
            codes_redeemed: 0,
            verifiers: Vec::new(),
            device_blocked: None,
            next: FlowPlan::default(),
            flows: Vec::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            issued: Vec::new(),
            interval: 5,
            expires_in: 900,
            enforce_interval: false,
            single_use_refresh: false,
            refresh_grants: 0,
            fault: Fault::None,
        }
    }
}

impl Flow {
    pub fn info(&self) -> DeviceFlowInfo {
        DeviceFlowInfo {
            user_code: self.user_code.clone(),
            device_code: self.device_code.clone(),
            client_id: self.client_id.clone(),
            tenant: self.tenant.clone(),
            scope: self.scopes.join(" "),
            polls: self.polls,
            poll_gaps: self.gaps.clone(),
            state: self.state.clone(),
        }
    }
}

/// Tokens handed out by a successful grant.
pub(crate) struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

fn b64url(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s.as_bytes())
}

/// A JWT-shaped string: base64url header and claims, and 342 characters of "signature" (an
/// RS256 signature's length). The fake recognises its tokens by lookup, never by verifying.
fn jwt(claims: &str) -> String {
    format!(
        "{}.{}.{}",
        b64url("{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"fake-azdo\"}"),
        b64url(claims),
        util::random_string(B64URL, 342)
    )
}

/// The tenant id tokens from `tenant` carry: the fake's users all live in [`TENANT_ID`].
fn token_tenant(tenant: &str) -> &'static str {
    if tenant.eq_ignore_ascii_case("consumers") {
        MSA_HOME_TENANT
    } else {
        TENANT_ID
    }
}

/// Issues an access token (and a refresh token with `offline_access`, an id token with
/// `openid`) for `user`, recording them.
pub(crate) fn issue(st: &mut State, user: &User, client_id: &str, tid: &str, scopes: &[String]) -> Issued {
    let now = util::now_unix();
    let has = |s: &str| scopes.iter().any(|x| x.eq_ignore_ascii_case(s));
    let access_token = jwt(&format!(
        "{{\"aud\":\"{ADO_RESOURCE_ID}\",\"iss\":\"https://sts.windows.net/{tid}/\",\"iat\":{now},\"nbf\":{now},\"exp\":{exp},\"appid\":{},\"name\":{},\"oid\":{},\"scp\":\"user_impersonation\",\"tid\":\"{tid}\",\"unique_name\":{upn},\"upn\":{upn},\"uti\":\"{}\",\"ver\":\"1.0\"}}",
        json_str(client_id),
        json_str(&user.display_name),
        json_str(&user.id),
        util::random_string(B64URL, 22),
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
fn success(req: &Request, scopes: &[String], issued: &Issued) -> Response {
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

/// Headers of a login.microsoftonline.com answer; returns them with the request id (the
/// `trace_id` of error bodies).
fn entra_headers(req: &Request) -> (Vec<(String, String)>, String) {
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

fn missing(shared: &Shared, req: &Request, name: &str) -> Response {
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
fn check_tenant(shared: &Shared, req: &Request, tenant: &str) -> Result<(), Response> {
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

fn check_method(shared: &Shared, req: &Request) -> Result<(), Response> {
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
fn check_client(shared: &Shared, req: &Request, tenant: &str, form: &str) -> Result<String, Response> {
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
fn parse_scopes(shared: &Shared, req: &Request, scope: &str) -> Result<Vec<String>, Response> {
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

/// `POST /{tenant}/oauth2/v2.0/devicecode` (§8.2).
pub(crate) fn device_code(shared: &Shared, req: &Request, tenant: &str, form: &str) -> Response {
    if let Err(r) = check_method(shared, req).and_then(|_| check_tenant(shared, req, tenant)) {
        return r;
    }
    let client_id = match check_client(shared, req, tenant, form) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(scope) = query_param(form, "scope").filter(|s| !s.trim().is_empty()) else {
        return missing(shared, req, "scope");
    };
    let scopes = match parse_scopes(shared, req, &scope) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let device_code = format!("BAQABAAEAAAA{}", util::random_string(B64URL, 180));
    let user_code = util::random_string(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 9);
    let mut st = shared.state();
    let e = &mut st.entra;
    let (interval, expires_in) = (e.interval, e.expires_in);
    let plan = std::mem::take(&mut e.next);
    e.flows.push(Flow {
        device_code: device_code.clone(),
        user_code: user_code.clone(),
        client_id,
        tenant: tenant.to_string(),
        scopes,
        issued: Instant::now(),
        expires_in,
        interval,
        plan,
        polls: 0,
        last_poll: None,
        gaps: Vec::new(),
        state: DeviceFlowState::Waiting,
    });
    drop(st);
    let message = format!(
        "To sign in, use a web browser to open the page {VERIFICATION_URI} and enter the code {user_code} to authenticate."
    );
    let body = format!(
        "{{\"user_code\":\"{user_code}\",\"device_code\":\"{device_code}\",\"verification_uri\":\"{VERIFICATION_URI}\",\"expires_in\":{expires_in},\"interval\":{interval},\"message\":{}}}",
        json_str(&message)
    );
    let (headers, _) = entra_headers(req);
    Response::new(200).headers(headers).body(JSON, body)
}

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

/// What one device-code poll gets.
enum Poll {
    Pending,
    SlowDown,
    Declined,
    Expired,
    Redeemed,
    Success(String),
}

/// The device-code grant (§8.3): the flow's script decides each answer.
fn device_grant(shared: &Shared, req: &Request, client_id: &str, form: &str) -> Response {
    let Some(code) = query_param(form, "device_code").filter(|c| !c.is_empty()) else {
        return missing(shared, req, "device_code");
    };
    let blocked = shared.state().entra.device_blocked;
    if let Some(code) = blocked {
        // Not captured: the wording of AADSTS53003 is the error reference's; other codes get it too.
        return error(
            shared,
            req,
            400,
            "invalid_grant",
            code,
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        );
    }
    let mut st = shared.state();
    let enforce = st.entra.enforce_interval;
    let Some(flow) =
        st.entra.flows.iter_mut().find(|f| f.device_code == code && f.client_id.eq_ignore_ascii_case(client_id))
    else {
        drop(st);
        return error(
            shared,
            req,
            400,
            "bad_verification_code",
            70018,
            "Invalid verification code due to User typing in wrong user code for device code flow.",
        );
    };
    let now = Instant::now();
    flow.polls += 1;
    flow.gaps.push(now.duration_since(flow.last_poll.unwrap_or(flow.issued)));
    let too_soon = flow.last_poll.is_some_and(|l| now.duration_since(l) < Duration::from_secs(flow.interval));
    flow.last_poll = Some(now);
    let answer = if matches!(flow.state, DeviceFlowState::SignedIn(_)) {
        Poll::Redeemed
    } else if flow.state == DeviceFlowState::Declined {
        Poll::Declined
    } else if flow.state == DeviceFlowState::Expired || now.duration_since(flow.issued).as_secs() >= flow.expires_in {
        flow.state = DeviceFlowState::Expired;
        Poll::Expired
    } else if enforce && too_soon {
        // RFC 8628 §3.5: the client must add 5 seconds to its interval.
        flow.interval += 5;
        Poll::SlowDown
    } else if flow.plan.pending > 0 {
        flow.plan.pending -= 1;
        Poll::Pending
    } else if flow.plan.slow_down {
        flow.plan.slow_down = false;
        Poll::SlowDown
    } else {
        match flow.plan.outcome.clone() {
            None => Poll::Pending,
            Some(FlowOutcome::Decline) => {
                flow.state = DeviceFlowState::Declined;
                Poll::Declined
            }
            Some(FlowOutcome::Expire) => {
                flow.state = DeviceFlowState::Expired;
                Poll::Expired
            }
            Some(FlowOutcome::Approve(upn)) => {
                flow.state = DeviceFlowState::SignedIn(upn.clone());
                Poll::Success(upn)
            }
        }
    };
    match answer {
        Poll::Success(upn) => {
            let flow_tenant = flow.tenant.clone();
            let scopes = flow.scopes.clone();
            let user = st.ensure_user(&upn);
            let issued = issue(&mut st, &user, client_id, token_tenant(&flow_tenant), &scopes);
            drop(st);
            success(req, &scopes, &issued)
        }
        other => {
            drop(st);
            let (error_name, code, text) = match other {
                Poll::Pending => (
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                ),
                // Not captured: the AADSTS code of slow_down is unconfirmed (reference §11.9).
                Poll::SlowDown => {
                    ("slow_down", 70016, "OAuth 2.0 device flow error. Polling too frequently; slow down and retry.")
                }
                // Not captured: the code of a declined device login is unconfirmed; 65004 is
                // Entra's "user declined to consent".
                Poll::Declined => ("authorization_declined", 65004, "User declined to consent to access the app."),
                Poll::Expired => ("expired_token", 70019, "Verification code expired. Have the user retry the sign-in."),
                // A device code redeemed before: answered like a redeemed authorization code.
                _ => (
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                ),
            };
            error(shared, req, 400, error_name, code, text)
        }
    }
}

/// The refresh-token grant (§8.5): a valid refresh token gets a new access token and a new
/// refresh token; the old one stays valid unless single-use refresh tokens are switched on.
fn refresh_grant(shared: &Shared, req: &Request, client_id: &str, form: &str) -> Response {
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
    let mut st = shared.state();
    st.entra.refresh_grants += 1;
    let single_use = st.entra.single_use_refresh;
    let found = st.entra.refresh_tokens.get_mut(&rt).map(|r| {
        let status = r.status;
        let ok = status == RtStatus::Valid && r.client_id.eq_ignore_ascii_case(client_id);
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
            let issued = issue(&mut st, &user, client_id, &tid, &scopes);
            drop(st);
            success(req, &scopes, &issued)
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

/// Faults in front of the Entra routes, in Entra's error shape.
pub(crate) fn fault_status(req: &Request, status: u16) -> Response {
    let name = if status == 503 || status == 429 { "temporarily_unavailable" } else { "server_error" };
    let (headers, trace) = entra_headers(req);
    let ts = util::entra_timestamp(util::now_unix());
    let body = format!(
        "{{\"error\":\"{name}\",\"error_description\":{},\"error_codes\":[],\"timestamp\":\"{ts}\",\"trace_id\":\"{trace}\",\"correlation_id\":\"{}\"}}",
        json_str(&format!("fake-azdo injected fault: HTTP {status}.\r\nTrace ID: {trace}\r\nTimestamp: {ts}")),
        util::guid()
    );
    Response::new(status).headers(headers).body(JSON, body)
}

pub(crate) fn throttled(req: &Request, retry_after_secs: u64) -> Response {
    fault_status(req, 429).header("Retry-After", retry_after_secs.to_string())
}

pub(crate) fn garbage(req: &Request) -> Response {
    let (headers, _) = entra_headers(req);
    Response::new(200)
        .headers(headers)
        .body(JSON, "<html><body>{\"access_token\": garbage \u{0} not json</body></html>")
}

/// An HTML page as login.microsoftonline.com answers a browser.
fn page(req: &Request, status: u16, body: String) -> Response {
    let (headers, _) = entra_headers(req);
    Response::new(status).headers(headers).header("X-Frame-Options", "DENY").body(
        "text/html; charset=utf-8",
        format!("<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body>{body}</body></html>"),
    )
}

/// Escapes text for HTML.
fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// An error page Entra shows itself, without redirecting (an unknown client, a redirect URI that
/// matches no registration, an unknown tenant).
fn error_page(req: &Request, code: u32, text: &str) -> Response {
    page(
        req,
        400,
        format!("<h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS{code}: {}</p>", html(text)),
    )
}

/// `redirect_uri` matches the Visual Studio client's `http://localhost` registration: `http`,
/// host `localhost`, any port (ignored in matching), no path but `/` (reply-url rules).
fn loopback_redirect(uri: &str) -> bool {
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
fn redirect(req: &Request, redirect_uri: &str, mode: &str, params: &[(&str, String)]) -> Response {
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
fn redirect_error(
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

/// The authorization-code grant (§8.6): the code, the same redirect URI, and the verifier whose
/// S256 (or plain) transform is the challenge. A code is redeemed once and lives 10 minutes.
fn code_grant(shared: &Shared, req: &Request, client_id: &str, form: &str) -> Response {
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
    st.entra.codes_redeemed += 1;
    let user = st.ensure_user(&upn);
    let issued = issue(&mut st, &user, client_id, &tid, &scopes);
    drop(st);
    success(req, &scopes, &issued)
}
