//! A local fake of Azure DevOps for end-to-end tests of git-credential-azdo.
//!
//! One loopback HTTP/1.1 server, path-routed like `https://dev.azure.com` (and, for a request
//! whose `Host` names one of the real service's hosts, routed by host as the service is: see
//! `route` in server.rs; `tests/production.rs` puts it behind TLS under those names):
//!
//! * `GET /{org}/_apis/connectionData`: the PAT validation probe, with the responses Azure DevOps
//!   gives for valid, bad, revoked, expired, other-org and absent credentials, public orgs,
//!   unknown orgs, and clients that do not send `X-TFS-FedAuthRedirect: Suppress`.
//! * `GET|HEAD /{org}`: the unauthenticated challenge that carries the org's Entra tenant (or
//!   the all-zero tenant and a bare `Bearer` for an MSA-backed org).
//! * `/{org}/_apis/tokens/pats`: the PAT lifecycle API (create, list, get, update, revoke) for
//!   Entra bearer tokens, with org policies (creation disabled, lifespan, full scope, global).
//! * `POST /{tenant}/oauth2/v2.0/devicecode` and `.../token`: Microsoft Entra's device-code
//!   flow, scripted by the test, and the refresh-token grant with rotation. Access tokens it
//!   issues work as `Bearer` (or as a Basic password) on connectionData, git and the PAT API.
//! * `/{org}/{project}/_git/{repo}/...`: git smart HTTP, served by the real `git http-backend`
//!   behind Basic authentication with PAT scopes.
//! * Injectable faults (latency, status, throttling, dropped connections, garbage) and per-route
//!   request counters.
//!
//! It never connects anywhere; it binds 127.0.0.1 only. All state is behind a mutex, so tests can
//! revoke PATs or switch faults while git runs.

mod azdo;
mod entra;
mod git;
mod http;
mod identity;
mod pats;
mod server;
mod util;

pub use identity::{Assignment, Principal, EXCHANGE_AUDIENCE, GITHUB_ISSUER};

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The Entra tenant of every fake org (they are all Entra-backed).
pub const TENANT_ID: &str = "c0ffee00-fa4e-4a2d-8b1e-0000000a2d00";
/// The identity Azure DevOps reports for anonymous access to a public-project org.
pub const ANONYMOUS_ID: &str = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa";
/// The realm of the `Basic` challenge (real ones name a `tfsprod*` scale unit).
pub const REALM: &str = "https://tfsprodfake1.app.visualstudio.com/";
/// The default Entra authority base in `Bearer authorization_uri={authority}/{tenant}`.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// `X-VSS-ResourceTenant` of an org backed by personal Microsoft accounts (see
/// [`FakeAzdo::set_msa_org`]).
pub const MSA_TENANT_ID: &str = "00000000-0000-0000-0000-000000000000";
/// The Azure DevOps resource (application) id in Entra.
pub const ADO_RESOURCE_ID: &str = "499b84ac-1321-427f-aa17-267ca6975798";
/// The scope a device-code or refresh request must name (plus `offline_access` for a refresh
/// token). `https://app.vssps.visualstudio.com/.default` is accepted too.
pub const ADO_SCOPE: &str = "499b84ac-1321-427f-aa17-267ca6975798/.default";
/// The Entra client id the fake accepts from the start: Visual Studio's public client, which
/// Git Credential Manager uses. Others must be allowed with [`FakeAzdo::allow_client`].
pub const DEFAULT_CLIENT_ID: &str = "872cd9fa-d31f-45e0-9eab-6e460a02d1f1";
/// `verification_uri` of device-code answers (the real one; nothing is served there).
pub const VERIFICATION_URI: &str = "https://microsoft.com/devicelogin";

/// A PAT the fake issued. `token` is the secret string (84-character current form unless made
/// with [`FakeAzdo::add_legacy_pat`]); `authorization_id` is its GUID in the PAT lifecycle API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pat {
    pub token: String,
    pub authorization_id: String,
}

/// A fault injected in front of a group of routes (see [`FakeAzdo::set_fault`] and
/// [`FakeAzdo::set_git_fault`]). It stays in force until replaced by `Fault::None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Wait this long, then answer normally.
    Latency(Duration),
    /// Answer this status with a wrapped-exception JSON body (503: TF24668, "collection stopped").
    Status(u16),
    /// Answer 429 with `Retry-After`, `X-RateLimit-*` and a TF400733 body.
    Throttle { retry_after_secs: u64 },
    /// Close the connection without sending a byte.
    Drop,
    /// Answer 200 with the right content type and a body that is not what it claims to be.
    Garbage,
}

