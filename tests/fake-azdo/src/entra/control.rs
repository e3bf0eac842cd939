//! Microsoft Entra ID as a test scripts it: allowed clients, the browser sign-in's outcome,
//! each device flow's script, tokens issued without a flow, and what was asked.

use std::time::Duration;

use super::{BrowserPlan, Flow, FlowOutcome, FlowPlan, RtStatus, ACCESS_TOKEN_LIFETIME};
use crate::{util, FakeAzdo, Fault, State, ADO_SCOPE, DEFAULT_CLIENT_ID, TENANT_ID};

/// Which device flow a test control applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceFlow {
    /// The next device code the fake hands out.
    Next,
    /// The device code handed out last (panics if there is none).
    Latest,
    /// The flow showing this user code (case-insensitive; panics if there is none).
    UserCode(String),
}

/// What a device flow has answered so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceFlowState {
    /// No final answer yet (`authorization_pending` / `slow_down` so far).
    Waiting,
    /// Tokens were issued for this UPN.
    SignedIn(String),
    /// `authorization_declined` was answered.
    Declined,
    /// `expired_token` was answered.
    Expired,
}

/// A device flow as the fake saw it (see [`FakeAzdo::device_flows`]).
#[derive(Debug, Clone)]
pub struct DeviceFlowInfo {
    pub user_code: String,
    pub device_code: String,
    pub client_id: String,
    /// The tenant path segment the code was requested from (`organizations`, a GUID, ...).
    pub tenant: String,
    /// The scopes requested, space-separated.
    pub scope: String,
    /// Token requests made with this device code.
    pub polls: usize,
    /// Time before each poll since the previous one (the first: since the code was issued).
    pub poll_gaps: Vec<Duration>,
    pub state: DeviceFlowState,
}

/// An authorize request as a browser sent it (see [`FakeAzdo::authorize_requests`]); values
/// decoded, `None` when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub tenant: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub response_type: String,
    pub response_mode: String,
    pub scope: String,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub login_hint: Option<String>,
    pub domain_hint: Option<String>,
    /// The `claims` parameter (JSON), as sent.
    pub claims: Option<String>,
}

/// Tokens issued without a device flow (see [`FakeAzdo::issue_entra_tokens`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraTokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token is valid for.
    pub expires_in: u64,
}

impl FakeAzdo {
    /// Lets an Entra client id use the device-code and token endpoints (only
    /// [`DEFAULT_CLIENT_ID`] is allowed at start); others get 400 `unauthorized_client`
    /// (AADSTS700016).
    pub fn allow_client(&self, client_id: &str) {
        let mut st = self.shared.state();
        if !st.entra.allowed_clients.iter().any(|c| c.eq_ignore_ascii_case(client_id)) {
            st.entra.allowed_clients.push(client_id.to_string());
        }
    }

    /// From now on the authorize page signs the browser in as `upn` (created if new): it sends
    /// the browser to the redirect URI with a code (a 302 for `response_mode=query`, an
    /// auto-submitting form for `form_post`). Without a plan the sign-in page just stays open.
    pub fn approve_browser_sign_in(&self, upn: &str) {
        let mut st = self.shared.state();
        st.ensure_user(upn);
        st.entra.browser = Some(BrowserPlan::Approve(upn.to_string()));
    }

    /// From now on the authorize page signs the browser in as the account its `login_hint`
    /// names (as a person who takes the pre-filled account does); without a hint it answers
    /// `login_required`.
    pub fn approve_browser_sign_in_as_hinted(&self) {
        self.shared.state().entra.browser = Some(BrowserPlan::Approve(String::new()));
    }

    /// From now on the authorize page answers `error=access_denied` (the person cancelled).
    pub fn deny_browser_sign_in(&self) {
        self.shared.state().entra.browser = Some(BrowserPlan::Deny);
    }

    /// The authorize requests received so far, oldest first.
    pub fn authorize_requests(&self) -> Vec<AuthorizeRequest> {
        self.shared.state().entra.authorizations.clone()
    }

    /// Authorization-code grants received (whatever their outcome), and those that got tokens.
    pub fn code_grants(&self) -> (usize, usize) {
        let st = self.shared.state();
        (st.entra.code_grants, st.entra.codes_redeemed)
    }

    /// Every PKCE `code_verifier` the token endpoint received (to check that none leaks).
    pub fn code_verifiers(&self) -> Vec<String> {
        self.shared.state().entra.verifiers.clone()
    }

    /// Conditional Access blocks the device code flow: every device-code poll answers
    /// `invalid_grant` with this AADSTS code (53003: blocked by Conditional Access).
    pub fn block_device_code(&self, aadsts: u32) {
        self.shared.state().entra.device_blocked = Some(aadsts);
    }

    /// The client ids the fake's Entra accepts.
    pub fn allowed_clients(&self) -> Vec<String> {
        self.shared.state().entra.allowed_clients.clone()
    }

    /// Approves a device flow for `upn` (the user is created if new): once its scripted pending
    /// polls are used up, the next poll gets tokens. Approving [`DeviceFlow::Next`] scripts
    /// the next device code handed out.
    pub fn approve_device_flow(&self, which: DeviceFlow, upn: &str) {
        let mut st = self.shared.state();
        st.ensure_user(upn);
        Self::plan(&mut st, &which).outcome = Some(FlowOutcome::Approve(upn.to_string()));
    }

