//! The front binary's entry on Linux: `git-credential-azdo` is a small program for git's hot path,
//! and `git-credential-azdo-full`, installed beside it, is everything else. The front serves what
//! [`crate::operation::serve_at_hand`] serves (a `get` answered from what is at hand, a `store`,
//! the agent relay, a request for another host) and, for anything else, runs the full binary in
//! its place (`execve`, same arguments): the verbs, `erase`, `capability`, a `get` that needs more
//! than reading (a check, a renewal, a sign-in, a build identity, a prompt), and every run with
//! tracing asked for. A request already read is handed on as the full binary's stdin, through a
//! pipe that holds all of it (read once, nothing of it stays behind).
//!
//! The full binary is run only as a regular file, not a link, owned by this user or root and
//! writable by no one else, and not this very program (which would run itself forever), from a
//! directory of this user or root in which no one else can replace it (not writable by others,
//! or sticky). It is executed by its path: through a descriptor, a binary run by an interpreter
//! (binfmt_misc, as qemu-user runs another architecture's) would find it closed.
//!
//! Why two binaries: a process pays at every start for what its binary links (relocations of the
//! HTTP, TLS, async and command-line crates' tables, the pages they touch); git starts the helper
//! on every fetch and push, and almost every start needs none of them (docs/benchmarks.md).

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use crate::fs::owner_trusted;
use crate::operation::{self, AtHand};
use crate::programs::FULL;
use crate::text::printable;

/// Entry point of the front binary.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    // With tracing asked for, the full binary serves the run: it alone has the tracing output.
    match operation::parse(&args).filter(|_| !crate::trace::requested()) {
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
    let (this, path) = match std::env::current_exe().and_then(|exe| full_path(&exe).map(|full| (exe, full))) {
        Ok(paths) => paths,
        Err(e) => return cannot_run(Path::new(FULL), &e),
    };
    if let Err(e) = check(&path, &this) {
        return cannot_run(&path, &e);
    }
    let mut command = Command::new(&path);
    command.args(args.iter().skip(1));
    if let Some(arg0) = args.first() {
        command.arg0(arg0);
    }
    if let Some(bytes) = stdin {
        match piped(bytes) {
            Ok(read_end) => command.stdin(Stdio::from(read_end)),
            Err(e) => return cannot_run(&path, &e),
        };
    }
    let e = command.exec();
    cannot_run(&path, &e)
}

/// The full binary: beside this one, `exe` (links resolved, so a link to the front finds it too).
fn full_path(exe: &Path) -> std::io::Result<PathBuf> {
    let dir = exe.parent().ok_or_else(|| std::io::Error::other("this program's path has no directory"))?;
    Ok(dir.join(FULL))
}

/// Whether `path` may be run: a regular file (not followed if a link) owned by this user or root,
/// writable by no one else, not this program itself (`this`: its path as `current_exe` reads it,
/// which an emulator running this program answers for it, unlike a `stat` of /proc/self/exe), in a
/// directory of this user or root that no one else can replace it in.
fn check(path: &Path, this: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let refuse = |why: &str| Err(std::io::Error::other(why.to_owned()));
    let full = std::fs::symlink_metadata(path)?;
    if !full.file_type().is_file() {
        return refuse("not a regular file");
    }
    if !owner_trusted(full.uid()) {
        return refuse("owned by another user");
    }
    if full.mode() & 0o022 != 0 {
        return refuse("writable by others");
    }
    let this = std::fs::metadata(this)?;
    if (this.dev(), this.ino()) == (full.dev(), full.ino()) {
        return refuse("it is this program itself");
    }
    let dir = std::fs::metadata(path.parent().unwrap_or(Path::new("/")))?;
    if !owner_trusted(dir.uid()) {
        return refuse("its directory is another user's");
    }
    if dir.mode() & 0o022 != 0 && dir.mode() & 0o1000 == 0 {
        return refuse("its directory is writable by others");
    }
    Ok(())
}

/// `bytes` in a pipe, its read end returned (both ends closed on exec unless one becomes a
/// standard stream). The pipe is grown to hold them all: nothing is left to write once the full
/// binary runs.
fn piped(bytes: &[u8]) -> std::io::Result<OwnedFd> {
    use std::io::Write;
    let (read_end, write_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    if bytes.len() > rustix::pipe::fcntl_getpipe_size(&write_end)? {
        rustix::pipe::fcntl_setpipe_size(&write_end, bytes.len())?;
    }
    std::fs::File::from(write_end).write_all(bytes)?;
    Ok(read_end)
}

fn cannot_run(path: &Path, e: &std::io::Error) -> ExitCode {
    operation::failure(
        &format!(
            "cannot run {} (git-credential-azdo's full program, installed beside it): {e}",
            printable(&path.to_string_lossy())
        ),
        false,
    )
}
