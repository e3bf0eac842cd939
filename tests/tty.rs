//! Prompting on a real terminal: a pseudo-terminal driven by Python's `pty` module plays the person.
#![cfg(unix)] // shell scripts, git http-backend and Unix file modes

mod common;

use common::TestEnv;

/// Runs BIN get with stdin from QUERY and stdout to OUT, on a new pty; types ANSWER once the prompt
/// shows; prints everything the terminal showed.
const DRIVER: &str = r#"
import os, pty, select, sys, time
bin_, query, out, answer = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.dup2(os.open(query, os.O_RDONLY), 0)
    os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT, 0o600), 1)
    os.execv(bin_, [bin_, "get"])
seen, typed, deadline = b"", False, time.time() + 20
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
    if not typed and b"tokens): " in seen:
        os.write(fd, answer.encode() + b"\n")
        typed = True
os.waitpid(pid, 0)
sys.stdout.write(seen.decode("utf-8", "replace"))
"#;

#[test]
fn prompts_on_the_terminal_with_input_hidden() {
    if !common::require(&["python3"]) {
        return;
    }
    let mut env = TestEnv::new();
    env.unset("GIT_TERMINAL_PROMPT");
    let query = env.root.path().join("query");
    std::fs::write(&query, "protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n").expect("query");
    let out = env.root.path().join("out");
    let run = env
        .command("python3")
        .args(["-c", DRIVER])
        .arg(common::BIN)
        .arg(&query)
        .arg(&out)
        .arg("tty-typed-pat")
        .output()
        .expect("python3");
    let screen = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "driver failed: {}", String::from_utf8_lossy(&run.stderr));
    assert!(
        screen.contains("'contoso'") && screen.contains("https://dev.azure.com/contoso/_usersSettings/tokens"),
        "{screen}"
    );
    assert!(!screen.contains("tty-typed-pat"), "the PAT was echoed: {screen}");
    let answer = std::fs::read_to_string(&out).expect("helper output");
    assert_eq!(answer, "username=contoso\npassword=tty-typed-pat\n");
    assert!(!env.store_file().exists(), "stored before git confirmed it");
}
