//! The agent (`git credential-azdo agent`) and its client (`azdo.agent` /
//! `GIT_CREDENTIAL_AZDO_AGENT`): the agent and the client live in separate HOMEs, the client
//! with nothing stored; real `git clone` against the fake through the socket, directly, from a
//! private mount namespace with the socket bind-mounted (the shape of `docker run -v`: no
//! container runtime runs here) and over a real OpenSSH `ssh -R` forward. Also: `--org`, a
//! foreign uid refused, and an agent that is down or silent costing a bounded, silent miss.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::{Run, TestEnv};
use fake_azdo::FakeAzdo;

const USER: &str = "alice@contoso.example";

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A test that needs root (another uid, a mount namespace, sshd): fails under CI without it.
fn need_root(what: &str) -> bool {
    if common::is_root() {
        return true;
    }
    assert!(!under_ci(), "under CI this test runs as root: {what}");
    eprintln!("SKIPPED: {what} needs root");
    false
}

/// A running agent, stopped (and its log kept) on drop.
struct Agent {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
}

impl Agent {
    /// `agent --foreground --socket SOCKET ARGS` in `env`'s world; returns once it listens.
    fn start(env: &TestEnv, socket: &Path, args: &[&str]) -> Agent {
        let log = env.root.path().join(format!("agent-{}.log", std::process::id()));
        let stderr = std::fs::File::create(&log).expect("log");
        let mut child = env
            .command(common::bin())
            .args(["agent", "--foreground", "--socket"])
            .arg(socket)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("agent");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("line");
        let expected = format!("GIT_CREDENTIAL_AZDO_AGENT={}; export GIT_CREDENTIAL_AZDO_AGENT;\n", socket.display());
        assert_eq!(line, expected, "{}", std::fs::read_to_string(&log).unwrap_or_default());
        Agent { child, socket: socket.to_owned(), log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fake with a repository, the agent's world (a PAT stored there) and the client's world
/// (nothing stored, the agent named by the variable).
struct World {
    fake: FakeAzdo,
    home: TestEnv,
    client: TestEnv,
    pat: String,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn world() -> World {
    let fake = FakeAzdo::start();
    fake.add_repo("contoso", "proj", "repo");
    let pat = fake.add_pat("contoso", USER, &["vso.code_write"], now() + 30 * 86400).token;
    let mut home = TestEnv::new();
    home.use_fake(&fake);
    home.login("contoso", &pat);
    let mut client = TestEnv::new();
    client.use_fake(&fake);
    World { fake, home, client, pat }
}

impl World {
    fn socket(&self) -> PathBuf {
        let dir = self.home.root.path().join("agent");
        std::fs::create_dir_all(&dir).expect("dir");
        common::set_mode(&dir, 0o700);
        dir.join("agent.sock")
    }

    fn url(&self) -> String {
        self.fake.repo_url("contoso", "proj", "repo")
    }

    fn clone_via(&self, socket: &Path, into: &str) -> Run {
        let mut cmd = self.client.command("git");
        cmd.env("GIT_CREDENTIAL_AZDO_AGENT", socket);
        cmd.args(["clone", "-q", &self.url()]).arg(self.client.home.join(into));
        cmd.output().expect("git").into()
    }

    fn assert_client_stored_nothing(&self) {
        assert!(!self.client.store_exists(), "the client's store was written");
        let data = self.client.home.join(".local/share/git-credential-azdo");
        let files: Vec<_> = if data.exists() { common::walk(&data) } else { Vec::new() };
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(!text.contains(&self.pat), "the PAT reached {}", file.display());
        }
    }
}

#[test]
fn a_client_with_nothing_stored_clones_through_the_agent() {
    let w = world();
    let agent = Agent::start(&w.home, &w.socket(), &[]);
    assert_eq!(common::mode(&agent.socket), 0o600);
    let run = w.clone_via(&agent.socket, "repo");
    assert_eq!(run.status, 0, "{run:?}\n{}", agent.log());
    assert!(w.client.home.join("repo/.git").is_dir());
    w.assert_client_stored_nothing();
    let log = agent.log();
    assert!(log.contains("org=contoso get: answered"), "{log}");
    assert!(log.contains(&format!("uid={}", rustix_uid())), "{log}");
    assert!(!log.contains(&w.pat) && !run.stderr.contains(&w.pat), "{log}");
    // The same through azdo.agent in the client's git configuration.
    let set = w.client.git(&["config", "--global", "azdo.agent", &agent.socket.to_string_lossy()], b"");
    assert_eq!(set.status, 0, "{set:?}");
    let run = w.client.fill(&w.url());
    assert!(run.stdout.contains(&format!("password={}", w.pat)), "{run:?}");
    w.assert_client_stored_nothing();
}

fn rustix_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:").map(|v| v.split_whitespace().next()?.parse().ok())))
        .flatten()
        .unwrap_or(0)
}

#[test]
fn erase_and_store_from_a_client_touch_only_what_the_agent_handed_out() {
    let w = world();
    let agent = Agent::start(&w.home, &w.socket(), &[]);
    let client = |op: &str, extra: &str| {
        let input = format!("protocol=http\nhost={}\npath=contoso/proj/_git/repo\n{extra}\n", host(&w.url()));
        let mut cmd = w.client.command(common::bin());
        cmd.env("GIT_CREDENTIAL_AZDO_AGENT", &agent.socket).arg(op);
        run_with(&mut cmd, input.as_bytes())
    };
    // A password the agent never handed out: nothing is erased, nothing stored.
    let run = client("erase", "password=not-handed-out\n");
    assert_eq!((run.status, run.stdout.as_str()), (0, ""), "{run:?}");
    let run = client("store", "username=x\npassword=planted\n");
    assert_eq!(run.status, 0, "{run:?}");
    let stored = common::store_text(&w.home.store_file());
    assert!(stored.contains(&w.pat) && !stored.contains("planted"), "{stored}");
    let log = agent.log();
    assert!(log.contains("erase: refused: not a password this agent handed out"), "{log}");
    assert!(log.contains("store: refused: not a password this agent handed out"), "{log}");
    // Handed out, then erased by the client: today's rule (the same PAT) removes it.
    let run = client("get", "");
    assert!(run.stdout.contains(&format!("password={}", w.pat)), "{run:?}\n{}", agent.log());
    let run = client("erase", &format!("password={}\n", w.pat));
    assert_eq!(run.status, 0, "{run:?}");
    let stored = common::store_text(&w.home.store_file());
    assert!(!stored.contains(&w.pat), "{stored}\n{}", agent.log());
}

fn host(url: &str) -> String {
    url.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or_default().to_owned()
}

fn run_with(cmd: &mut Command, input: &[u8]) -> Run {
    use std::io::Write;
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let _ = child.stdin.take().expect("stdin").write_all(input);
    child.wait_with_output().expect("wait").into()
}

#[test]
fn an_agent_for_one_org_gives_another_nothing() {
    let w = world();
    let agent = Agent::start(&w.home, &w.socket(), &["--org", "fabrikam"]);
    let mut cmd = w.client.command("git");
    cmd.env("GIT_CREDENTIAL_AZDO_AGENT", &agent.socket).args(["credential", "fill"]);
    let run = run_with(&mut cmd, format!("url={}\n\n", w.url()).as_bytes());
    assert!(!run.stdout.contains("password="), "{run:?}");
    let log = agent.log();
    assert!(log.contains("org=contoso get: refused: not an organization this agent serves"), "{log}");
    // Its own organization is served.
    drop(agent);
    let agent = Agent::start(&w.home, &w.socket(), &["--org", "Contoso"]);
    let run = w.clone_via(&agent.socket, "repo");
    assert_eq!(run.status, 0, "{run:?}\n{}", agent.log());
}

#[test]
fn an_agent_that_is_down_or_silent_is_a_quick_silent_miss() {
    let w = world();
    let input = format!("protocol=http\nhost={}\npath=contoso/proj/_git/repo\n\n", host(&w.url()));
    let get = |socket: &Path| {
        let mut cmd = w.client.command(common::bin());
        cmd.env("GIT_CREDENTIAL_AZDO_AGENT", socket).arg("get");
        let started = Instant::now();
        let run = run_with(&mut cmd, input.as_bytes());
        (run, started.elapsed())
    };
    let (run, took) = get(&w.client.root.path().join("no-such.sock"));
    assert_eq!((run.status, run.stdout.as_str()), (0, ""), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.contains("cannot reach the agent"), "{run:?}");
    assert!(took < Duration::from_secs(5) + crate::common::emulation_slack(), "{took:?}");
    // Something listens and never answers.
    let silent = w.client.root.path().join("silent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&silent).expect("bind");
    // It holds the connection until the get is over (or a minute has passed), far past the
    // bound below, which the helper's own wait for the agent must keep to.
    let (over, until_over) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let conn = listener.accept();
        let _ = until_over.recv_timeout(Duration::from_secs(60));
        drop(conn);
    });
    let (run, took) = get(&silent);
    let _ = over.send(());
    assert_eq!((run.status, run.stdout.as_str()), (0, ""), "{run:?}");
    assert!(run.stderr.contains("did not answer") && run.stderr.lines().count() == 1, "{run:?}");
    assert!(took < Duration::from_secs(6) + crate::common::emulation_slack(), "{took:?}");
    // The local store was never consulted: a PAT stored on the client's side is not used either.
    let local = w.fake.add_pat("contoso", USER, &["vso.code_write"], now() + 86400).token;
    w.client.login("contoso", &local);
    let (run, _) = get(&w.client.root.path().join("no-such.sock"));
    assert_eq!(run.stdout, "", "{run:?}");
    let _ = holder.join();
}

#[test]
fn a_peer_of_another_uid_is_refused() {
    if !need_root("running the client as another uid (setpriv)") || !common::require(&["setpriv"]) {
        return;
    }
    let w = world();
    // A socket others can reach (a directory and socket opened up, as a careless set-up would).
    let dir = w.home.root.path().join("open");
    std::fs::create_dir_all(&dir).expect("dir");
    common::set_mode(&dir, 0o755);
    common::set_mode(w.home.root.path(), 0o755);
    let agent = Agent::start(&w.home, &dir.join("agent.sock"), &[]);
    common::set_mode(&agent.socket, 0o666);
    let home = w.client.root.path();
    common::set_mode(home, 0o777);
    let input = format!("protocol=http\nhost={}\npath=contoso/proj/_git/repo\n\n", host(&w.url()));
    let helper = common::bin_copy_in(home);
    let mut cmd = w.client.command("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&helper).arg("get");
    cmd.env("GIT_CREDENTIAL_AZDO_AGENT", &agent.socket).current_dir("/");
    let run = run_with(&mut cmd, input.as_bytes());
    assert_eq!((run.status, run.stdout.as_str()), (0, ""), "{run:?}");
    assert!(!run.stdout.contains(&w.pat));
    let log = agent.log();
    assert!(log.contains("uid=65534") && log.contains("refused: the peer's uid is neither ours nor root's"), "{log}");
}

#[test]
fn a_client_in_another_mount_namespace_clones_through_a_bind_mounted_socket() {
    if !need_root("a private mount namespace (unshare -m)") || !common::require(&["unshare", "mount"]) {
        return;
    }
    let w = world();
    let agent = Agent::start(&w.home, &w.socket(), &[]);
    // The container's view: /run/azdo-agent.sock there is the agent's socket here.
    let target = w.client.root.path().join("container-run/azdo-agent.sock");
    std::fs::create_dir_all(target.parent().expect("parent")).expect("dir");
    std::fs::write(&target, b"").expect("mount point");
    let into = w.client.home.join("repo");
    let script = format!(
        "mount --bind '{}' '{}' && GIT_CREDENTIAL_AZDO_AGENT='{}' exec git clone -q '{}' '{}'",
        agent.socket.display(),
        target.display(),
        target.display(),
        w.url(),
        into.display()
    );
    let mut cmd = w.client.command("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &script]);
    let run: Run = cmd.output().expect("unshare").into();
    assert_eq!(run.status, 0, "{run:?}\n{}", agent.log());
    assert!(into.join(".git").is_dir());
    w.assert_client_stored_nothing();
    assert!(agent.log().contains("get: answered"), "{}", agent.log());
}

/// sshd, started unprivileged-style on a loopback port with throwaway keys; killed on drop.
struct Sshd {
    child: Child,
    port: u16,
    key: PathBuf,
    known_hosts: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sshd(dir: &Path) -> Option<Sshd> {
    let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"].into_iter().map(PathBuf::from).find(|p| p.is_file());
    let (Some(sshd), Some(_), Some(_)) = (sshd, common::which("ssh"), common::which("ssh-keygen")) else {
        assert!(!under_ci(), "sshd, ssh or ssh-keygen is missing: install openssh-server openssh-client (.ci/run)");
        eprintln!("SKIPPED: sshd, ssh or ssh-keygen is missing (openssh-server, openssh-client)");
        return None;
    };
    std::fs::create_dir_all(dir).expect("dir");
    common::set_mode(dir, 0o700);
    let keygen = |path: &Path| {
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(path)
            .output()
            .expect("ssh-keygen");
        assert!(out.status.success(), "{:?}", out);
    };
    let host_key = dir.join("host_key");
    let key = dir.join("user_key");
    keygen(&host_key);
    keygen(&key);
    let authorized = dir.join("authorized_keys");
    std::fs::copy(dir.join("user_key.pub"), &authorized).expect("authorized_keys");
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "ListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {auth}\nUsePAM no\nStrictModes no\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             AllowStreamLocalForwarding yes\nStreamLocalBindUnlink yes\nPidFile none\n",
            host = host_key.display(),
            auth = authorized.display()
        ),
    )
    .expect("config");
    let log = std::fs::File::create(dir.join("sshd.log")).expect("log");
    let child = Command::new(sshd)
        .arg("-f")
        .arg(&config)
        .args(["-D", "-e", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("sshd");
    let known_hosts = dir.join("known_hosts");
    let started = Sshd { child, port, key, known_hosts };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
            assert!(!under_ci(), "sshd did not start: {log}");
            eprintln!("SKIPPED: sshd did not start: {log}");
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(started)
}

#[test]
fn git_clone_on_an_ssh_host_goes_through_the_forwarded_socket() {
    if !need_root("sshd logging in as root on a loopback port") {
        return;
    }
    let w = world();
    let Some(sshd) = sshd(&w.home.root.path().join("sshd")) else { return };
    let agent = Agent::start(&w.home, &w.socket(), &[]);
    // The "remote" side: the client's world, its socket where sshd makes it.
    let remote_dir = w.client.root.path().join("remote-run");
    std::fs::create_dir_all(&remote_dir).expect("dir");
    common::set_mode(&remote_dir, 0o700);
    let remote_socket = remote_dir.join("azdo-agent.sock");
    let into = w.client.home.join("repo");
    let mut script = String::from("set -e\n");
    for (k, v) in w.client.command("true").get_envs() {
        if let Some(v) = v {
            script.push_str(&format!("export {}='{}'\n", k.to_string_lossy(), v.to_string_lossy()));
        }
    }
    script.push_str(&format!(
        "export GIT_CREDENTIAL_AZDO_AGENT='{sock}'\n\
         i=0; while [ ! -S \"$GIT_CREDENTIAL_AZDO_AGENT\" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n\
         cd \"$HOME\"\ngit clone -q '{url}' '{into}'\n",
        sock = remote_socket.display(),
        url = w.url(),
        into = into.display()
    ));
    let remote_script = w.client.root.path().join("remote.sh");
    std::fs::write(&remote_script, script).expect("script");
    let run: Run = Command::new("ssh")
        .arg("-i")
        .arg(&sshd.key)
        .args(["-o", "StrictHostKeyChecking=no", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", sshd.known_hosts.display()))
        .args(["-p", &sshd.port.to_string(), "-R"])
        .arg(format!("{}:{}", remote_socket.display(), agent.socket.display()))
        .arg("root@127.0.0.1")
        .arg(format!("sh '{}'", remote_script.display()))
        .stdin(Stdio::null())
        .output()
        .expect("ssh")
        .into();
    assert_eq!(run.status, 0, "{run:?}\n{}", agent.log());
    assert!(into.join(".git").is_dir());
    w.assert_client_stored_nothing();
    assert!(agent.log().contains("org=contoso get: answered"), "{}", agent.log());
}

/// Codespaces' `~/ado-auth-helper` (a scripted stand-in here) is, like the Azure CLI, a token
/// source for the real service only: with the identity service and the authority pointed at the
/// fake it is never run, in a Codespace or not (the unit tests in src/azure/codespaces.rs run it).
#[test]
fn the_codespaces_helper_is_never_asked_for_a_token_another_identity_service_would_get() {
    let fake = FakeAzdo::start();
    fake.add_repo("contoso", "proj", "repo");
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    env.set("GIT_CREDENTIAL_AZDO_MINT", "auto");
    env.set("CODESPACES", "true");
    let ran = env.root.path().join("helper-ran");
    let helper = env.home.join("ado-auth-helper");
    std::fs::write(&helper, format!("#!/bin/sh\ntouch '{}'\nprintf 'eyJhbGciOiJub25lIn0.e30.c2ln'\n", ran.display()))
        .expect("helper");
    common::set_mode(&helper, 0o700);
    let url = fake.repo_url("contoso", "proj", "repo");
    let run = env.git(&["clone", "-q", &url, &env.home.join("repo").to_string_lossy()], b"");
    assert_ne!(run.status, 0, "nothing to clone with: {run:?}");
    assert!(!ran.exists(), "ado-auth-helper was asked for a token the fake would receive");
    assert_eq!(fake.count(fake_azdo::Route::PatCreate), 0);
}

/// A socket another user bound where the agent's is expected (say in `/tmp` on a shared host):
/// the client never sends git's request there, and never takes its answer.
#[test]
fn a_socket_another_user_serves_gets_no_request() {
    if !need_root("two other uids (setpriv)") || !common::require(&["setpriv", "python3"]) {
        return;
    }
    let w = world();
    let dir = w.client.root.path().join("shared-tmp");
    std::fs::create_dir_all(&dir).expect("dir");
    common::set_mode(w.client.root.path(), 0o755);
    common::set_mode(&dir, 0o777);
    let socket = dir.join("azdo-agent.sock");
    let captured = dir.join("captured");
    // The impostor (uid 65534): takes one connection, keeps what it was sent, answers a password.
    let impostor = "import os, socket, sys\n\
        s = socket.socket(socket.AF_UNIX)\n\
        s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(4)\n\
        open(sys.argv[2] + '.ready', 'w').close()\n\
        s.settimeout(20); c, _ = s.accept(); c.settimeout(5)\n\
        data = b''\n\
        try:\n    data = c.recv(65536)\nexcept Exception:\n    pass\n\
        open(sys.argv[2], 'wb').write(data)\n\
        try:\n    c.sendall(b'git-credential-azdo-agent 1 ok\\nusername=x\\npassword=from-the-impostor\\n')\nexcept Exception:\n    pass\n";
    let mut listener = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", impostor])
        .arg(&socket)
        .arg(&captured)
        .spawn()
        .expect("impostor");
    let ready = captured.with_extension("ready");
    let start = Instant::now();
    while !ready.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ready.exists(), "the impostor did not start");
    let input =
        "protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\nusername=me\npassword=a-typed-pat\n\n";
    let helper = common::bin_copy_in(w.client.root.path());
    let mut cmd = w.client.command("setpriv");
    cmd.args(["--reuid=65533", "--regid=65533", "--clear-groups"]).arg(&helper).arg("store");
    cmd.env("GIT_CREDENTIAL_AZDO_AGENT", &socket).current_dir("/");
    let run = run_with(&mut cmd, input.as_bytes());
    assert_eq!((run.status, run.stdout.as_str()), (0, ""), "{run:?}");
    assert!(run.stderr.contains("served by another user (uid 65534)"), "{run:?}");
    let mut cmd = w.client.command("setpriv");
    cmd.args(["--reuid=65533", "--regid=65533", "--clear-groups"]).arg(&helper).arg("get");
    cmd.env("GIT_CREDENTIAL_AZDO_AGENT", &socket).current_dir("/");
    let run = run_with(&mut cmd, b"protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n\n");
    assert_eq!((run.status, run.stdout.as_str()), (0, ""), "{run:?}");
    let _ = listener.wait();
    let sent = std::fs::read(&captured).unwrap_or_default();
    assert!(sent.is_empty(), "the impostor was sent {:?}", String::from_utf8_lossy(&sent));
}
