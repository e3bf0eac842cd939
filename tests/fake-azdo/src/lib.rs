//! A local fake of Azure DevOps for end-to-end tests of git-credential-azdo.
//!
//! One loopback HTTP/1.1 server, path-routed like `https://dev.azure.com` (and, for a request
//! whose `Host` names one of the real service's hosts, routed by host as the service is: see
//! `route` in server/route.rs; `tests/e2e/production.rs` puts it behind TLS under those names):
//!
//! * `GET /{org}/_apis/connectionData`: the PAT validation probe, with the responses Azure DevOps
//!   gives for valid, bad, revoked, expired, other-org and absent credentials, public orgs,
//!   unknown orgs, and clients that do not send `X-TFS-FedAuthRedirect: Suppress`.
//! * `GET|HEAD /{org}`: the unauthenticated challenge that carries the org's Entra tenant (or
//!   the all-zero tenant and a bare `Bearer` for an MSA-backed org).
//! * `/{org}/_apis/tokens/pats`: the PAT lifecycle API (create, list, get, update, revoke) for
//!   Entra bearer tokens, with org policies (creation disabled, lifespan, full scope, global),
//!   and global PATs that fail with the retirement error once retired.
//! * `POST /{tenant}/oauth2/v2.0/devicecode` and `.../token`: Microsoft Entra's device-code
//!   flow, scripted by the test, and the refresh-token grant with rotation. Access tokens it
//!   issues work as `Bearer` (or as a Basic password) on connectionData, git and the PAT API.
//!   Continuous access evaluation: a client that declares `cp1` in `claims` gets CAE tokens; a
//!   session revoked under CAE gets them answered with an `insufficient_claims` challenge, and
//!   its refresh tokens redeemed only with the challenge's claims.
//! * `/{org}/{project}/_git/{repo}/...`: git smart HTTP, served by the real `git http-backend`
//!   behind Basic authentication with PAT scopes.
//! * Injectable faults (latency, status, throttling, dropped connections, garbage) and per-route
//!   request counters.
//!
//! It never connects anywhere; it binds 127.0.0.1 only. All state is behind a mutex, so tests can
//! revoke PATs or switch faults while git runs.
//!
//! Layout: this file holds the server's handle ([`FakeAzdo`]: start, stop, faults and request
//! counts); `state.rs` the state behind the lock and what an `Authorization` header amounts to;
//! `server/` the accept loop, dispatch and routing; `http.rs` the HTTP/1.1 core; then one module
//! per service, with its endpoints and the test controls of [`FakeAzdo`] for it: `orgs.rs`
//! (organizations and repositories), `azdo.rs` (challenge, connectionData, the service's answer
//! shapes), `git.rs` (smart HTTP), `pats/`, `entra/` and `identity/` (each with `control.rs`).

mod azdo;
mod entra;
mod git;
mod http;
mod identity;
mod orgs;
mod pats;
mod server;
mod state;
mod util;

pub use azdo::GLOBAL_PAT_RETIRED_MESSAGE;
pub use entra::control::{AuthorizeRequest, DeviceFlow, DeviceFlowInfo, DeviceFlowState, EntraTokens};
pub use entra::TokenClaims;
pub use identity::{Assignment, Principal, EXCHANGE_AUDIENCE, GITHUB_ISSUER};
pub use pats::control::{MintedPat, PatPolicy};
pub(crate) use state::{git_command, key, Auth, Org, PatRecord, Shared, State, User};

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use state::{lock, Conns};

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
                pat_page_cap: 100,
                pat_error_status: 200,
                ids: identity::IdentityState::default(),
                mi_fault: Fault::None,
                global_pats_retired: false,
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
