//! The worlds `benches/run.py` times commands in, built from the tests' own environment
//! (`tests/common`: a throwaway HOME and git config, a scrubbed environment, gnome-keyring on a
//! private D-Bus bus) and the loopback fake of Azure DevOps (`fake-azdo`), so that the benchmarks
//! and the tests share one copy of it. Not a benchmark itself (`harness = false`): run.py builds
//! it with `cargo bench --no-run` and runs it as a coprocess.
//!
//! ```text
//! worlds hot-path --libsecret PATH --floor PATH [--baseline PATH]
//! worlds validation
//! ```
//!
//! The helper under test is the build `AZDO_TEST_BINARY` names (required: the benchmarks time the
//! build `install.sh` makes, not the test build). The program sets up one world, prints one JSON
//! line describing it (its directory, its environment, where the logging `git` writes, the PAT
//! each `get` must return), then answers commands on stdin, one a line: `counts` prints
//! `counts connectionData=N git=N challenge=N other=N` (requests the fake served since the last
//! `reset`), `reset` zeroes them and prints `reset`. When stdin closes it tears the world down:
//! every process it started is stopped and every file it made is removed.
//!
//! - `hot-path`: a world with both stores, the default validation interval and nothing due: one
//!   credential (organization `contoso`) in the file store, in a second file store holding 1000
//!   organizations (`~/many-orgs.json`), and on the Secret Service; the same credential in
//!   `git credential-store` (`git-credentials`), in a `git credential-cache` daemon
//!   (`ccache/socket`) and through `git-credential-libsecret`; and the helper's agent
//!   (`git-credential-azdo agent --foreground --socket agent.sock`, the description's
//!   `agent_socket`) with the world's environment and the file store, which serves the same
//!   credential to a client with `GIT_CREDENTIAL_AZDO_AGENT` naming its socket. The helper is on
//!   PATH as `git-credential-azdo`, libsecret's as `git-credential-libsecret`, `--floor` (a
//!   program that does nothing) as `process-floor`, `--baseline` as
//!   `git-credential-azdo-baseline`, which stores the credential in its own file store
//!   (`~/baseline-store.json`, and `~/baseline-many-orgs.json` with 1000 organizations, written
//!   by the baseline itself, in its own format) and reads the keyring item the helper stored.
//! - `validation`: the file store against fake-azdo on loopback (`use_fake`), the PAT stored with
//!   `login` (one check); an empty `no-ca.pem` for the run without system CAs.
//!
//! Both have `query` (the request every `get` reads) in the world's directory, and a logging
//! `git` that only the `counting_path` of the description puts first on PATH.

#[allow(dead_code)] // the worlds use the shared environment, not the tests' checks
#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use common::TestEnv;
use fake_azdo::{FakeAzdo, Route};

const ORG: &str = "contoso";
/// A dummy PAT, 52 characters like a classic Azure DevOps PAT; nothing checks it.
const HOT_PATH_PAT: &str = "benchpat0123456789abcdefghijklmnopqrstuvwxyz01234567";
const MANY_ORGS: usize = 1000;
/// The baseline build's own file store (`--baseline`), relative to HOME.
const BASELINE_STORE: &str = "~/baseline-store.json";
/// The baseline's file store holding 1000 organizations, ours among them.
const BASELINE_MANY: &str = "~/baseline-many-orgs.json";
const FAKE_USER: &str = "alice@contoso.com";
/// The helper's cache of git's configuration, relative to the world's directory (its HOME;
/// `XDG_CACHE_HOME` is unset there).
const CONFIG_CACHE: &str = ".cache/git-credential-azdo";

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; run.py runs the built program directly.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "worlds: error: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    match std::env::var_os("AZDO_TEST_BINARY") {
        Some(p) if !p.is_empty() && Path::new(&p).is_file() => {}
        _ => return Err("AZDO_TEST_BINARY must name the build to benchmark".into()),
    }
    let (stage, rest) = args.split_first().ok_or("usage: worlds hot-path|validation [options]")?;
    let (mut libsecret, mut floor, mut baseline) = (None, None, None);
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let value = PathBuf::from(it.next().ok_or_else(|| format!("{flag} needs a value"))?);
        match flag.as_str() {
            "--libsecret" => libsecret = Some(value),
            "--floor" => floor = Some(value),
            "--baseline" => baseline = Some(value),
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    match stage.as_str() {
        "hot-path" => {
            let libsecret = libsecret.ok_or("hot-path needs --libsecret PATH")?;
            let floor = floor.ok_or("hot-path needs --floor PATH")?;
            let world = HotPath::new(&libsecret, &floor, baseline.as_deref())?;
            serve(&world.env, &world.description, None)
        }
        "validation" => {
            let world = Validation::new()?;
            serve(&world.env, &world.description, Some(&world.fake))
        }
        other => Err(format!("unknown world {other:?}")),
    }
}