/// The kinds of route requests are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `/{org}/_apis/connectionData`
    ConnectionData,
    /// git smart HTTP: `info/refs`, `git-upload-pack`, `git-receive-pack`
    Git,
    /// `GET|HEAD /{org}` and `/{org}/`
    Challenge,
    /// anything else
    Other,
    /// Entra `/{tenant}/oauth2/v2.0/devicecode`
    DeviceCode,
    /// Entra `/{tenant}/oauth2/v2.0/token` (device-code polls, authorization codes and refresh grants)
    Token,
    /// Entra `GET /{tenant}/oauth2/v2.0/authorize` (the browser's sign-in page)
    Authorize,
    /// `POST /{org}/_apis/tokens/pats`: mint a PAT
    PatCreate,
    /// `GET /{org}/_apis/tokens/pats` without `authorizationId`
    PatList,
    /// `GET /{org}/_apis/tokens/pats?authorizationId=`
    PatGet,
    /// `PUT /{org}/_apis/tokens/pats`
    PatUpdate,
    /// `DELETE /{org}/_apis/tokens/pats?authorizationId=`
    PatRevoke,
    /// The managed identity endpoints: `/metadata/identity/oauth2/token` and `/msi/token`
    ManagedIdentity,
    /// The external issuers' endpoints: GitHub's ID token and Pipelines' OIDC token
    Oidc,
}

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
}

