//! The agent itself: `git credential-azdo agent` listens on a Unix socket and serves each
//! request with the helper's own logic ([`crate::helper::serve`]) on this machine, with this
//! process's environment, git's configuration and store, one thread per connection.
//!
//! Who may ask: like ssh-agent, a peer whose uid is neither ours nor root's is refused (Linux:
//! `SO_PEERCRED`). Elsewhere the socket's directory must be ours and 0700, which lets the same
//! peers in. Bounds: [`wire::MAX_REQUEST`] bytes and [`wire::REQUEST_TIME`] per request,
//! [`MAX_CONNECTIONS`] at once (threads, because one request may wait minutes for a browser
//! sign-in and must not hold up the others; more are closed at once). `store` and `erase` are
//! served only for a password this agent handed out (kept as SHA-256 digests, in memory), so a
//! client can neither plant a PAT in this store nor remove one it was never given. One line per
//! request on stderr: time, peer, organization, operation, outcome (never a secret).
//!
//! Stopping: SIGINT and SIGTERM keep their default action (the process ends, with no handler
//! and no new dependency); a socket left behind is ours and stale, and the next start replaces
//! it. `--idle-timeout` ends the agent cleanly (the socket is removed) after that long without
//! a request.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zeroize::Zeroize;

use super::wire;
use crate::messages::say;
use crate::org::{self, Resolution};
use crate::protocol::{self, Operation, Request};
use crate::run::Inputs;

/// Connections served at once; more are closed without an answer.
pub const MAX_CONNECTIONS: usize = 16;
/// How long writing the answer may take.
const WRITE_TIME: Duration = Duration::from_secs(5);

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub socket: Option<PathBuf>,
    pub orgs: Vec<String>,
    pub idle_timeout: Option<Duration>,
    /// Stay in the foreground (the agent's log on stderr) instead of starting in the background.
    pub foreground: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no directory for the agent's socket (set XDG_RUNTIME_DIR or use --socket)")]
    NoDir,
    #[error("{path}: {why}; refusing to put the agent's socket there")]
    Unsafe { path: String, why: String },
    #[error("an agent is already listening on {0}")]
    Running(String),
    #[error("cannot listen on {path}: {source}")]
    Listen { path: String, source: std::io::Error },
    #[error("cannot start the agent in the background: {0}")]
    Background(#[source] std::io::Error),
    #[error("the agent in the background did not start (see its message above)")]
    NotStarted,
}

/// The line a shell evaluates, as `ssh-agent -s` prints it.
pub fn eval_line(socket: &Path) -> String {
    let path = socket.to_string_lossy();
    let plain = path.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,".contains(c));
    let value = if plain { path.into_owned() } else { format!("'{}'", path.replace('\'', r"'\''")) };
    format!("{var}={value}; export {var};", var = crate::config::keys::AGENT.setting.env)
}

/// Run the agent: in the foreground, or started again in the background with the same options
/// (its line relayed on stdout once it listens).
pub fn run(options: &Options, out: &mut impl Write) -> Result<(), Error> {
    if !options.foreground {
        return background(options, out);
    }
    let socket = match &options.socket {
        Some(path) => std::path::absolute(path).unwrap_or_else(|_| path.clone()),
        None => default_socket()?,
    };
    let listener = listen(&socket, options.socket.is_none())?;
    // git's configuration is read for each request as from the root directory: a repository the
    // agent happened to be started in must not configure what it serves.
    if let Err(e) = std::env::set_current_dir("/") {
        say(format!("agent: cannot leave the directory it was started in: {e}"));
    }
    let line = eval_line(&socket);
    // The shell (or the parent in `background`) reads this one line; nothing else goes to stdout.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    say(format!("agent: listening on {} (pid {})", crate::fs::shown(&socket), std::process::id()));
    serve(listener, options);
    let _ = std::fs::remove_file(&socket);
    say("agent: idle timeout reached; stopped");
    Ok(())
}

