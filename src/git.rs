//! Running git: the one place this helper starts a `git` process. stdin is null, stdout and
//! stderr are read whole, and the run is bounded: a git that has not finished after [`TIMEOUT`]
//! is killed and the run fails with [`std::io::ErrorKind::TimedOut`].
//!
//! On Unix both pipes are read on the calling thread, with `poll(2)` bounding every wait (no
//! thread is started: `git config --list` is on the hot path when the config cache misses); once
//! both reached EOF the exit is awaited by polling a pidfd on Linux (it wakes the moment git
//! exits, as a blocking `wait` would), else by `try_wait` with growing pauses. Elsewhere a thread
//! reads each pipe and the calling one waits for them until the deadline.

use std::ffi::OsStr;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a git command may take, reading its output included.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// What a finished git command gave.
#[derive(Debug)]
pub struct Output {
    /// The exit code; `None` when a signal ended git.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    /// Whether git exited with 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Run `git` with `args` (stdin null), bounded by [`TIMEOUT`].
pub fn run<I, S>(args: I) -> std::io::Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_bounded(Command::new("git").args(args), TIMEOUT)
}

/// Run `command` with stdin null and both outputs captured; kill it after `timeout`.
fn run_bounded(command: &mut Command, timeout: Duration) -> std::io::Result<Output> {
    let deadline = Instant::now() + timeout;
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let result = read_both(&mut child, deadline).and_then(|(stdout, stderr)| {
        let status = wait(&mut child, deadline)?;
        Ok(Output { code: status.code(), stdout, stderr })
    });
    if result.is_err() {
        // Killing a child that already exited fails harmlessly; the wait reaps it either way.
        let _ = child.kill();
        let _ = child.wait();
    }
    result
}

fn timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, format!("git did not finish within {} s", TIMEOUT.as_secs()))
}

/// The time left before `deadline`, or the timeout error.
fn left(deadline: Instant) -> std::io::Result<Duration> {
    deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()).ok_or_else(timed_out)
}

/// Read stdout and stderr to EOF, each as it has data, waiting at most until `deadline`.
#[cfg(unix)]
fn read_both(child: &mut Child, deadline: Instant) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};

    let (mut out_pipe, mut err_pipe) = (child.stdout.take(), child.stderr.take());
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut chunk = [0u8; 16 * 1024];
    while out_pipe.is_some() || err_pipe.is_some() {
        let timeout = Timespec::try_from(left(deadline)?).map_err(|_| timed_out())?;
        let mut fds = Vec::with_capacity(2);
        fds.extend(out_pipe.as_ref().map(|p| PollFd::new(p, PollFlags::IN)));
        fds.extend(err_pipe.as_ref().map(|p| PollFd::new(p, PollFlags::IN)));
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        // Readable, at EOF or in error: a read now does not block.
        let mut ready = fds.iter().map(|fd| !fd.revents().is_empty());
        let out_ready = out_pipe.is_some() && ready.next().unwrap_or(false);
        let err_ready = err_pipe.is_some() && ready.next().unwrap_or(false);
        drop(fds);
        if out_ready {
            read_some(&mut out_pipe, &mut stdout, &mut chunk)?;
        }
        if err_ready {
            read_some(&mut err_pipe, &mut stderr, &mut chunk)?;
        }
    }
    Ok((stdout, stderr))
}

/// One read from a pipe `poll` found ready into `buf`; at EOF the pipe is dropped.
#[cfg(unix)]
fn read_some(pipe: &mut Option<impl Read>, buf: &mut Vec<u8>, chunk: &mut [u8]) -> std::io::Result<()> {
    let Some(reader) = pipe.as_mut() else { return Ok(()) };
    match reader.read(chunk) {
        Ok(0) => *pipe = None,
        Ok(n) => buf.extend_from_slice(&chunk[..n]),
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Read stdout and stderr to EOF, each on a thread of its own; the deadline bounds the wait.
#[cfg(not(unix))]
fn read_both(child: &mut Child, deadline: Instant) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    fn reader(pipe: Option<impl Read + Send + 'static>) -> std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let read = match pipe {
                Some(mut pipe) => pipe.read_to_end(&mut buf).map(|_| buf),
                None => Ok(buf),
            };
            let _ = tx.send(read);
        });
        rx
    }
    let (stdout, stderr) = (reader(child.stdout.take()), reader(child.stderr.take()));
    let stdout = stdout.recv_timeout(left(deadline)?).map_err(|_| timed_out())??;
    let stderr = stderr.recv_timeout(left(deadline)?).map_err(|_| timed_out())??;
    Ok((stdout, stderr))
}

/// The exit status of a child whose pipes reached EOF (it is exiting), waited for until
/// `deadline`: on Linux by polling a pidfd, which wakes the moment the child exits; elsewhere
/// (or without pidfds) by `try_wait` with growing pauses.
fn wait(child: &mut Child, deadline: Instant) -> std::io::Result<ExitStatus> {
    #[cfg(target_os = "linux")]
    if let Ok(pidfd) =
        rustix::process::pidfd_open(rustix::process::Pid::from_child(child), rustix::process::PidfdFlags::empty())
    {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        loop {
            let timeout = Timespec::try_from(left(deadline)?).map_err(|_| timed_out())?;
            match poll(&mut [PollFd::new(&pidfd, PollFlags::IN)], Some(&timeout)) {
                Ok(0) => return Err(timed_out()),
                // Readable: the child exited, so this wait returns at once.
                Ok(_) => return child.wait(),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let mut pause = Duration::from_micros(20);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(pause.min(left(deadline)?));
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> std::io::Result<Output> {
        run_bounded(Command::new("sh").args(["-c", script]), timeout)
    }

    #[test]
    fn both_outputs_and_the_code_come_back_whole() {
        // More than a pipe holds on both streams at once: neither may block the other.
        let out = sh("head -c 200000 /dev/zero; head -c 150000 /dev/zero >&2; exit 3", TIMEOUT).expect("runs");
        assert_eq!((out.code, out.stdout.len(), out.stderr.len()), (Some(3), 200_000, 150_000));
        assert!(!out.success());
        let out = sh("printf 'a\\0b'; read x; echo \"[$x]\" >&2", TIMEOUT).expect("runs");
        assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"a\0b"[..], &b"[]\n"[..]), "stdin is null");
        assert!(out.success());
    }

    #[test]
    fn a_hanging_command_is_killed_at_the_deadline() {
        let started = Instant::now();
        let err = sh("echo partial; sleep 30", Duration::from_millis(300)).expect_err("times out");
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        let err = sh("exec >&- 2>&-; sleep 30", Duration::from_millis(300)).expect_err("times out");
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "closed pipes, still running");
    }

    #[test]
    fn a_missing_program_is_an_error() {
        // qemu-user runs glibc's posix_spawn as a plain fork: a missing program looks started,
        // and its child exits 127. A limit of the emulator (.ci/qemu/run sets this), not of Linux.
        if crate::emulation::skipped_under("qemu", "posix_spawn runs as a plain fork there") {
            return;
        }
        assert!(run_bounded(&mut Command::new("/nonexistent/git-credential-azdo-test"), TIMEOUT).is_err());
    }
}
