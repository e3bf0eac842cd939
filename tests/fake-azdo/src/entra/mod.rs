//! Microsoft Entra ID, as far as a device-code or browser sign-in for Azure DevOps needs it:
//! `POST /{tenant}/oauth2/v2.0/devicecode`, `GET /{tenant}/oauth2/v2.0/authorize` (the page a
//! browser is sent to: it redirects to the loopback `redirect_uri` with a code, as Entra does once
//! the person has signed in) and `POST /{tenant}/oauth2/v2.0/token` (device-code, authorization
//! code with PKCE, and refresh-token grants). Shapes follow the reference's §8: form-encoded requests, JSON
//! answers, every error HTTP 400 with `error`, `error_description` (`AADSTSnnnn: ...` plus the
//! trace, correlation and timestamp lines), `error_codes`, `timestamp`, `trace_id`,
//! `correlation_id` and `error_uri`. Where an AADSTS code or wording is not documented, the
//! function that emits it says so.
//!
//! Its test controls are in `control.rs`; the endpoints by flow in `device.rs`, `authorize.rs`
//! and `token.rs`; what they share (issuing tokens, the checks and error answers) in `issue.rs`
//! and `checks.rs`; continuous access evaluation (the `claims` parameter, `cp1`, sessions
//! revoked under CAE and their challenge) in `cae.rs`.

mod authorize;
mod cae;
mod checks;
pub(crate) mod control;
mod device;
mod issue;
mod token;

pub(crate) use authorize::authorize;
pub(crate) use cae::cae_challenge_header;
pub use cae::TokenClaims;
pub(crate) use checks::{error, is_ado_default_scope};
pub(crate) use device::device_code;
pub(crate) use issue::issue;
pub(crate) use token::token;

use cae::*;
use checks::*;
use device::*;
use issue::*;
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
    /// The device code request declared the `cp1` capability in its `claims`.
    pub cp1: bool,
}

pub(crate) struct AccessToken {
    pub upn: String,
    pub tid: String,
    pub expires_at: i64,
    /// The client id of the service principal or managed identity it was issued to (`None`: a user's).
    pub principal: Option<String>,
    /// A CAE token: issued to a client that declared the `cp1` capability.
    pub cae: bool,
    /// The claims (JSON) of the CAE challenge that rejects it since its session was revoked.
    pub challenge: Option<String>,
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
    /// Its session was revoked under CAE: it is redeemed only with a `claims` parameter that
    /// carries these claims (JSON).
    pub required_claims: Option<String>,
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
    /// The authorize request declared the `cp1` capability in its `claims`.
    pub cp1: bool,
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
    /// The `claims` parameter of every token and device-code request, in order.
    pub claims_seen: Vec<TokenClaims>,
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
            claims_seen: Vec::new(),
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