/// Start `agent --foreground` detached (its own process group, stdin closed, stderr kept) and
/// relay its line.
fn background(options: &Options, out: &mut impl Write) -> Result<(), Error> {
    let exe = std::env::current_exe().map_err(Error::Background)?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("agent").arg("--foreground");
    if let Some(socket) = &options.socket {
        cmd.arg("--socket").arg(socket);
    }
    for org in &options.orgs {
        cmd.arg("--org").arg(org);
    }
    if let Some(idle) = options.idle_timeout {
        cmd.arg("--idle-timeout").arg(idle.as_secs().to_string());
    }
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(Error::Background)?;
    let stdout = child.stdout.take().ok_or(Error::NotStarted)?;
    let mut line = String::new();
    let read = BufReader::new(stdout.take(4096)).read_line(&mut line).map_err(Error::Background)?;
    if read == 0 || !line.ends_with('\n') {
        let _ = child.wait();
        return Err(Error::NotStarted);
    }
    out.write_all(line.as_bytes()).and_then(|()| out.flush()).map_err(Error::Background)?;
    Ok(())
}

/// `$XDG_RUNTIME_DIR/git-credential-azdo/agent.sock`, else a directory of this user's under the
/// temp dir; the directory is created 0700, and an existing one must be ours and 0700.
fn default_socket() -> Result<PathBuf, Error> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()).map(PathBuf::from);
    let dir = match runtime.filter(|d| d.is_absolute()) {
        Some(dir) => dir.join("git-credential-azdo"),
        None => std::env::temp_dir().join(format!("git-credential-azdo-{}", rustix::process::geteuid().as_raw())),
    };
    if !dir.is_absolute() {
        return Err(Error::NoDir);
    }
    let mut builder = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(unsafe_path(&dir, e.to_string())),
    }
    check_private_dir(&dir)?;
    Ok(dir.join("agent.sock"))
}

fn unsafe_path(path: &Path, why: impl Into<String>) -> Error {
    Error::Unsafe { path: crate::fs::shown(path), why: why.into() }
}

/// A directory that is no link, ours, and 0700.
fn check_private_dir(dir: &Path) -> Result<(), Error> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| unsafe_path(dir, e.to_string()))?;
    if !meta.file_type().is_dir() {
        return Err(unsafe_path(dir, "not a directory"));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(unsafe_path(dir, "the directory is not yours"));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode != 0o700 {
        return Err(unsafe_path(dir, format!("the directory's mode is {mode:o}, not 700")));
    }
    Ok(())
}

/// Bind `socket` 0600. A path that exists must be our own stale socket (nothing answers on it),
/// which is replaced; anything else is refused.
fn listen(socket: &Path, dir_checked: bool) -> Result<UnixListener, Error> {
    if !dir_checked && !cfg!(target_os = "linux") {
        // Without SO_PEERCRED the directory is what keeps other users out.
        let parent = socket.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        check_private_dir(parent)?;
    }
    if let Ok(meta) = std::fs::symlink_metadata(socket) {
        if !meta.file_type().is_socket() {
            return Err(unsafe_path(socket, "it exists and is not a socket"));
        }
        if meta.uid() != rustix::process::geteuid().as_raw() {
            return Err(unsafe_path(socket, "the socket is not yours"));
        }
        if UnixStream::connect(socket).is_ok() {
            return Err(Error::Running(crate::fs::shown(socket)));
        }
        std::fs::remove_file(socket).map_err(|e| unsafe_path(socket, e.to_string()))?;
    }
    // Created 0600 (the umask is set only while binding, before any thread is started).
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = UnixListener::bind(socket);
    rustix::process::umask(old);
    let listener = bound.map_err(|source| Error::Listen { path: crate::fs::shown(socket), source })?;
    let _ = std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600));
    Ok(listener)
}

/// What all connections share.
struct Shared {
    orgs: Vec<String>,
    /// SHA-256 digests of the passwords this agent handed out.
    handed_out: Mutex<HashSet<[u8; 32]>>,
    active: AtomicUsize,
    last_request: Mutex<Instant>,
}

