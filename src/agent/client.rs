//! The client side: when `azdo.agent` (or its variable) names a socket, git's `get`, `store` and
//! `erase` go to the agent there and nowhere else. Nothing is read from or written to a local
//! store and nothing signs in here; the answer is relayed as the agent gave it. An agent that
//! cannot be reached or does not acknowledge within [`wire::REQUEST_TIME`] costs one line on
//! stderr and an empty answer (git goes on).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::wire;
use crate::config::keys::AGENT;
use crate::config::GitConfig;
use crate::protocol::Operation;

/// How long an acknowledged request may take: the agent may be signing in in a browser
/// (`azdo.browserTimeout` on its side, 300 seconds by default).
const ANSWER_TIME: Duration = Duration::from_secs(600);

/// The agent's socket named by the variable (checked first: no configuration needed).
pub fn from_env() -> Option<PathBuf> {
    std::env::var_os(AGENT.setting.env).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// The agent's socket named by `azdo.agent` in git's configuration.
pub fn from_config(config: &GitConfig) -> Option<PathBuf> {
    let value = config.get(AGENT.setting.key)??.trim();
    (!value.is_empty()).then(|| crate::config::keys::expand_home(value))
}

/// Why the agent gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum Miss {
    #[error("cannot reach the agent at {path}: {source}")]
    Unreachable { path: String, source: std::io::Error },
    #[error("the agent at {path} did not answer: {source}")]
    Silent { path: String, source: std::io::Error },
    #[error("the agent at {path} gave an answer that is not git's protocol")]
    Garbled { path: String },
    #[error("the socket {path} is served by another user (uid {uid}), not an agent of yours")]
    Foreign { path: String, uid: u32 },
}

/// Send `op` and git's `request` (as git sent it) to the agent at `socket` and copy its answer
/// to `out`. On a miss, one line on stderr and nothing on `out`.
pub fn relay(socket: &Path, op: Operation, request: &[u8], out: &mut impl Write) -> std::io::Result<()> {
    match ask(socket, op, request) {
        Ok(answer) => out.write_all(&answer).and_then(|()| out.flush()),
        Err(miss) => {
            crate::messages::say(format!("{miss}; no credential from it"));
            Ok(())
        }
    }
}

/// Connect within [`wire::REQUEST_TIME`]: a Unix socket's connect otherwise waits without end
/// once the listener's backlog is full (a stopped agent).
fn connect(socket: &Path) -> std::io::Result<UnixStream> {
    let address = socket2::SockAddr::unix(socket)?;
    let sock = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    sock.connect_timeout(&address, wire::REQUEST_TIME)?;
    Ok(sock.into())
}

/// The uid of the process serving `socket` when it is neither ours nor root's (and we are not
/// root): git's passwords (`store`, `erase`) must not go to a socket another user bound, say in
/// `/tmp` on a shared host. Linux asks the connection (`SO_PEERCRED`); elsewhere the socket
/// file's owner stands in for it. An owner that cannot be told is foreign (`u32::MAX`).
fn foreign_server(socket: &Path, stream: &UnixStream) -> Option<u32> {
    let me = rustix::process::geteuid().as_raw();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let server = {
        let _ = socket;
        rustix::net::sockopt::socket_peercred(stream).map_or(u32::MAX, |c| c.uid.as_raw())
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let server = {
        let _ = stream;
        std::fs::symlink_metadata(socket).map_or(u32::MAX, |m| std::os::unix::fs::MetadataExt::uid(&m))
    };
    (me != 0 && server != me && server != 0).then_some(server)
}

fn ask(socket: &Path, op: Operation, request: &[u8]) -> Result<Vec<u8>, Miss> {
    let path = crate::fs::shown(socket);
    let unreachable = |source| Miss::Unreachable { path: path.clone(), source };
    let silent = |source| Miss::Silent { path: path.clone(), source };
    let stream = connect(socket).map_err(unreachable)?;
    if let Some(uid) = foreign_server(socket, &stream) {
        return Err(Miss::Foreign { path, uid });
    }
    stream.set_write_timeout(Some(wire::REQUEST_TIME)).map_err(unreachable)?;
    stream.set_read_timeout(Some(wire::REQUEST_TIME)).map_err(unreachable)?;
    let mut message = wire::header(op).into_bytes();
    message.extend_from_slice(request);
    // git closes the helper's stdin without a blank line; the agent reads up to one.
    if !message.ends_with(b"\n\n") {
        message.extend_from_slice(if message.ends_with(b"\n") { b"\n" } else { b"\n\n" });
    }
    let written = (&stream).write_all(&message);
    zeroize::Zeroize::zeroize(&mut message);
    written.map_err(silent)?;
    let mut reader = BufReader::new((&stream).take(wire::MAX_ANSWER as u64 + 128));
    let mut ack = String::new();
    reader.read_line(&mut ack).map_err(silent)?;
    if ack != wire::ack() {
        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the connection was closed");
        return Err(silent(eof));
    }
    // Acknowledged: the agent is at work (a check, a mint, a sign-in on its desktop).
    let deadline = Instant::now() + ANSWER_TIME;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        reader.get_ref().get_ref().set_read_timeout(Some(left)).map_err(silent)?;
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(silent(e)),
        }
        if answer.len() > wire::MAX_ANSWER {
            return Err(Miss::Garbled { path });
        }
    }
    if !wire::is_answer(&answer) {
        return Err(Miss::Garbled { path });
    }
    Ok(answer)
}
