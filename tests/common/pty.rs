//! A program run on a new pseudo-terminal, as a person at a terminal runs it: the terminal is its
//! stdin, stdout, stderr and controlling terminal (`/dev/tty`), unless stdin or stdout are
//! redirected to files. Driven by Python's `pty` module (python3 must be on PATH; tests check with
//! [`super::require`]): the crate forbids `unsafe`, which making a controlling terminal from Rust
//! would need.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Output;

use super::TestEnv;

/// Runs ARGV on a new pty (stdin from STDIN and stdout to STDOUT when not empty); types ANSWER
/// once PROMPT shows (when PROMPT is not empty); prints everything the terminal showed within
/// LIMIT seconds, and exits as the program did.
const DRIVER: &str = r#"
import os, pty, select, sys, time
limit, stdin, stdout, prompt, answer = sys.argv[1:6]
argv = sys.argv[6:]
pid, fd = pty.fork()
if pid == 0:
    if stdin:
        os.dup2(os.open(stdin, os.O_RDONLY), 0)
    if stdout:
        os.dup2(os.open(stdout, os.O_WRONLY | os.O_CREAT, 0o600), 1)
    os.execvp(argv[0], argv)
seen, typed, deadline = b"", not prompt, time.time() + float(limit)
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 1)
    if not ready:
        continue
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if not typed and prompt.encode() in seen:
        os.write(fd, answer.encode() + b"\n")
        typed = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// A program to run on a terminal: [`Terminal::new`], then what differs, then [`Terminal::run`].
pub struct Terminal {
    argv: Vec<OsString>,
    stdin: OsString,
    stdout: OsString,
    prompt: String,
    answer: String,
    limit_secs: u64,
}

impl Terminal {
    /// `program` with `args`; nothing typed; at most 120 seconds.
    pub fn new<I, S>(program: impl AsRef<OsStr>, args: I) -> Terminal
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let argv = std::iter::once(program.as_ref().to_owned()).chain(args.into_iter().map(|a| a.as_ref().to_owned()));
        Terminal {
            argv: argv.collect(),
            stdin: OsString::new(),
            stdout: OsString::new(),
            prompt: String::new(),
            answer: String::new(),
            limit_secs: 120,
        }
    }

    /// One more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Terminal {
        self.argv.push(arg.as_ref().to_owned());
        self
    }

    /// The program's stdin from this file instead of the terminal.
    pub fn stdin_from(mut self, path: &Path) -> Terminal {
        self.stdin = path.into();
        self
    }

    /// The program's stdout to this file (created 0600) instead of the terminal.
    pub fn stdout_to(mut self, path: &Path) -> Terminal {
        self.stdout = path.into();
        self
    }

    /// Type `answer` and Enter once the terminal shows `prompt`.
    pub fn type_after(mut self, prompt: &str, answer: &str) -> Terminal {
        (self.prompt, self.answer) = (prompt.to_owned(), answer.to_owned());
        self
    }

    /// Stop reading the terminal after this many seconds.
    pub fn limit(mut self, secs: u64) -> Terminal {
        self.limit_secs = secs;
        self
    }

    /// Run it with `env`'s environment: stdout is what the terminal showed, the status the
    /// program's, stderr the driver's own.
    pub fn run(&self, env: &TestEnv) -> Output {
        env.command("python3")
            .args(["-c", DRIVER])
            .arg(self.limit_secs.to_string())
            .args([&self.stdin, &self.stdout])
            .args([&self.prompt, &self.answer])
            .args(&self.argv)
            .output()
            .expect("python3")
    }
}