/// Print the world's description, then answer `counts` and `reset` until stdin closes.
fn serve(
    env: &TestEnv,
    extra: &BTreeMap<&'static str, serde_json::Value>,
    fake: Option<&FakeAzdo>,
) -> Result<(), String> {
    let probe = env.command("true");
    let vars: BTreeMap<String, String> =
        probe.get_envs().filter_map(|(k, v)| Some((k.to_str()?.to_owned(), v?.to_str()?.to_owned()))).collect();
    let mut description = serde_json::json!({
        "dir": env.home,
        "env": vars,
        "git_calls": env.root.path().join("git-calls.log"),
        "counting_path": format!("{}:{}", env.root.path().join("gitcount").display(), vars.get("PATH").map_or("", String::as_str)),
        "config_cache": CONFIG_CACHE,
    });
    for (k, v) in extra {
        description[*k] = v.clone();
    }
    let mut out = std::io::stdout().lock();
    let say = |out: &mut std::io::StdoutLock<'_>, line: &str| -> Result<(), String> {
        writeln!(out, "{line}").and_then(|()| out.flush()).map_err(|e| format!("stdout: {e}"))
    };
    say(&mut out, &description.to_string())?;
    for line in std::io::stdin().lock().split(b'\n') {
        let Ok(line) = line else { break };
        match (line.trim_ascii(), fake) {
            (b"counts", Some(f)) => say(
                &mut out,
                &format!(
                    "counts connectionData={} git={} challenge={} other={}",
                    f.count(Route::ConnectionData),
                    f.count(Route::Git),
                    f.count(Route::Challenge),
                    f.count(Route::Other)
                ),
            )?,
            (b"reset", Some(f)) => {
                f.reset_counts();
                say(&mut out, "reset")?;
            }
            (b"counts" | b"reset", None) => say(&mut out, "error: this world has no fake")?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// The worlds are Unix's (shell scripts, sockets, gnome-keyring).
#[cfg(not(unix))]
fn symlink(target: &Path, _link: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other(format!("cannot link {}: the worlds need a Unix system", target.display())))
}

/// `W/bin` first on PATH, holding `links` (name, target).
fn bin_dir(env: &mut TestEnv, links: &[(&str, &Path)]) -> Result<(), String> {
    let dir = env.root.path().join("bin");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, target) in links {
        symlink(target, &dir.join(name)).map_err(|e| format!("link {name}: {e}"))?;
    }
    let path = std::env::var("PATH").unwrap_or_default();
    env.set("PATH", format!("{}:{path}", dir.display()));
    Ok(())
}

/// A `git` in `W/gitcount` that appends its arguments to `W/git-calls.log`, then runs git.
fn git_counter(env: &TestEnv) -> Result<(), String> {
    let git = common::which("git").ok_or("git is not on PATH")?;
    let dir = env.root.path().join("gitcount");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let log = env.root.path().join("git-calls.log");
    std::fs::write(&log, "").map_err(|e| format!("{}: {e}", log.display()))?;
    let script = format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >>'{}'\nexec '{}' \"$@\"\n", log.display(), git.display());
    std::fs::write(dir.join("git"), script).map_err(|e| format!("git counter: {e}"))?;
    common::set_mode(&dir.join("git"), 0o755);
    Ok(())
}

fn write(env: &TestEnv, name: &str, text: &str) -> Result<(), String> {
    let path = env.home.join(name);
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn ok(run: common::Run, what: &str) -> Result<(), String> {
    if run.status == 0 {
        Ok(())
    } else {
        let tail: Vec<&str> = run.stderr.lines().rev().take(3).collect();
        Err(format!("{what}: exit {}: {}", run.status, tail.join(" | ")))
    }
}

/// Run `cmd` with `input` on its stdin.
fn feed(cmd: &mut Command, input: &[u8]) -> Result<common::Run, String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let _ = stdin.write_all(input);
    drop(stdin);
    Ok(child.wait_with_output().map_err(|e| format!("wait: {e}"))?.into())
}

fn query(org_path: &str, head: &str) -> String {
    format!("{head}path={org_path}/proj/_git/repo\n")
}

struct HotPath {
    // Dropped in this order: the agent, the cache daemon, then the world (its Secret Service,
    // its files).
    _agent: Agent,
    _cache: CacheDaemon,
    env: TestEnv,
    description: BTreeMap<&'static str, serde_json::Value>,
}