/// Accept connections until the idle timeout (forever without one).
fn serve(listener: UnixListener, options: &Options) {
    let shared = Arc::new(Shared {
        orgs: options.orgs.iter().map(|o| o.to_ascii_lowercase()).collect(),
        handed_out: Mutex::new(HashSet::new()),
        active: AtomicUsize::new(0),
        last_request: Mutex::new(Instant::now()),
    });
    let _ = listener.set_nonblocking(true);
    loop {
        if let Some(idle) = options.idle_timeout {
            let last = *shared.last_request.lock().unwrap_or_else(|e| e.into_inner());
            if shared.active.load(Ordering::SeqCst) == 0 && last.elapsed() >= idle {
                return;
            }
        }
        let mut fds = [rustix::event::PollFd::new(&listener, rustix::event::PollFlags::IN)];
        let tick = rustix::event::Timespec { tv_sec: 1, tv_nsec: 0 };
        let _ = rustix::event::poll(&mut fds, Some(&tick));
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(_) => continue,
        };
        *shared.last_request.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        if shared.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            shared.active.fetch_sub(1, Ordering::SeqCst);
            log(&Peer::of(&stream), "-", "-", "refused: too many connections at once");
            continue;
        }
        let shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new().name("agent-connection".into()).spawn(move || {
            connection(stream, &shared);
            *shared.last_request.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            shared.active.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            say("agent: cannot start a thread for a connection");
        }
    }
}

/// Who is on the other end of a connection, as the kernel says.
struct Peer {
    uid: Option<u32>,
    pid: Option<i32>,
}

impl Peer {
    #[cfg(target_os = "linux")]
    fn of(stream: &UnixStream) -> Peer {
        match rustix::net::sockopt::socket_peercred(stream.as_fd()) {
            Ok(cred) => Peer { uid: Some(cred.uid.as_raw()), pid: Some(cred.pid.as_raw_nonzero().get()) },
            Err(_) => Peer { uid: None, pid: None },
        }
    }

    /// Without SO_PEERCRED the socket's private directory admits only us and root.
    #[cfg(not(target_os = "linux"))]
    fn of(stream: &UnixStream) -> Peer {
        let _ = stream.as_fd();
        Peer { uid: Some(rustix::process::geteuid().as_raw()), pid: None }
    }

    /// ssh-agent's rule: our own uid, or root.
    fn may_ask(&self) -> bool {
        self.uid.is_some_and(|uid| uid == 0 || uid == rustix::process::geteuid().as_raw())
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: Option<String>| v.unwrap_or_else(|| "?".into());
        write!(f, "uid={} pid={}", show(self.uid.map(|u| u.to_string())), show(self.pid.map(|p| p.to_string())))
    }
}

/// One line of the agent's log.
fn log(peer: &Peer, org: &str, op: &str, outcome: &str) {
    let time = crate::time::timestamp(crate::time::now());
    say(format!("agent: {time} {peer} org={org} {op}: {outcome}"));
}

fn digest(password: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, password).as_ref());
    out
}

/// Serve one connection: check the peer, read the request in time, acknowledge, answer, close.
fn connection(stream: UnixStream, shared: &Shared) {
    let peer = Peer::of(&stream);
    if !peer.may_ask() {
        log(&peer, "-", "-", "refused: the peer's uid is neither ours nor root's");
        return;
    }
    let _ = stream.set_nonblocking(false);
    let (op, mut raw) = match read_in_time(&stream) {
        Ok(read) => read,
        Err(why) => {
            log(&peer, "-", "-", &format!("no request: {why}"));
            return;
        }
    };
    let parsed = protocol::parse_request(&raw);
    raw.zeroize();
    let request = match parsed {
        Ok(request) => request,
        Err(e) => {
            log(&peer, "-", wire::op_name(op), &format!("refused: {e}"));
            return;
        }
    };
    let _ = stream.set_write_timeout(Some(WRITE_TIME));
    if (&stream).write_all(wire::ack().as_bytes()).is_err() {
        return;
    }
    let inputs = Inputs::from_process(crate::config::GitConfig::load());
    let org = organization(&request, &inputs);
    let shown = org.clone().unwrap_or_else(|| "-".into());
    let op_name = wire::op_name(op);
    if let Some(refusal) = refusal(op, &request, org.as_deref(), shared) {
        log(&peer, &shown, op_name, &format!("refused: {refusal}"));
        return;
    }
    let mut answer = Vec::new();
    let outcome = match crate::helper::serve(op, &request, inputs, |_| {}, &mut answer) {
        Ok(()) => record(op, &request, &answer, shared),
        Err(e) => format!("failed: {e}"),
    };
    let written = answer.is_empty() || (&stream).write_all(&answer).is_ok();
    answer.zeroize();
    log(&peer, &shown, op_name, if written { &outcome } else { "the client left before the answer" });
}

