//! The PAT lifecycle API as a test sees it: PATs issued directly (as if made on the web page),
//! revoked or expired behind the helper's back, org policies, and the PATs minted through the API.

use crate::{key, util, FakeAzdo, Pat, PatRecord};

/// An organization policy on PATs created or updated through the lifecycle API. A refused
/// request gets `{"patToken":null,"patTokenError":"<value>"}` (HTTP 200 unless changed with
/// [`FakeAzdo::set_pat_error_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatPolicy {
    /// "Restrict personal access token creation": every create is
    /// `disablePatCreationPolicyViolation` (existing PATs keep working).
    DisableCreation,
    /// "Enforce maximum personal access token lifespan": a later `validTo` is silently clamped
    /// to now + days (on update: creation + days), as the 7.2 spec documents.
    MaxLifespanDays(u32),
    /// The same limit answered with `patLifespanPolicyViolation` instead of clamping (the 7.1
    /// enum value; when the service used it is not documented).
    MaxLifespanDaysStrict(u32),
    /// "Restrict full-scoped personal access token creation": `app_token` is
    /// `fullScopePatPolicyViolation`.
    RestrictFullScope,
    /// "Restrict global personal access token creation": `allOrgs: true` is
    /// `globalPatPolicyViolation`.
    RestrictGlobal,
    /// Global PAT creation retired service-wide: `allOrgs: true` is `globalPATCreationBlocked`.
    BlockGlobalCreation,
    /// Every create answers this `patTokenError` (any value of the reference's §5.7 list).
    Refuse(String),
    /// "Restrict personal access token creation" with an allow-list that leaves only packaging:
    /// the create succeeds, but the PAT's scope is `vso.packaging` whatever was asked (issue
    /// reports of the policy; the exact rule is not documented).
    PackagingOnly,
    /// A broken reply: the PAT's token holds a character outside the PAT alphabet (`-`).
    MalformedToken,
}

/// A PAT created through the lifecycle API, as it stands now (see [`FakeAzdo::minted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedPat {
    /// The org it was created in (canonical name).
    pub org: String,
    pub upn: String,
    pub display_name: String,
    /// Space-separated, as sent.
    pub scope: String,
    /// Unix seconds.
    pub valid_from: i64,
    /// Unix seconds, after any clamping by policy.
    pub valid_to: i64,
    /// `validTo` as the API returns it (`2026-01-01T10:00:00.3333333Z`).
    pub valid_to_text: String,
    /// `validTo` exactly as the client sent it.
    pub requested_valid_to: String,
    pub all_orgs: bool,
    pub authorization_id: String,
    pub token: String,
    pub revoked: bool,
}

impl FakeAzdo {
    /// Issues a PAT (current 84-character form) for `user` (a UPN) in `org`, with scopes such as
    /// `vso.code_write` (`app_token` means full access), valid until `valid_to_unix`.
    /// Adds the org if needed.
    pub fn add_pat(&self, org: &str, user: &str, scopes: &[&str], valid_to_unix: i64) -> Pat {
        self.issue_pat(org, user, scopes, valid_to_unix, util::pat_84())
    }

    /// Like [`FakeAzdo::add_pat`], but the token has the legacy 52-character base32 form.
    pub fn add_legacy_pat(&self, org: &str, user: &str, scopes: &[&str], valid_to_unix: i64) -> Pat {
        self.issue_pat(org, user, scopes, valid_to_unix, util::pat_52())
    }

    /// Like [`FakeAzdo::add_pat`], with the display name the PAT lifecycle API lists it under
    /// (`add_pat` PATs are named `PAT {first 8 characters of the authorization id}`).
    pub fn add_named_pat(&self, org: &str, user: &str, display_name: &str, scopes: &[&str], valid_to_unix: i64) -> Pat {
        self.issue_pat_named(org, user, Some(display_name), scopes, valid_to_unix, util::pat_84())
    }

    /// A global PAT ("All accessible organizations": `allOrgs`, `targetAccounts: null`) for
    /// `user`, listed in `org`, as the web page made them before they were retired. It works in
    /// every org until [`FakeAzdo::retire_global_pats`].
    pub fn add_global_pat(&self, org: &str, user: &str, scopes: &[&str], valid_to_unix: i64) -> Pat {
        let pat = self.issue_pat(org, user, scopes, valid_to_unix, util::pat_84());
        for p in self.shared.state().pats.iter_mut().filter(|p| p.token == pat.token) {
            p.all_orgs = true;
        }
        pat
    }

    /// Global PATs stop working (`true`, as on the service from 2026-12-01): every request with
    /// one is 401 with [`crate::GLOBAL_PAT_RETIRED_MESSAGE`] in `X-TFS-ServiceError` (connectionData,
    /// git).
    pub fn retire_global_pats(&self, retired: bool) {
        self.shared.state().global_pats_retired = retired;
    }

