//! The fake's state behind its one lock: organizations, PATs, users and what each service keeps
//! (Entra's flows and tokens, the identities), with the counters and faults; what a request's
//! `Authorization` header amounts to; the open connections and the stop signal the server
//! threads share.

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::{entra, identity, util, DeviceFlow, Fault, PatPolicy, Route, TENANT_ID};

pub(crate) struct Org {
    /// The name as first added (the canonical casing).
    pub name: String,
    pub public: bool,
    /// The org's host id, reported as `instanceId` in ConnectionData and as the target account
    /// of its PATs.
    pub instance_id: String,
    /// Backed by personal Microsoft accounts: all-zero tenant, bare `Bearer` challenge.
    pub msa: bool,
    pub policies: Vec<PatPolicy>,
}

#[derive(Clone)]
pub(crate) struct PatRecord {
    pub token: String,
    pub authorization_id: String,
    /// The org it was created in.
    pub org_key: String,
    pub upn: String,
    pub display_name: String,
    pub scopes: Vec<String>,
    pub valid_from: util::Stamp,
    pub valid_to: util::Stamp,
    /// Valid in every org (`allOrgs: true`, `targetAccounts: null`).
    pub all_orgs: bool,
    pub revoked: bool,
    /// `Some(validTo as requested)` for PATs created through the lifecycle API.
    pub requested_valid_to: Option<String>,
}

#[derive(Clone)]
pub(crate) struct User {
    pub id: String,
    /// Base of the `aad.{base64}` subject descriptor.
    pub subject_id: String,
    pub upn: String,
    pub display_name: String,
}

/// What the `Authorization` header of a request amounts to for one org.
pub(crate) enum Auth {
    /// No `Authorization` header.
    Anonymous,
    /// Malformed, unknown, revoked or other-org credentials.
    Bad,
    /// A PAT of this org whose `validTo` has passed.
    Expired,
    /// An Entra access token the fake issued whose lifetime has passed.
    ExpiredToken,
    /// A global (all organizations) PAT, once global PATs are retired
    /// ([`crate::FakeAzdo::retire_global_pats`]).
    GlobalRetired,
    /// A CAE access token whose session was revoked: answered with this claims challenge (JSON).
    Challenged(String),
    Valid {
        user: User,
        scopes: Vec<String>,
    },
}

/// Scopes that grant everything: a full-access PAT, and an Entra token's delegated permission.
const FULL_ACCESS: [&str; 2] = ["app_token", "user_impersonation"];

impl Auth {
    pub fn has_scope(&self, wanted: &[&str]) -> bool {
        match self {
            Auth::Valid { scopes, .. } => {
                scopes.iter().any(|s| FULL_ACCESS.contains(&s.as_str()) || wanted.contains(&s.as_str()))
            }
            _ => false,
        }
    }
}

pub(crate) struct State {
    pub orgs: HashMap<String, Org>,
    /// (org, project, repo), lower-cased → the repo's PATH_INFO prefix under the project root.
    pub repos: HashMap<(String, String, String), String>,
    pub pats: Vec<PatRecord>,
    /// lower-cased UPN → user
    pub users: HashMap<String, User>,
    pub fault: Fault,
    pub git_fault: Fault,
    pub counts: HashMap<Route, usize>,
    /// Requests by `Host` (lower-cased, without the port).
    pub host_counts: HashMap<String, usize>,
    pub authority: String,
    pub entra: entra::EntraState,
    /// Page size of the PAT list when the request has no `$top`.
    pub pat_page_size: usize,
    /// The most PATs one page holds, whatever `$top` asks (documented: 100).
    pub pat_page_cap: usize,
    /// HTTP status of a `PatTokenResult` carrying a `patTokenError`.
    pub pat_error_status: u16,
    pub ids: identity::IdentityState,
    /// A fault in front of the managed identity endpoints.
    pub mi_fault: Fault,
    /// Global PATs are refused with the retirement error (the service from 2026-12-01).
    pub global_pats_retired: bool,
}

pub(crate) fn key(name: &str) -> String {
    name.to_lowercase()
}

impl State {
    pub fn org(&self, name: &str) -> Option<&Org> {
        self.orgs.get(&key(name))
    }

    /// `Basic` with a PAT of the org (or an all-orgs PAT) or an Entra access token as the
    /// password; `Bearer` with an Entra access token.
    pub fn authenticate(&self, org: &str, authorization: Option<&str>) -> Auth {
        use base64::Engine as _;
        let Some(value) = authorization else {
            return Auth::Anonymous;
        };
        let value = value.trim();
        let Some((scheme, rest)) = value.split_once(' ') else {
            return Auth::Bad;
        };
        if scheme.eq_ignore_ascii_case("bearer") {
            return self.access_token_auth(org, rest.trim());
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Auth::Bad;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
            return Auth::Bad;
        };
        let Ok(decoded) = String::from_utf8(decoded) else {
            return Auth::Bad;
        };
        let Some((_user, token)) = decoded.split_once(':') else {
            return Auth::Bad;
        };
        let org_key = key(org);
        let Some(pat) = self.pats.iter().find(|p| p.token == token && (p.org_key == org_key || p.all_orgs)) else {
            return self.access_token_auth(org, token);
        };
        if pat.revoked {
            return Auth::Bad;
        }
        if pat.valid_to.secs <= util::now_unix() {
            return Auth::Expired;
        }
        if pat.all_orgs && self.global_pats_retired {
            return Auth::GlobalRetired;
        }
        match self.users.get(&key(&pat.upn)) {
            Some(user) => Auth::Valid { user: user.clone(), scopes: pat.scopes.clone() },
            None => Auth::Bad,
        }
    }