/// Tokens issued without a device flow (see [`FakeAzdo::issue_entra_tokens`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraTokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token is valid for.
    pub expires_in: u64,
}

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
    /// HTTP status of a `PatTokenResult` carrying a `patTokenError`.
    pub pat_error_status: u16,
    pub ids: identity::IdentityState,
    /// A fault in front of the managed identity endpoints.
    pub mi_fault: Fault,
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

    fn add_org(&mut self, name: &str) {
        self.orgs.entry(key(name)).or_insert_with(|| Org {
            name: name.to_string(),
            public: false,
            instance_id: util::guid(),
            msa: false,
            policies: Vec::new(),
        });
    }

    fn flow_mut(&mut self, which: &DeviceFlow) -> Option<&mut entra::FlowPlan> {
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
    next: u64,
    open: HashMap<u64, TcpStream>,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    stopping: Mutex<bool>,
    stop_cv: Condvar,
    conns: Mutex<Conns>,
    conns_cv: Condvar,
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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

/// The fake server. Dropping it stops the server and deletes its temporary directory.
pub struct FakeAzdo {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl FakeAzdo {
    /// Binds 127.0.0.1 on a free port and serves on background threads.
    pub fn start() -> FakeAzdo {
        let root = std::env::temp_dir().join(format!("fake-azdo-{}-{:016x}", std::process::id(), util::random_u64()));
        let repos_root = root.join("repos");
        let home = root.join("home");
        std::fs::create_dir_all(&repos_root).expect("fake-azdo: create repos dir");
        std::fs::create_dir_all(&home).expect("fake-azdo: create home dir");
        let git_config = root.join("gitconfig");
        std::fs::write(&git_config, "").expect("fake-azdo: write gitconfig");
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake-azdo: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake-azdo: local addr");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                orgs: HashMap::new(),
                repos: HashMap::new(),
                pats: Vec::new(),
                users: HashMap::new(),
                fault: Fault::None,
                git_fault: Fault::None,
                counts: HashMap::new(),
                host_counts: HashMap::new(),
                authority: DEFAULT_AUTHORITY.to_string(),
                entra: entra::EntraState::default(),
                pat_page_size: 100,
                pat_error_status: 200,
                ids: identity::IdentityState::default(),
                mi_fault: Fault::None,
            }),
            stopping: Mutex::new(false),
            stop_cv: Condvar::new(),
            conns: Mutex::new(Conns { next: 0, open: HashMap::new() }),
            conns_cv: Condvar::new(),
            root,
            repos_root,
            home,
            git_config,
            process_id: util::guid(),
            deployment_id: util::guid(),
            last_change_id: 400_000_000 + util::random_u64() % 100_000_000,
        });
        let for_thread = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("fake-azdo-accept".into())
            .spawn(move || server::accept_loop(for_thread, listener))
            .expect("fake-azdo: spawn accept thread");
        FakeAzdo { shared, addr, accept: Some(accept) }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `{url}/{org}/{project}/_git/{repo}`, the clone URL of a repo.
    pub fn repo_url(&self, org: &str, project: &str, repo: &str) -> String {
        format!("{}/{org}/{project}/_git/{repo}", self.url())
    }

    /// The temporary directory holding the repos (deleted on drop).
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    /// Adds a private, Entra-backed org (tenant [`TENANT_ID`]). Names compare case-insensitively;
    /// adding an existing org changes nothing.
    pub fn add_org(&self, name: &str) {
        assert!(!name.is_empty() && !name.contains('/') && !name.starts_with('_'), "fake-azdo: bad org name {name:?}");
        self.shared.state().add_org(name);
    }

    /// Makes an org one with public projects: bad or absent credentials get the anonymous
    /// ConnectionData (200), and its repos can be fetched without credentials.
    pub fn set_public(&self, org: &str, public: bool) {
        self.add_org(org);
        let mut st = self.shared.state();
        if let Some(o) = st.orgs.get_mut(&key(org)) {
            o.public = public;
        }
    }

    /// Sets the authority base of the `Bearer authorization_uri=...` challenge (default
    /// [`DEFAULT_AUTHORITY`]).
    pub fn set_authority(&self, url: &str) {
        self.shared.state().authority = url.trim_end_matches('/').to_string();
    }

    /// Creates a bare repo with one commit on `main` (a README.md), served at
    /// `/{org}/{project}/_git/{repo}`, and returns its directory. Adds the org if needed.
    pub fn add_repo(&self, org: &str, project: &str, repo: &str) -> PathBuf {
        for name in [project, repo] {
            assert!(
                !name.is_empty()
                    && name != "."
                    && name != ".."
                    && !name.contains(['/', '\\', '\0'])
                    && !name.starts_with('_'),
                "fake-azdo: bad project or repo name {name:?}"
            );
        }
        self.add_org(org);
        let rel = format!("{}/{project}/{repo}.git", key(org));
        let dir = self.shared.repos_root.join(&rel);
        std::fs::create_dir_all(&dir).expect("fake-azdo: create repo dir");
        let git = |args: &[&str], stdin: &str| -> String {
            let mut cmd = git_command(&self.shared);
            cmd.arg("--git-dir").arg(&dir).args(args);
            cmd.env("GIT_AUTHOR_NAME", "Fake Azure DevOps")
                .env("GIT_AUTHOR_EMAIL", "fake@fake-azdo.invalid")
                .env("GIT_AUTHOR_DATE", "1700000000 +0000")
                .env("GIT_COMMITTER_NAME", "Fake Azure DevOps")
                .env("GIT_COMMITTER_EMAIL", "fake@fake-azdo.invalid")
                .env("GIT_COMMITTER_DATE", "1700000000 +0000")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("fake-azdo: run git");
            if let Some(mut input) = child.stdin.take() {
                input.write_all(stdin.as_bytes()).expect("fake-azdo: write to git");
            }
            let out = child.wait_with_output().expect("fake-azdo: wait for git");
            assert!(out.status.success(), "fake-azdo: git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        git(&["init", "--bare", "--quiet"], "");
        git(&["symbolic-ref", "HEAD", "refs/heads/main"], "");
        let blob = git(
            &["hash-object", "-w", "--stdin"],
            &format!("# {repo}\n\nA repository in the fake Azure DevOps project {project}.\n"),
        );
        let tree = git(&["mktree"], &format!("100644 blob {blob}\tREADME.md\n"));
        let commit = git(&["commit-tree", &tree, "-m", "Initial commit"], "");
        git(&["update-ref", "refs/heads/main", &commit], "");
        self.shared.state().repos.insert((key(org), key(project), key(repo)), format!("/{rel}"));
        dir
    }

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

    /// Makes an org one backed by personal Microsoft accounts: its challenge carries a bare
    /// `Bearer` and `X-VSS-ResourceTenant: 00000000-...` ([`MSA_TENANT_ID`]), and its users'
    /// identities are `msa.` ones. Adds the org if needed.
    pub fn set_msa_org(&self, org: &str) {
        self.add_org(org);
        if let Some(o) = self.shared.state().orgs.get_mut(&key(org)) {
            o.msa = true;
        }
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

    /// The HTTP status of answers carrying a `patTokenError` (default 200: the reference
    /// infers that errors come in a successful `PatTokenResult`).
    pub fn set_pat_error_status(&self, status: u16) {
        self.shared.state().pat_error_status = status;
    }

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
        st.entra.browser = Some(entra::BrowserPlan::Approve(upn.to_string()));
    }

    /// From now on the authorize page signs the browser in as the account its `login_hint`
    /// names (as a person who takes the pre-filled account does); without a hint it answers
    /// `login_required`.
    pub fn approve_browser_sign_in_as_hinted(&self) {
        self.shared.state().entra.browser = Some(entra::BrowserPlan::Approve(String::new()));
    }

    /// From now on the authorize page answers `error=access_denied` (the person cancelled).
    pub fn deny_browser_sign_in(&self) {
        self.shared.state().entra.browser = Some(entra::BrowserPlan::Deny);
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
        Self::plan(&mut st, &which).outcome = Some(entra::FlowOutcome::Approve(upn.to_string()));
    }

    /// The next device flow ends in `authorization_declined`.
    pub fn decline_next_device_flow(&self) {
        self.decline_device_flow(DeviceFlow::Next);
    }

    pub fn decline_device_flow(&self, which: DeviceFlow) {
        Self::plan(&mut self.shared.state(), &which).outcome = Some(entra::FlowOutcome::Decline);
    }

    /// The next device flow ends in `expired_token` (as when the user never signs in within
    /// `expires_in`, which also happens by the clock).
    pub fn expire_next_device_flow(&self) {
        self.expire_device_flow(DeviceFlow::Next);
    }

    pub fn expire_device_flow(&self, which: DeviceFlow) {
        Self::plan(&mut self.shared.state(), &which).outcome = Some(entra::FlowOutcome::Expire);
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

    fn plan<'a>(st: &'a mut State, which: &DeviceFlow) -> &'a mut entra::FlowPlan {
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
        self.shared.state().entra.flows.iter().map(entra::Flow::info).collect()
    }

    /// Issues an access token and a refresh token for `upn` as if a device flow for
    /// [`DEFAULT_CLIENT_ID`] had just succeeded (scope [`ADO_SCOPE`] plus `offline_access`).
    pub fn issue_entra_tokens(&self, upn: &str) -> EntraTokens {
        let mut st = self.shared.state();
        let user = st.ensure_user(upn);
        let scopes = [ADO_SCOPE.to_string(), "offline_access".to_string()];
        let issued = entra::issue(&mut st, &user, DEFAULT_CLIENT_ID, TENANT_ID, &scopes);
        EntraTokens {
            access_token: issued.access_token,
            refresh_token: issued.refresh_token.unwrap_or_default(),
            expires_in: entra::ACCESS_TOKEN_LIFETIME as u64,
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
            rt.status = entra::RtStatus::Revoked;
        }
    }

    /// Expires every refresh token issued so far (inactivity): `invalid_grant` AADSTS700082.
    pub fn expire_refresh_tokens(&self) {
        for rt in self.shared.state().entra.refresh_tokens.values_mut() {
            rt.status = entra::RtStatus::Expired;
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

    /// The identity id (GUID) the fake reports for a user, once a PAT was issued for them.
    pub fn user_id(&self, upn: &str) -> Option<String> {
        self.shared.state().users.get(&key(upn)).map(|u| u.id.clone())
    }

    /// Sets the fault for the REST API routes (`/{org}/_apis/...` and `/_apis/...`).
    pub fn set_fault(&self, fault: Fault) {
        self.shared.state().fault = fault;
    }

    /// Sets the fault for the git smart-HTTP routes.
    pub fn set_git_fault(&self, fault: Fault) {
        self.shared.state().git_fault = fault;
    }

    /// Requests received so far for a kind of route (faulted ones included).
    pub fn count(&self, route: Route) -> usize {
        self.shared.state().counts.get(&route).copied().unwrap_or(0)
    }

    /// Requests received so far with this `Host` (case-insensitive, without the port; faulted
    /// and unroutable ones included), e.g. `dev.azure.com` behind a TLS front for the real names.
    pub fn requests_to(&self, host: &str) -> usize {
        self.shared.state().host_counts.get(&server::host_name(host)).copied().unwrap_or(0)
    }

    /// Registers a service principal (an app registration's principal in the fake's tenant,
    /// [`TENANT_ID`]) without credentials and in no org.
    pub fn add_service_principal(&self, name: &str) -> Principal {
        let principal = Principal { client_id: util::guid(), object_id: util::guid(), name: name.to_string() };
        self.shared.state().ids.principals.push(identity::PrincipalRecord {
            principal: principal.clone(),
            secret: None,
            certificates: Vec::new(),
            federated: Vec::new(),
            orgs: Vec::new(),
        });
        principal
    }

    /// Gives a service principal a client secret (replacing any).
    pub fn set_principal_secret(&self, client_id: &str, secret: &str) {
        if let Some(p) = self.shared.state().ids.principal_mut(client_id) {
            p.secret = Some(secret.to_string());
        }
    }

    /// Registers a certificate (DER) and its RSA public key (PKCS #1 DER) with a service principal.
    pub fn add_principal_certificate(&self, client_id: &str, certificate_der: &[u8], public_key_der: &[u8]) {
        if let Some(p) = self.shared.state().ids.principal_mut(client_id) {
            p.certificates.push((certificate_der.to_vec(), public_key_der.to_vec()));
        }
    }

    /// A federated credential on a service principal: tokens of `issuer` for `subject` and
    /// `audience` (all matched exactly) may be exchanged for its tokens.
    pub fn add_federated_credential(&self, client_id: &str, issuer: &str, subject: &str, audience: &str) {
        if let Some(p) = self.shared.state().ids.principal_mut(client_id) {
            p.federated.push((issuer.to_string(), subject.to_string(), audience.to_string()));
        }
    }

    /// A token of another issuer (a Kubernetes cluster, say), as a workload gets it in a file;
    /// `lifetime_secs` may be negative for an expired one.
    pub fn issue_external_token(&self, issuer: &str, subject: &str, audience: &str, lifetime_secs: i64) -> String {
        identity::external_token(&self.shared, issuer, subject, audience, lifetime_secs)
    }

    /// Serves GitHub Actions' ID token endpoint at `/_github/idtoken?api-version=2.0` (the
    /// ACTIONS_ID_TOKEN_REQUEST_URL) for this request token, for a job with this subject.
    pub fn set_github_oidc(&self, request_token: &str, subject: &str) -> String {
        self.shared.state().ids.github = Some((request_token.to_string(), subject.to_string()));
        format!("{}/_github/idtoken?api-version=2.0", self.url())
    }

    /// A service connection of `org`/`project`; returns its id (the `serviceConnectionId`).
    pub fn add_service_connection(&self, org: &str, project: &str, name: &str) -> String {
        self.add_org(org);
        let id = util::guid();
        self.shared.state().ids.connections.insert(id.clone(), (key(org), project.to_string(), name.to_string()));
        id
    }

    /// The issuer of `org`'s service connection tokens (`https://vstoken.dev.azure.com/{org id}`).
    pub fn pipelines_oidc_issuer(&self, org: &str) -> String {
        identity::pipelines_issuer(&self.shared, org)
    }

    /// Adds a service principal or managed identity to an org (its Users page): only then does
    /// the org accept its tokens. Adds the org if needed.
    pub fn add_principal_to_org(&self, org: &str, client_id: &str) {
        self.add_org(org);
        if let Some(p) = self.shared.state().ids.principal_mut(client_id) {
            p.orgs.push(key(org));
        }
    }

    /// Gives "this machine" a managed identity (a principal of its own), served by the metadata
    /// endpoint and the App Service form.
    pub fn add_managed_identity(&self, name: &str, assignment: Assignment) -> Principal {
        let principal = self.add_service_principal(name);
        self.shared.state().ids.managed.push((principal.client_id.clone(), assignment));
        principal
    }

    /// The App Service form's `IDENTITY_HEADER` (the form answers 401 until one is set).
    pub fn set_app_service_header(&self, header: &str) {
        self.shared.state().ids.app_service_header = Some(header.to_string());
    }

    /// Requests the managed identity endpoints received.
    pub fn managed_identity_requests(&self) -> usize {
        self.shared.state().ids.mi_requests
    }

    /// A fault in front of the managed identity endpoints.
    pub fn set_managed_identity_fault(&self, fault: Fault) {
        self.shared.state().mi_fault = fault;
    }

    /// An Azure Pipelines job token (`System.AccessToken`) of a job in `org`: accepted by git
    /// and the REST API in that org only. Adds the org if needed.
    pub fn issue_job_token(&self, org: &str) -> String {
        self.add_org(org);
        let token = identity::job_token(org);
        let mut st = self.shared.state();
        st.ids.job_tokens.insert(token.clone(), key(org));
        st.entra.issued.push(token.clone());
        token
    }

    /// The `Authorization` scheme of every git request so far, in order: `Basic`, `Bearer` or
    /// `none`.
    pub fn git_auth_schemes(&self) -> Vec<String> {
        self.shared.state().ids.git_auth.clone()
    }

    pub fn reset_counts(&self) {
        let mut st = self.shared.state();
        st.counts.clear();
        st.host_counts.clear();
    }
}

impl Drop for FakeAzdo {
    fn drop(&mut self) {
        *lock(&self.shared.stopping) = true;
        self.shared.stop_cv.notify_all();
        // Wake the accept loop; it sees the flag and returns.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        // Shut down open connections; their threads (and any git child) then end quickly.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut conns = lock(&self.shared.conns);
        for s in conns.open.values() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        while !conns.open.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            conns = match self.shared.conns_cv.wait_timeout(conns, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        drop(conns);
        let _ = std::fs::remove_dir_all(&self.shared.root);
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
