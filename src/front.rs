//! The front binary's entry on Linux: `git-credential-azdo` is a small program for git's hot path,
//! and `git-credential-azdo-full`, installed beside it, is everything else. The front serves what
//! [`crate::operation::serve_at_hand`] serves (a `get` answered from what is at hand, a `store`,
//! the agent relay, a request for another host) and, for anything else, runs the full binary in
//! its place (`execve`, same arguments): the verbs, `erase`, `capability`, a `get` that needs a
//! request, a lock or a prompt, and every run with tracing asked for. A request already read is
//! handed on as the full binary's stdin, from an anonymous in-memory file.
//!
//! Why two binaries: a process pays at every start for what its binary links (relocations of the
//! HTTP, TLS, async and command-line crates' tables, the pages they touch); git starts the helper
//! on every fetch and push, and almost every start needs none of them (docs/benchmarks.md).

use std::ffi::OsString;
use std::io::{Seek, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use crate::app::setup::FULL;
use crate::operation::{self, AtHand};
use crate::text::printable;

/// Entry point of the front binary.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    // With tracing asked for, the full binary serves the run: it alone has the tracing output.
    let traced = std::env::var_os(crate::trace::ENV).is_some();
    match operation::parse(&args).filter(|_| !traced) {
        Some(op) => match operation::serve_at_hand(op) {
            AtHand::Served(code) => code,
            AtHand::Deferred(request) => full(&args, Some(&request)),
        },
        None => full(&args, None),
    }
}

/// Run the full binary in this process's place with `args`, and `stdin` as its standard input
/// when given (else this process's). Returns only when it cannot be run.
fn full(args: &[OsString], stdin: Option<&[u8]>) -> ExitCode {
    let path = match full_path() {
        Ok(path) => path,
        Err(e) => return cannot_run(FULL, &e),
    };
    let mut command = Command::new(&path);
    command.args(args.iter().skip(1));
    if let Some(arg0) = args.first() {
        command.arg0(arg0);
    }
    if let Some(bytes) = stdin {
        match in_memory(bytes) {
            Ok(file) => command.stdin(Stdio::from(file)),
            Err(e) => return cannot_run(&path.to_string_lossy(), &e),
        };
    }
    let e = command.exec();
    cannot_run(&path.to_string_lossy(), &e)
}

/// The full binary: beside this one (links resolved, so a link to the front finds it too).
fn full_path() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or_else(|| std::io::Error::other("this program's path has no directory"))?;
    Ok(dir.join(FULL))
}

/// `bytes` in an anonymous in-memory file (closed on exec unless it becomes a standard stream),
/// read from its start.
fn in_memory(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    let fd = rustix::fs::memfd_create("git-credential-azdo-request", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    file.rewind()?;
    Ok(file)
}

fn cannot_run(what: &str, e: &std::io::Error) -> ExitCode {
    operation::failure(
        &format!("cannot run {} (git-credential-azdo's full program, installed beside it): {e}", printable(what)),
        false,
    )
}