/// The header and git's request, within [`wire::REQUEST_TIME`] in all.
fn read_in_time(stream: &UnixStream) -> Result<(Operation, Vec<u8>), String> {
    let deadline = Instant::now() + wire::REQUEST_TIME;
    let timed = TimedReader { stream, deadline };
    let mut reader = BufReader::new(timed.take(wire::MAX_REQUEST as u64 + 1));
    let mut header = String::new();
    reader.read_line(&mut header).map_err(|e| e.to_string())?;
    let op = wire::parse_header(&header).ok_or("not the agent's protocol")?;
    let raw = wire::read_request_bytes(reader, wire::MAX_REQUEST).map_err(|e| e.to_string())?;
    Ok((op, raw))
}

/// Reads that together end by a deadline.
struct TimedReader<'a> {
    stream: &'a UnixStream,
    deadline: Instant,
}

impl Read for TimedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the request took too long"));
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut stream = self.stream;
        stream.read(buf)
    }
}

/// The organization the request is for (with the agent's configured instances), if any.
fn organization(request: &Request, inputs: &Inputs) -> Option<String> {
    let instances = inputs.instances().ok()?;
    let url = org::UrlParts {
        protocol: &request.protocol,
        host: &request.host,
        path: request.path.as_deref(),
        username: request.username.as_deref(),
    };
    match org::resolve(&url, &instances) {
        Resolution::Target(target) => Some(crate::text::printable(target.name())),
        _ => None,
    }
}

/// Why the agent will not serve this request, if it will not.
fn refusal(op: Operation, request: &Request, org: Option<&str>, shared: &Shared) -> Option<&'static str> {
    if !shared.orgs.is_empty() && !org.is_some_and(|o| shared.orgs.contains(&o.to_ascii_lowercase())) {
        return Some("not an organization this agent serves");
    }
    if op != Operation::Get {
        let Some(password) = &request.password else { return Some("no password named") };
        let digest = digest(password.expose().as_bytes());
        if !shared.handed_out.lock().unwrap_or_else(|e| e.into_inner()).contains(&digest) {
            return Some("not a password this agent handed out");
        }
    }
    None
}

/// Remember a password handed out by `get`; forget one erased. The outcome for the log.
fn record(op: Operation, request: &Request, answer: &[u8], shared: &Shared) -> String {
    let mut handed_out = shared.handed_out.lock().unwrap_or_else(|e| e.into_inner());
    match op {
        Operation::Get => {
            let password = answer.split(|b| *b == b'\n').find_map(|l| l.strip_prefix(b"password="));
            let credential = answer.split(|b| *b == b'\n').find_map(|l| l.strip_prefix(b"credential="));
            match password.or(credential) {
                Some(secret) => {
                    handed_out.insert(digest(secret));
                    "answered".into()
                }
                None => "no credential".into(),
            }
        }
        Operation::Store => "recorded".into(),
        Operation::Erase => {
            if let Some(password) = &request.password {
                handed_out.remove(&digest(password.expose().as_bytes()));
            }
            "erased (if it was the stored PAT)".into()
        }
    }
}