impl HotPath {
    fn new(libsecret: &Path, floor: &Path, baseline: Option<&Path>) -> Result<HotPath, String> {
        let mut env = TestEnv::with_keyring()
            .ok_or("no Secret Service: dbus-daemon, dbus-send and gnome-keyring-daemon are needed")?;
        // The hot path as a user has it: the default validation interval (git's `store` below
        // records a check, so nothing is due and nothing leaves the machine).
        env.unset("GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL");
        // Should a check ever fall due all the same, it goes to a closed loopback port, never to
        // the real service (the environment's proxy; the hot path reads no proxy setting).
        env.set("HTTPS_PROXY", "http://127.0.0.1:9");
        let helper = PathBuf::from(common::bin());
        let mut links = vec![
            ("git-credential-azdo", helper.as_path()),
            ("git-credential-libsecret", libsecret),
            ("process-floor", floor),
        ];
        if let Some(b) = baseline {
            links.push(("git-credential-azdo-baseline", b));
        }
        bin_dir(&mut env, &links)?;
        git_counter(&env)?;
        let socket = env.home.join("ccache/socket");
        let cache = CacheDaemon::start(&env, &socket)?;

        let head = "protocol=https\nhost=dev.azure.com\n";
        write(&env, "query", &format!("{}username={ORG}\n\n", query(ORG, head)))?;
        let full = |org: &str| format!("{}username={org}\npassword={HOT_PATH_PAT}\n\n", query(org, head));
        // git's `store` (as after a request that worked) into both of our stores.
        for store in ["file", "keyring"] {
            env.set("GIT_CREDENTIAL_AZDO_STORE", store);
            ok(env.helper(&["store"], full(ORG).as_bytes()), &format!("git-credential-azdo store ({store} store)"))?;
        }
        // A second file store holding 1000 organizations, ours among them.
        env.set("GIT_CREDENTIAL_AZDO_STORE", "file");
        env.set("GIT_CREDENTIAL_AZDO_STORE_FILE", "~/many-orgs.json");
        for i in 0..MANY_ORGS {
            let org = if i == MANY_ORGS / 2 { ORG.to_owned() } else { format!("org{i:04}") };
            ok(env.helper(&["store"], full(&org).as_bytes()), "git-credential-azdo store (1000 organizations)")?;
        }
        env.unset("GIT_CREDENTIAL_AZDO_STORE_FILE");
        env.unset("GIT_CREDENTIAL_AZDO_STORE");
        // The baseline writes its own file store (`~/baseline-store.json`), in its own format,
        // through its own `store`: builds of different file-store formats cannot read each
        // other's. The keyring item is shared (its format has not changed).
        if let Some(b) = baseline {
            let store = |file: &str, org: &str| {
                let mut cmd = env.command(b);
                cmd.arg("store").env("GIT_CREDENTIAL_AZDO_STORE", "file").env("GIT_CREDENTIAL_AZDO_STORE_FILE", file);
                ok(feed(&mut cmd, full(org).as_bytes())?, "git-credential-azdo-baseline store (file store)")
            };
            store(BASELINE_STORE, ORG)?;
            for i in 0..MANY_ORGS {
                store(BASELINE_MANY, &if i == MANY_ORGS / 2 { ORG.to_owned() } else { format!("org{i:04}") })?;
            }
        }
        // useHttpPath, as `configure` sets it for dev.azure.com: git then passes the path to
        // every helper, so credential-store keeps and matches it too.
        let approve = format!("url=https://{ORG}@dev.azure.com/{ORG}/proj/_git/repo\npassword={HOT_PATH_PAT}\n\n");
        let store_helper = ["-c", "credential.helper=", "-c", "credential.helper=store --file=git-credentials"];
        let args: Vec<&str> =
            store_helper.into_iter().chain(["-c", "credential.useHttpPath=true", "credential", "approve"]).collect();
        ok(env.git(&args, approve.as_bytes()), "git credential approve (credential-store)")?;
        let socket_arg = socket.display().to_string();
        ok(
            env.git(
                &["credential-cache", "--socket", &socket_arg, "--timeout", "86400", "store"],
                full(ORG).as_bytes(),
            ),
            "git credential-cache store",
        )?;
        ok(feed(env.command(libsecret).arg("store"), full(ORG).as_bytes())?, "git-credential-libsecret store")?;
        // The agent, serving the file store that holds the one credential.
        let agent_socket = env.home.join("agent.sock");
        let agent = Agent::start(&env, &helper, &agent_socket)?;

        let description = BTreeMap::from([
            ("pat", serde_json::json!(HOT_PATH_PAT)),
            ("agent_socket", serde_json::json!(agent_socket)),
        ]);
        Ok(HotPath { _agent: agent, _cache: cache, env, description })
    }
}