    /// Makes a PAT (by token or authorization id) look created `days` ago: its `validFrom`.
    pub fn backdate_pat(&self, token_or_authorization_id: &str, days: i64) {
        let from = util::Stamp::from_secs(util::now_unix() - days * 86_400);
        for p in self.shared.state().pats.iter_mut() {
            if p.token == token_or_authorization_id || p.authorization_id == token_or_authorization_id {
                p.valid_from = from;
            }
        }
    }

    fn issue_pat(&self, org: &str, user: &str, scopes: &[&str], valid_to_unix: i64, token: String) -> Pat {
        self.issue_pat_named(org, user, None, scopes, valid_to_unix, token)
    }

    fn issue_pat_named(
        &self,
        org: &str,
        user: &str,
        display_name: Option<&str>,
        scopes: &[&str],
        valid_to_unix: i64,
        token: String,
    ) -> Pat {
        self.add_org(org);
        let mut st = self.shared.state();
        st.ensure_user(user);
        let authorization_id = util::guid();
        let now = util::Stamp::now();
        st.pats.push(PatRecord {
            token: token.clone(),
            authorization_id: authorization_id.clone(),
            org_key: key(org),
            upn: user.to_string(),
            display_name: display_name.map_or_else(|| format!("PAT {}", &authorization_id[..8]), str::to_string),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            valid_from: now.min(util::Stamp::from_secs(valid_to_unix)),
            valid_to: util::Stamp::from_secs(valid_to_unix),
            all_orgs: false,
            revoked: false,
            requested_valid_to: None,
        });
        Pat { token, authorization_id }
    }

    /// Revokes a PAT: from now on it is rejected like any unknown credential.
    pub fn revoke_pat(&self, token: &str) {
        for p in self.shared.state().pats.iter_mut() {
            if p.token == token {
                p.revoked = true;
            }
        }
    }

    /// Expires a PAT: sets its `validTo` one day in the past.
    pub fn expire_pat(&self, token: &str) {
        let past = util::Stamp::from_secs(util::now_unix() - 86_400);
        for p in self.shared.state().pats.iter_mut() {
            if p.token == token {
                p.valid_to = past;
            }
        }
    }

    /// Whether a PAT (by token or authorization id) has been revoked, by [`FakeAzdo::revoke_pat`]
    /// or through the lifecycle API. `None` if the fake never issued it.
    pub fn is_revoked(&self, token_or_authorization_id: &str) -> Option<bool> {
        let st = self.shared.state();
        st.pats
            .iter()
            .find(|p| p.token == token_or_authorization_id || p.authorization_id == token_or_authorization_id)
            .map(|p| p.revoked)
    }

    /// Adds a PAT policy to an org (replacing one of the same kind). Adds the org if needed.
    pub fn set_pat_policy(&self, org: &str, policy: PatPolicy) {
        self.add_org(org);
        if let Some(o) = self.shared.state().orgs.get_mut(&key(org)) {
            o.policies.retain(|p| std::mem::discriminant(p) != std::mem::discriminant(&policy));
            o.policies.push(policy);
        }
    }

    pub fn clear_pat_policies(&self, org: &str) {
        if let Some(o) = self.shared.state().orgs.get_mut(&key(org)) {
            o.policies.clear();
        }
    }

    /// The PATs created through the lifecycle API in an org, oldest first.
    pub fn minted(&self, org: &str) -> Vec<MintedPat> {
        let st = self.shared.state();
        let name = st.org(org).map_or_else(|| org.to_string(), |o| o.name.clone());
        st.pats
            .iter()
            .filter(|p| p.org_key == key(org))
            .filter_map(|p| {
                Some(MintedPat {
                    org: name.clone(),
                    upn: p.upn.clone(),
                    display_name: p.display_name.clone(),
                    scope: p.scopes.join(" "),
                    valid_from: p.valid_from.secs,
                    valid_to: p.valid_to.secs,
                    valid_to_text: p.valid_to.format(),
                    requested_valid_to: p.requested_valid_to.clone()?,
                    all_orgs: p.all_orgs,
                    authorization_id: p.authorization_id.clone(),
                    token: p.token.clone(),
                    revoked: p.revoked,
                })
            })
            .collect()
    }

    /// The page size of the PAT list when the request has no `$top` (default 100, the
    /// documented maximum; the real default is not documented).
    pub fn set_pat_page_size(&self, n: usize) {
        self.shared.state().pat_page_size = n.clamp(1, 100);
    }

    /// The most PATs one page of the list holds, even when `$top` asks for more (default 100,
    /// the documented limit): a smaller cap makes a client follow `continuationToken` sooner.
    pub fn set_pat_page_cap(&self, n: usize) {
        self.shared.state().pat_page_cap = n.clamp(1, 100);
    }

    /// The HTTP status of answers carrying a `patTokenError` (default 200: the reference
    /// infers that errors come in a successful `PatTokenResult`).
    pub fn set_pat_error_status(&self, status: u16) {
        self.shared.state().pat_error_status = status;
    }
}