    /// An access token from the fake's Entra: valid in every MSA-backed org and in the orgs of
    /// its tenant (all Entra-backed orgs are in [`TENANT_ID`]); full access.
    fn access_token_auth(&self, org: &str, token: &str) -> Auth {
        // A pipeline job token: the build service, in the job's org only.
        if let Some(user) = self.ids.job_user(token, org) {
            return match user {
                Some(user) => Auth::Valid { user, scopes: vec!["app_token".to_string()] },
                None => Auth::Bad,
            };
        }
        let Some(at) = self.entra.access_tokens.get(token) else {
            return Auth::Bad;
        };
        // A service principal's or managed identity's token: only in orgs it was added to.
        if let Some(client_id) = &at.principal {
            if at.expires_at <= util::now_unix() {
                return Auth::ExpiredToken;
            }
            return match self.ids.member(client_id, org) {
                Some(user) => Auth::Valid { user, scopes: vec!["user_impersonation".to_string()] },
                None => Auth::Bad,
            };
        }
        let msa = self.org(org).is_some_and(|o| o.msa);
        if !msa && at.tid != TENANT_ID {
            return Auth::Bad;
        }
        if at.expires_at <= util::now_unix() {
            return Auth::ExpiredToken;
        }
        if let Some(claims) = &at.challenge {
            return Auth::Challenged(claims.clone());
        }
        match self.users.get(&key(&at.upn)) {
            Some(user) => Auth::Valid { user: user.clone(), scopes: vec!["user_impersonation".to_string()] },
            None => Auth::Bad,
        }
    }

    /// The user with this UPN, created on first use.
    pub fn ensure_user(&mut self, upn: &str) -> User {
        self.users
            .entry(key(upn))
            .or_insert_with(|| User {
                id: util::guid(),
                subject_id: util::guid(),
                upn: upn.to_string(),
                display_name: display_name(upn),
            })
            .clone()
    }

    pub(crate) fn add_org(&mut self, name: &str) {
        self.orgs.entry(key(name)).or_insert_with(|| Org {
            name: name.to_string(),
            public: false,
            instance_id: util::guid(),
            msa: false,
            policies: Vec::new(),
        });
    }

    pub(crate) fn flow_mut(&mut self, which: &DeviceFlow) -> Option<&mut entra::FlowPlan> {
        let flows = &mut self.entra.flows;
        match which {
            DeviceFlow::Next => Some(&mut self.entra.next),
            DeviceFlow::Latest => flows.last_mut().map(|f| &mut f.plan),
            DeviceFlow::UserCode(code) => {
                flows.iter_mut().find(|f| f.user_code.eq_ignore_ascii_case(code)).map(|f| &mut f.plan)
            }
        }
    }
}

pub(crate) struct Conns {
    pub next: u64,
    pub open: HashMap<u64, TcpStream>,
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub stopping: Mutex<bool>,
    pub stop_cv: Condvar,
    pub conns: Mutex<Conns>,
    pub conns_cv: Condvar,
    pub root: PathBuf,
    pub repos_root: PathBuf,
    pub home: PathBuf,
    pub git_config: PathBuf,
    /// `X-TFS-ProcessId`
    pub process_id: String,
    /// `deploymentId` and `X-VSS-SenderDeploymentId`
    pub deployment_id: String,
    pub last_change_id: u64,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub fn is_stopping(&self) -> bool {
        *lock(&self.stopping)
    }

    /// Sleeps for `d` unless the server stops first; returns false if it stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut stopping = lock(&self.stopping);
        loop {
            if *stopping {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            stopping = match self.stop_cv.wait_timeout(stopping, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    pub fn count(&self, route: Route) {
        *self.state().counts.entry(route).or_insert(0) += 1;
    }

    pub fn count_host(&self, host: String) {
        *self.state().host_counts.entry(host).or_insert(0) += 1;
    }

    /// Registers an open connection so that stopping can shut it down.
    pub fn register(&self, stream: TcpStream) -> u64 {
        let mut c = lock(&self.conns);
        let id = c.next;
        c.next += 1;
        c.open.insert(id, stream);
        id
    }

    pub fn unregister(&self, id: u64) {
        lock(&self.conns).open.remove(&id);
        self.conns_cv.notify_all();
    }
}

/// `alice.smith@contoso.example` → `Alice Smith`.
fn display_name(upn: &str) -> String {
    let local = upn.split('@').next().unwrap_or(upn);
    local
        .split(['.', '_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `git` isolated from the user's and the system's configuration and from inherited `GIT_*`
/// variables (a test may run inside another repository's hooks or with tracing on).
pub(crate) fn git_command(shared: &Shared) -> Command {
    let mut cmd = Command::new("git");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GIT_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", &shared.git_config)
        .env("HOME", &shared.home)
        .env("GIT_TERMINAL_PROMPT", "0");
    cmd
}

#[cfg(test)]
mod tests {
    #[test]
    fn display_names() {
        assert_eq!(super::display_name("alice@contoso.example"), "Alice");
        assert_eq!(super::display_name("bob.de-vries@contoso.example"), "Bob De Vries");
    }
}