struct Validation {
    // Dropped in this order: the world, then the fake.
    env: TestEnv,
    fake: FakeAzdo,
    description: BTreeMap<&'static str, serde_json::Value>,
}

impl Validation {
    fn new() -> Result<Validation, String> {
        let fake = FakeAzdo::start();
        fake.add_org(ORG);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let pat = fake.add_pat(ORG, FAKE_USER, &["vso.code"], now + 30 * 86_400);
        let mut env = TestEnv::new();
        let helper = PathBuf::from(common::bin());
        bin_dir(&mut env, &[("git-credential-azdo", helper.as_path())])?;
        git_counter(&env)?;
        // The file store against the fake, with the default validation interval.
        env.use_fake(&fake);
        ok(env.helper(&["login", ORG, "--pat-stdin"], format!("{}\n", pat.token).as_bytes()), "login")?;
        let login_requests = fake.count(Route::ConnectionData);
        let hostport = fake.url().trim_start_matches("http://").to_owned();
        write(&env, "query", &format!("{}\n", query(ORG, &format!("protocol=http\nhost={hostport}\n"))))?;
        write(&env, "no-ca.pem", "")?;
        let description = BTreeMap::from([
            ("pat", serde_json::json!(pat.token)),
            ("url", serde_json::json!(fake.url())),
            ("login_requests", serde_json::json!(login_requests)),
        ]);
        Ok(Validation { env, fake, description })
    }
}

/// The helper's agent (`agent --foreground --socket SOCKET`) with the world's environment and
/// the file store; its log (one line per request) in `W/agent.log`. Started once it has printed
/// its line (it then listens); stopped on drop (killed, then waited for).
struct Agent {
    child: Child,
}

impl Agent {
    fn start(env: &TestEnv, helper: &Path, socket: &Path) -> Result<Agent, String> {
        let log = env.root.path().join("agent.log");
        let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = env
            .command(helper)
            .args(["agent", "--foreground", "--socket"])
            .arg(socket)
            .env("GIT_CREDENTIAL_AZDO_STORE", "file")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("start the agent: {e}"))?;
        let mut line = String::new();
        // The line it prints once it listens (bounded: it prints nothing else).
        let read = match child.stdout.take() {
            Some(out) => BufReader::new(out.take(4096)).read_line(&mut line).map_err(|e| e.to_string()),
            None => Err("no stdout".into()),
        };
        let me = Agent { child };
        match read {
            Ok(_) if line.starts_with("GIT_CREDENTIAL_AZDO_AGENT=") && line.ends_with('\n') => Ok(me),
            Ok(_) | Err(_) => {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(3).collect();
                Err(format!("the agent did not start: {}", tail.join(" | ")))
            }
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// git's credential-cache daemon on `socket` (its directory mode 0700, which the daemon insists
/// on); stopped on drop (`git credential-cache exit`, then its pid if it lingers).
struct CacheDaemon {
    child: Child,
    exit: Command,
}

impl CacheDaemon {
    fn start(env: &TestEnv, socket: &Path) -> Result<CacheDaemon, String> {
        let dir = socket.parent().ok_or("socket without a directory")?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        common::set_mode(dir, 0o700);
        let exec_path = env.command("git").arg("--exec-path").output().map_err(|e| format!("git --exec-path: {e}"))?;
        let daemon =
            PathBuf::from(String::from_utf8_lossy(&exec_path.stdout).trim()).join("git-credential-cache--daemon");
        if !daemon.is_file() {
            return Err(format!("git has no credential-cache daemon ({})", daemon.display()));
        }
        let out = env.root.path().join("cache-daemon.out");
        let stdout = std::fs::File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        let child = env
            .command(&daemon)
            .arg(socket)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start {}: {e}", daemon.display()))?;
        let mut exit = env.command("git");
        exit.arg("credential-cache").arg("--socket").arg(socket).arg("exit");
        exit.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let mut me = CacheDaemon { child, exit };
        let deadline = Instant::now() + Duration::from_secs(5);
        #[cfg(unix)]
        use std::os::unix::fs::FileTypeExt;
        loop {
            #[cfg(unix)]
            let listening = std::fs::metadata(socket).is_ok_and(|m| m.file_type().is_socket());
            #[cfg(not(unix))]
            let listening = false; // git's credential cache is Unix's
            if listening && std::fs::read_to_string(&out).is_ok_and(|t| t.lines().any(|l| l == "ok")) {
                return Ok(me);
            }
            if let Ok(Some(status)) = me.child.try_wait() {
                return Err(format!("git credential-cache--daemon exited: {status}"));
            }
            if Instant::now() > deadline {
                return Err("git credential-cache--daemon did not listen within 5 s".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for CacheDaemon {
    fn drop(&mut self) {
        let _ = self.exit.status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
