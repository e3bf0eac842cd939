//! Running the helper with a bound in time, and what tests of faults and timing share: the
//! wall clock, a seeded random generator and busy-waiting to a point in time. A run that hangs
//! fails the test instead of hanging it, and a run that panics or dies of a signal fails it too.

use std::io::Write;
#[cfg(unix)]
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{bin, Run, TestEnv};

pub const YEAR: i64 = 365 * 24 * 3600;
/// Long enough for any helper run on a loaded 2-core machine; a hang goes far past it.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

// ---------------------------------------------------------------------------------------------
// Running the helper with a bound
// ---------------------------------------------------------------------------------------------

/// A helper run that has been started and is waited for on a thread.
pub struct Running {
    pub pid: u32,
    started: Instant,
    done: mpsc::Receiver<std::io::Result<std::process::Output>>,
    what: String,
}

pub fn start(mut cmd: Command, stdin: &[u8], what: &str) -> Running {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let started = Instant::now();
    let pid = child.id();
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    let (tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        // Write on its own thread: a child that stops reading must not block the waiter.
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let _ = tx.send(child.wait_with_output());
        let _ = writer.join();
    });
    Running { pid, started, done, what: what.to_owned() }
}

impl Running {
    /// Wait for the end, at most `limit`; past it the process is killed and the test fails.
    pub fn finish(self, limit: Duration) -> (Run, Duration) {
        match self.done.recv_timeout(limit) {
            Ok(output) => {
                let output = output.expect("wait");
                #[cfg(unix)]
                let signal = output.status.signal();
                #[cfg(not(unix))]
                let signal: Option<i32> = None;
                let run: Run = output.into();
                assert_eq!(signal, None, "{}: died of signal {signal:?}: {run:?}", self.what);
                (run, self.started.elapsed())
            }
            Err(_) => {
                let _ = Command::new("kill").args(["-KILL", &self.pid.to_string()]).status();
                panic!("{}: still running after {limit:?} (hung); killed it", self.what);
            }
        }
    }
}

pub fn helper_bounded(env: &TestEnv, args: &[&str], stdin: &[u8], limit: Duration) -> (Run, Duration) {
    let mut cmd = env.command(bin());
    cmd.args(args);
    start(cmd, stdin, &format!("git-credential-azdo {}", args.join(" "))).finish(limit)
}

/// No panic, whatever else happened.
pub fn assert_no_panic(run: &Run, what: &str) {
    assert_ne!(run.status, 101, "{what}: the helper panicked: {run:?}");
    assert!(!run.stderr.contains("panicked"), "{what}: the helper panicked: {run:?}");
    assert!(!run.stderr.contains("RUST_BACKTRACE"), "{what}: the helper panicked: {run:?}");
}

/// An error the way the helper reports one: exactly one line, prefixed with its name.
pub fn assert_one_line_error(run: &Run, what: &str) {
    assert_no_panic(run, what);
    assert_eq!(run.stderr.lines().count(), 1, "{what}: not one line: {run:?}");
    assert!(run.stderr.starts_with("git-credential-azdo: "), "{what}: {run:?}");
}

// ---------------------------------------------------------------------------------------------
// Randomness and kill points
// ---------------------------------------------------------------------------------------------

/// A small deterministic generator; the seed is printed so a failure can be replayed with
/// `FAULTS_SEED=...`.
pub struct Rng(u64);

impl Rng {
    pub fn from_env() -> Rng {
        let seed = std::env::var("FAULTS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as u64
        });
        eprintln!("FAULTS_SEED={seed}");
        Rng(seed | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// Spin until `deadline`: a kill point measured in microseconds, not a sleep.
pub fn spin_until(deadline: Instant) {
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
}
