//! A local fake of Azure DevOps for end-to-end tests of git-credential-azdo.
//!
//! One loopback HTTP/1.1 server, path-routed like `https://dev.azure.com`:
//!
//! * `GET /{org}/_apis/connectionData`: the PAT validation probe, with the responses Azure DevOps
//!   gives for valid, bad, revoked, expired, other-org and absent credentials, public orgs,
//!   unknown orgs, and clients that do not send `X-TFS-FedAuthRedirect: Suppress`.
//! * `GET|HEAD /{org}`: the unauthenticated challenge that carries the org's Entra tenant.
//! * `/{org}/{project}/_git/{repo}/...`: git smart HTTP, served by the real `git http-backend`
//!   behind Basic authentication with PAT scopes.
//! * Injectable faults (latency, status, throttling, dropped connections, garbage) and per-route
//!   request counters.
//!
//! It never connects anywhere; it binds 127.0.0.1 only. All state is behind a mutex, so tests can
//! revoke PATs or switch faults while git runs.

mod azdo;
/// A guided demo of the helper against this fake (`cargo run -p fake-azdo --bin azdo-demo`).
#[cfg(unix)]
pub mod demo;
mod git;
mod http;
mod server;
mod util;

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
}

pub(crate) struct Org {
    /// The name as first added (the canonical casing).
    pub name: String,
    pub public: bool,
    /// The org's host id, reported as `instanceId` in ConnectionData.
    pub instance_id: String,
}

#[derive(Clone)]
pub(crate) struct PatRecord {
    pub token: String,
    pub org_key: String,
    pub upn: String,
    pub scopes: Vec<String>,
    pub valid_to: i64,
    pub revoked: bool,
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
    Valid {
        user: User,
        scopes: Vec<String>,
    },
}

impl Auth {
    pub fn has_scope(&self, wanted: &[&str]) -> bool {
        match self {
            Auth::Valid { scopes, .. } => scopes.iter().any(|s| s == "app_token" || wanted.contains(&s.as_str())),
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
    pub authority: String,
}

pub(crate) fn key(name: &str) -> String {
    name.to_lowercase()
}

impl State {
    pub fn org(&self, name: &str) -> Option<&Org> {
        self.orgs.get(&key(name))
    }

    pub fn authenticate(&self, org: &str, authorization: Option<&str>) -> Auth {
        use base64::Engine as _;
        let Some(value) = authorization else {
            return Auth::Anonymous;
        };
        let value = value.trim();
        let Some((scheme, rest)) = value.split_once(' ') else {
            return Auth::Bad;
        };
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
        let Some(pat) = self.pats.iter().find(|p| p.token == token && p.org_key == org_key) else {
            return Auth::Bad;
        };
        if pat.revoked {
            return Auth::Bad;
        }
        if pat.valid_to <= util::now_unix() {
            return Auth::Expired;
        }
        match self.users.get(&key(&pat.upn)) {
            Some(user) => Auth::Valid { user: user.clone(), scopes: pat.scopes.clone() },
            None => Auth::Bad,
        }
    }

    fn add_org(&mut self, name: &str) {
        self.orgs.entry(key(name)).or_insert_with(|| Org {
            name: name.to_string(),
            public: false,
            instance_id: util::guid(),
        });
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
                authority: DEFAULT_AUTHORITY.to_string(),
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

    fn issue_pat(&self, org: &str, user: &str, scopes: &[&str], valid_to_unix: i64, token: String) -> Pat {
        self.add_org(org);
        let mut st = self.shared.state();
        st.users.entry(key(user)).or_insert_with(|| User {
            id: util::guid(),
            subject_id: util::guid(),
            upn: user.to_string(),
            display_name: display_name(user),
        });
        let authorization_id = util::guid();
        st.pats.push(PatRecord {
            token: token.clone(),
            org_key: key(org),
            upn: user.to_string(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            valid_to: valid_to_unix,
            revoked: false,
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
        let past = util::now_unix() - 86_400;
        for p in self.shared.state().pats.iter_mut() {
            if p.token == token {
                p.valid_to = past;
            }
        }
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

    pub fn reset_counts(&self) {
        self.shared.state().counts.clear();
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