    /// The next device flow ends in `authorization_declined`.
    pub fn decline_next_device_flow(&self) {
        self.decline_device_flow(DeviceFlow::Next);
    }

    pub fn decline_device_flow(&self, which: DeviceFlow) {
        Self::plan(&mut self.shared.state(), &which).outcome = Some(FlowOutcome::Decline);
    }

    /// The next device flow ends in `expired_token` (as when the user never signs in within
    /// `expires_in`, which also happens by the clock).
    pub fn expire_next_device_flow(&self) {
        self.expire_device_flow(DeviceFlow::Next);
    }

    pub fn expire_device_flow(&self, which: DeviceFlow) {
        Self::plan(&mut self.shared.state(), &which).outcome = Some(FlowOutcome::Expire);
    }

    /// The next device flow answers `authorization_pending` to its first `n` polls, before any
    /// `slow_down` and its outcome. (A flow with no outcome stays pending.)
    pub fn pending_polls(&self, n: u32) {
        self.shared.state().entra.next.pending = n;
    }

    /// The next device flow answers `slow_down` once, after its pending polls.
    pub fn slow_down_once(&self) {
        self.shared.state().entra.next.slow_down = true;
    }

    fn plan<'a>(st: &'a mut State, which: &DeviceFlow) -> &'a mut FlowPlan {
        match st.flow_mut(which) {
            Some(p) => p,
            None => panic!("fake-azdo: no device flow {which:?}"),
        }
    }

    /// `interval` and `expires_in` of device codes handed out from now on (default 5 and 900
    /// seconds). A flow older than its `expires_in` answers `expired_token`.
    pub fn set_device_flow_timing(&self, interval_secs: u64, expires_in_secs: u64) {
        let mut st = self.shared.state();
        st.entra.interval = interval_secs;
        st.entra.expires_in = expires_in_secs;
    }

    /// When on, a poll sooner than the flow's `interval` after the previous one answers
    /// `slow_down` and adds 5 seconds to the interval (RFC 8628 §3.5). Off by default.
    pub fn enforce_poll_interval(&self, on: bool) {
        self.shared.state().entra.enforce_interval = on;
    }

    /// The device flows started so far, oldest first.
    pub fn device_flows(&self) -> Vec<DeviceFlowInfo> {
        self.shared.state().entra.flows.iter().map(Flow::info).collect()
    }

    /// Issues an access token and a refresh token for `upn` as if a device flow for
    /// [`DEFAULT_CLIENT_ID`] had just succeeded (scope [`ADO_SCOPE`] plus `offline_access`).
    pub fn issue_entra_tokens(&self, upn: &str) -> EntraTokens {
        let mut st = self.shared.state();
        let user = st.ensure_user(upn);
        let scopes = [ADO_SCOPE.to_string(), "offline_access".to_string()];
        let issued = super::issue(&mut st, &user, DEFAULT_CLIENT_ID, TENANT_ID, &scopes);
        EntraTokens {
            access_token: issued.access_token,
            refresh_token: issued.refresh_token.unwrap_or_default(),
            expires_in: ACCESS_TOKEN_LIFETIME as u64,
        }
    }

    /// Every access, refresh and id token the fake's Entra issued so far (to check that none
    /// leaks into output or files).
    pub fn issued_entra_tokens(&self) -> Vec<String> {
        self.shared.state().entra.issued.clone()
    }

    /// Revokes every refresh token issued so far (as revoking the user's sessions does):
    /// redeeming one answers `invalid_grant` AADSTS50173. Access tokens stay valid.
    pub fn revoke_refresh_tokens(&self) {
        for rt in self.shared.state().entra.refresh_tokens.values_mut() {
            rt.status = RtStatus::Revoked;
        }
    }

    /// Expires every refresh token issued so far (inactivity): `invalid_grant` AADSTS700082.
    pub fn expire_refresh_tokens(&self) {
        for rt in self.shared.state().entra.refresh_tokens.values_mut() {
            rt.status = RtStatus::Expired;
        }
    }

    /// When on, a refresh token stops working once redeemed (`invalid_grant` AADSTS70000).
    /// Off by default: Entra documents that redeeming does not revoke the old refresh token,
    /// though clients must switch to the new one.
    pub fn set_single_use_refresh_tokens(&self, on: bool) {
        self.shared.state().entra.single_use_refresh = on;
    }

    /// Expires every access token issued so far: on Azure DevOps routes they are rejected with
    /// 401 (TF400813); refresh tokens still work.
    pub fn expire_access_tokens(&self) {
        let past = util::now_unix() - 1;
        for at in self.shared.state().entra.access_tokens.values_mut() {
            at.expires_at = past;
        }
    }

    /// Refresh-token grants received (whatever their outcome).
    pub fn refresh_grants(&self) -> usize {
        self.shared.state().entra.refresh_grants
    }

    /// Sets the fault for the Entra routes (`/{tenant}/oauth2/v2.0/...`); errors come in
    /// Entra's JSON shape.
    pub fn set_entra_fault(&self, fault: Fault) {
        self.shared.state().entra.fault = fault;
    }
}
