//! Shared test environment for binary and end-to-end tests: a throwaway HOME and git config, a
//! scrubbed environment, the helper binary, real git, and (on demand) a real Secret Service:
//! gnome-keyring on a private D-Bus session bus, started here and torn down on drop.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod bounded;
pub mod browser;
pub mod contract;
pub mod dns;
pub mod faults;
pub mod pty;
pub mod sandbox;
pub mod tls;

pub const BIN: &str = env!("CARGO_BIN_EXE_git-credential-azdo");

/// The helper binary the shared environment runs: [`BIN`], or the build `AZDO_TEST_BINARY`
/// names (`.ci/run` re-runs the end-to-end and production-path tests on the static release
/// build that `install.sh` makes).
pub fn bin() -> &'static str {
    static CHOSEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CHOSEN.get_or_init(|| match std::env::var("AZDO_TEST_BINARY") {
        Ok(path) if !path.is_empty() => {
            assert!(Path::new(&path).is_file(), "AZDO_TEST_BINARY={path}: no such file");
            path
        }
        _ => BIN.to_owned(),
    })
}

/// The helper under test in `dir` (a hard link or a copy, mode 0755), for a test that runs it as another uid:
/// the build may live where only its owner can reach it (a private home directory). On Linux the
/// full program it runs for what it does not serve itself comes along, beside it.
pub fn bin_copy_in(dir: &Path) -> PathBuf {
    let front = Path::new(bin());
    let copy = link_or_copy(front, dir);
    if cfg!(target_os = "linux") {
        link_or_copy(&full_beside(front), dir);
    }
    copy
}

/// The full program beside the helper `front` (the front binary on Linux runs it).
pub fn full_beside(front: &Path) -> PathBuf {
    front.with_file_name("git-credential-azdo-full")
}

fn link_or_copy(file: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join(file.file_name().expect("the helper's file name"));
    // A hard link where the file system allows (the build is large), else a copy.
    if std::fs::hard_link(file, &copy).is_err() {
        std::fs::copy(file, &copy).unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
    }
    set_mode(&copy, 0o755);
    copy
}

/// Every file under `dir`, recursively (for tests that look for leaked secrets).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.strip_prefix("Uid:").is_some_and(|ids| ids.split_whitespace().next() == Some("0")))
}

/// One isolated world for a test.
pub struct TestEnv {
    pub root: tempfile::TempDir,
    pub home: PathBuf,
    env: Vec<(String, OsString)>,
    pub secret_service: Option<SecretService>,
}

/// What a process printed and how it ended.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            status: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}---", self.status, self.stdout, self.stderr)
    }
}

impl TestEnv {
    /// A world using the file store, prompts off.
    pub fn new() -> TestEnv {
        let root = tempfile::tempdir().expect("temp dir");
        let home = root.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        let mut env = TestEnv { home: home.clone(), root, env: Vec::new(), secret_service: None };
        let path = std::env::var_os("PATH").unwrap_or_default();
        env.set("PATH", path);
        env.set("HOME", &home);
        env.set("XDG_CONFIG_HOME", home.join(".config"));
        env.set("XDG_DATA_HOME", home.join(".local/share"));
        env.set("GIT_CONFIG_GLOBAL", home.join(".gitconfig"));
        env.set("GIT_CONFIG_NOSYSTEM", "1");
        env.set("GIT_TERMINAL_PROMPT", "0");
        env.set("LC_ALL", "C");
        env.set("GIT_CREDENTIAL_AZDO_STORE", "file");
        // Tests talk to loopback only: no checks against the real Azure DevOps. Tests of
        // validation point `GIT_CREDENTIAL_AZDO_URL` at the fake and set an interval.
        env.set("GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL", "never");
        // No Entra sign-in or minting unless a test asks for it against the fake.
        env.set("GIT_CREDENTIAL_AZDO_MINT", "never");
        // Never the instance metadata endpoint's link-local address, whatever a test configures:
        // a closed loopback port unless the test points it at the fake.
        env.set("GIT_CREDENTIAL_AZDO_IMDS_URL", "http://127.0.0.1:9");
        // Windows keeps the helper's data in the profile's local application data (a known
        // folder, whatever HOME or LOCALAPPDATA say), shared by every test: the store file is
        // named here instead, in this world.
        if cfg!(windows) {
            env.set("GIT_CREDENTIAL_AZDO_STORE_FILE", env.store_file());
        }
        env
    }

    /// A world using the keyring store on a fresh, unlocked Secret Service. `None` (skip) when
    /// gnome-keyring is not installed, except under CI, where that fails the test.
    pub fn with_keyring() -> Option<TestEnv> {
        let mut env = TestEnv::new();
        env.unset("GIT_CREDENTIAL_AZDO_STORE");
        let ss = SecretService::start(&env.root.path().join("ss"), Some("test-password"))?;
        env.use_secret_service(ss);
        Some(env)
    }

    pub fn use_secret_service(&mut self, ss: SecretService) {
        self.set("DBUS_SESSION_BUS_ADDRESS", &ss.bus_address);
        self.secret_service = Some(ss);
    }

    pub fn set(&mut self, key: &str, value: impl Into<OsString>) {
        self.unset(key);
        self.env.push((key.to_owned(), value.into()));
    }

    pub fn unset(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
    }

    /// The names of the variables this world's commands get.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.env.iter().map(|(k, _)| k.as_str())
    }

    pub fn store_file(&self) -> PathBuf {
        self.home.join(".local/share/git-credential-azdo/credentials.json")
    }

    /// Whether the file store holds anything on disk: its file or its organizations' files.
    pub fn store_exists(&self) -> bool {
        self.store_file().exists() || org_dir(&self.store_file()).exists()
    }

    pub fn gitconfig(&self) -> PathBuf {
        self.home.join(".gitconfig")
    }

    /// A command with this world's environment and nothing else.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear().current_dir(&self.home);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Run the helper binary with `args`, feeding `stdin`.
    pub fn helper(&self, args: &[&str], stdin: &[u8]) -> Run {
        run_with_input(self.command(bin()).args(args), stdin)
    }

    /// Run real git with `args`, feeding `stdin`.
    pub fn git(&self, args: &[&str], stdin: &[u8]) -> Run {
        run_with_input(self.command("git").args(args), stdin)
    }

    /// `git credential fill` for `url`, with the helper configured the way `configure` writes it.
    pub fn fill(&self, url: &str) -> Run {
        self.git(&["credential", "fill"], format!("url={url}\n\n").as_bytes())
    }

    pub fn approve(&self, url: &str, username: &str, password: &str) -> Run {
        let input = format!("url={url}\nusername={username}\npassword={password}\n\n");
        self.git(&["credential", "approve"], input.as_bytes())
    }

    pub fn reject(&self, url: &str, extra: &str) -> Run {
        self.git(&["credential", "reject"], format!("url={url}\n{extra}\n").as_bytes())
    }

    /// Store a PAT for `org` through `login --pat-stdin`.
    pub fn login(&self, org: &str, pat: &str) {
        let run = self.helper(&["login", org, "--pat-stdin"], pat.as_bytes());
        assert_eq!(run.status, 0, "login failed: {run:?}");
    }

    /// `configure --global` (into this world's GIT_CONFIG_GLOBAL).
    pub fn configure(&self) {
        let run = self.helper(&["configure", "--global"], b"");
        assert_eq!(run.status, 0, "configure failed: {run:?}");
    }

    /// Point the helper at a fake Azure DevOps and register it for the fake's origin the way
    /// `configure` does for dev.azure.com. Checks are back on with the default interval.
    pub fn use_fake(&mut self, fake: &fake_azdo::FakeAzdo) {
        let url = fake.url();
        for var in ["GIT_CREDENTIAL_AZDO_URL", "GIT_CREDENTIAL_AZDO_VSSPS_URL", "GIT_CREDENTIAL_AZDO_AUTHORITY"] {
            self.set(var, &url);
        }
        self.unset("GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL");
        // Keep the file store where tests look for it (another origin would get its own).
        if self.env.iter().any(|(k, v)| k == "GIT_CREDENTIAL_AZDO_STORE" && v == "file") {
            self.set("GIT_CREDENTIAL_AZDO_STORE_FILE", self.store_file());
        }
        forget_origin_on_windows(&url);
        // Without git (under Wine) nothing would read these entries: the helper, finding no
        // git, reads no git config either. Tests that run git skip there (`has_git`).
        if !git_found() && emulated().as_deref() == Some("wine") {
            return;
        }
        let key = |name: &str| format!("credential.{url}.{name}");
        for args in [
            vec!["config", "--global", "--add", &key("helper"), ""],
            vec!["config", "--global", "--add", &key("helper"), bin()],
            vec!["config", "--global", &key("useHttpPath"), "true"],
            vec!["config", "--global", "user.name", "Test"],
            vec!["config", "--global", "user.email", "test@example.invalid"],
            vec!["config", "--global", "init.defaultBranch", "main"],
        ] {
            let run = self.git(&args, b"");
            assert_eq!(run.status, 0, "{args:?}: {run:?}");
        }
    }

    /// Write an executable shell script into the world and return its path.
    #[cfg(unix)]
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.root.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
        set_mode(&path, 0o755);
        path
    }
}

/// An askpass program that answers nothing, for tests where prompts are on but nobody types: a
/// shell script on Unix; elsewhere the helper itself, which ignores an operation it does not know
/// (the prompt text) and prints nothing.
pub fn silent_askpass(env: &TestEnv) -> PathBuf {
    #[cfg(unix)]
    return env.script("askpass-nothing", "exit 0");
    #[cfg(not(unix))]
    {
        let _ = env;
        PathBuf::from(bin())
    }
}

#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Windows has no Unix modes (a private file is private through its directory's ACL): nothing to set.
#[cfg(not(unix))]
pub fn set_mode(_path: &Path, _mode: u32) {}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

pub fn run_with_input(cmd: &mut Command, stdin: &[u8]) -> Run {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    // Write on a thread: a child that stops reading early must not deadlock the test.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait");
    let _ = writer.join();
    output.into()
}

/// Whether a test that needs `tool` must fail (under CI) rather than be skipped.
pub fn require(tools: &[&str]) -> bool {
    let missing: Vec<_> = tools.iter().filter(|t| which(t).is_none()).collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!("missing {missing:?}: install gnome-keyring and dbus (see .ci/run)");
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    false
}

/// The emulator these tests run under, if any: `.ci/cross`'s runners set `AZDO_TEST_EMULATED`
/// to `wine` (.ci/wine/run) or `qemu` (.ci/qemu/run).
pub fn emulated() -> Option<String> {
    std::env::var("AZDO_TEST_EMULATED").ok().filter(|v| !v.is_empty())
}

/// What a bound on the helper's own time limits allows on top under an emulator, where every
/// process the test starts (the helper, git, their children) starts several times slower, and
/// slower still while `.ci/cross`'s other lanes load both cores: nothing natively. Bounds that
/// use it must stay short of the hang they catch under the emulator too.
pub fn emulation_slack() -> std::time::Duration {
    std::time::Duration::from_secs(if emulated().is_some() { 15 } else { 0 })
}

/// Whether a test must be skipped because it meets a limit of `emulator`, not of the real
/// system: only when running under that emulator, and then it says so (`why`) on stderr.
pub fn skipped_under(emulator: &str, why: &str) -> bool {
    if emulated().as_deref() != Some(emulator) {
        return false;
    }
    let _ = writeln!(std::io::stderr(), "skipped under emulation ({emulator}): {why}");
    true
}

pub fn which(tool: &str) -> Option<PathBuf> {
    let file = format!("{tool}{}", std::env::consts::EXE_SUFFIX);
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(&file)).find(|p| p.is_file())
}

/// Whether a test that runs git can run here. Git is missing only under Wine (Debian has no Git
/// for Windows): then the test is skipped, saying so. Anywhere else a missing git is not
/// excused: this answers true and the test fails when it starts git.
pub fn has_git() -> bool {
    git_found() || !skipped_under("wine", "no git.exe under Wine: Debian has no Git for Windows")
}

fn git_found() -> bool {
    static HERE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HERE.get_or_init(|| which("git").is_some())
}

/// Windows keeps the data of another origin (the fake's) under the profile's local application
/// data, not in the test's world (see [`TestEnv::new`]): a fake's origin starts with none, as it
/// would in a fresh HOME, whatever an earlier run on the same port left there.
fn forget_origin_on_windows(url: &str) {
    if !cfg!(windows) {
        return;
    }
    let Some(local) = std::env::var_os("LOCALAPPDATA") else { return };
    let name: String = url.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect();
    let _ = std::fs::remove_dir_all(Path::new(&local).join("git-credential-azdo").join("origins").join(name));
}

/// A private D-Bus session bus with gnome-keyring's Secret Service on it. Dropping it stops both.
pub struct SecretService {
    pub dir: PathBuf,
    pub bus_address: String,
    dbus_pid: u32,
}

impl SecretService {
    /// Start a bus and a keyring daemon keeping its files under `dir`. With `unlock`, the login
    /// keyring is created (or unlocked) with that password; a wrong password leaves it locked.
    pub fn start(dir: &Path, unlock: Option<&str>) -> Option<SecretService> {
        SecretService::start_with(dir, unlock, false)
    }

    /// Like [`SecretService::start`], but on a bus that activates no services: once the keyring
    /// daemon is gone it stays gone (the default session bus configuration would start the
    /// system's gnome-keyring from `/usr/share/dbus-1/services`, with this process's HOME). For
    /// tests that kill the daemon.
    pub fn start_without_activation(dir: &Path, unlock: Option<&str>) -> Option<SecretService> {
        SecretService::start_with(dir, unlock, true)
    }

    fn start_with(dir: &Path, unlock: Option<&str>, no_activation: bool) -> Option<SecretService> {
        if !require(&["dbus-daemon", "gnome-keyring-daemon", "dbus-send"]) {
            return None;
        }
        let run_dir = dir.join("run");
        std::fs::create_dir_all(&run_dir).expect("runtime dir");
        std::fs::create_dir_all(dir.join("data")).expect("data dir");
        set_mode(&run_dir, 0o700);
        let bus_path = run_dir.join(format!("bus-{}", std::process::id()));
        let mut daemon = Command::new("dbus-daemon");
        if no_activation {
            let config = dir.join("bus.conf");
            let policy = r#"<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>"#;
            let xml = format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
                 <busconfig><type>session</type><listen>unix:path={}</listen>{policy}</busconfig>\n",
                bus_path.display()
            );
            std::fs::write(&config, xml).expect("bus config");
            daemon.arg(format!("--config-file={}", config.display()));
        } else {
            daemon.arg("--session").arg(format!("--address=unix:path={}", bus_path.display()));
        }
        let out = daemon
            .args(["--fork", "--nopidfile", "--print-address=1", "--print-pid=1"])
            .env("HOME", dir)
            .env("XDG_RUNTIME_DIR", &run_dir)
            .env("XDG_DATA_HOME", dir.join("data"))
            .stderr(Stdio::null())
            .output()
            .expect("start dbus-daemon");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = text.lines();
        let bus_address = lines.next().expect("bus address").to_owned();
        let dbus_pid = lines.next().and_then(|p| p.trim().parse().ok()).expect("dbus pid");
        let ss = SecretService { dir: dir.to_owned(), bus_address, dbus_pid };
        ss.restart_daemon(unlock);
        Some(ss)
    }

    /// A command that talks to this bus, with the daemon's private directories.
    pub fn env_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
            .env("XDG_RUNTIME_DIR", self.dir.join("run"))
            .env("XDG_DATA_HOME", self.dir.join("data"))
            .env("HOME", &self.dir)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        cmd
    }

    /// Wait (bounded) until `name` is owned on the bus: the daemon returns before it is.
    fn wait_for_name(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self
                .env_command("dbus-send")
                .args(["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"])
                .args(["org.freedesktop.DBus.NameHasOwner", &format!("string:{name}")])
                .output()
                .expect("dbus-send");
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return;
            }
            assert!(Instant::now() < deadline, "{name} did not appear on the test bus");
            std::thread::yield_now();
        }
    }

    /// Run `secret-tool` against this Secret Service.
    pub fn secret_tool(&self, args: &[&str]) -> Run {
        self.env_command("secret-tool").args(args).stdin(Stdio::null()).output().expect("secret-tool").into()
    }

    /// Run `secret-tool` against this Secret Service with `input` on its stdin.
    pub fn secret_tool_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = self
            .env_command("secret-tool")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("secret-tool");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input).expect("write");
        child.wait_with_output().expect("secret-tool").into()
    }

    /// The pid of the keyring daemon that owns the Secret Service name on this bus, if any.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.owner_pid("org.freedesktop.secrets")
    }

    /// Start a keyring daemon on this bus and data directory (again, after one died), with
    /// `unlock` as in [`SecretService::start`]; returns once the Secret Service name is owned.
    pub fn restart_daemon(&self, unlock: Option<&str>) {
        let mut gkd = self.env_command("gnome-keyring-daemon");
        gkd.args(["--daemonize", "--components=secrets"]);
        if unlock.is_some() {
            gkd.arg("--unlock");
        }
        let mut child = gkd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("gkd");
        if let Some(password) = unlock {
            child.stdin.take().expect("stdin").write_all(password.as_bytes()).expect("password");
        }
        child.wait().expect("gkd restart");
        self.wait_for_name("org.freedesktop.secrets");
    }

    fn owner_pid(&self, name: &str) -> Option<u32> {
        let out = self
            .env_command("dbus-send")
            .args(["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"])
            .args(["org.freedesktop.DBus.GetConnectionUnixProcessID", &format!("string:{name}")])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).split_whitespace().last()?.parse().ok()
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        if let Some(pid) = self.owner_pid("org.freedesktop.secrets") {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = Command::new("kill").arg(self.dbus_pid.to_string()).status();
    }
}

/// The directory of the file store's organization files, beside the store file `store`.
pub fn org_dir(store: &Path) -> PathBuf {
    let mut dir = store.as_os_str().to_owned();
    dir.push(".d");
    PathBuf::from(dir)
}

/// The organization files of the file store `store` (temporary files of writers left out).
pub fn org_files(store: &Path) -> Vec<PathBuf> {
    let Ok(listing) = std::fs::read_dir(org_dir(store)) else { return Vec::new() };
    let mut files: Vec<PathBuf> = listing
        .map(|e| e.expect("entry"))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// The file store `store` as one JSON document (`organizations` by key, `tokens`), from the
/// store file and its organizations' own files, read leniently (no checks); `Null` when neither
/// exists or one does not parse. [`faults::read_store`] is the checking reader.
pub fn store_doc(store: &Path) -> serde_json::Value {
    let parse = |path: &Path| -> Option<serde_json::Value> { serde_json::from_slice(&std::fs::read(path).ok()?).ok() };
    let files = org_files(store);
    let mut doc = match (parse(store), store.exists() || !files.is_empty()) {
        (Some(doc), _) => doc,
        (None, false) => return serde_json::Value::Null,
        (None, true) if store.exists() => return serde_json::Value::Null,
        (None, true) => serde_json::json!({"version": 1}),
    };
    if doc.get("organizations").is_none() {
        doc["organizations"] = serde_json::json!({});
    }
    for file in files {
        let Some(mut entry) = parse(&file) else { return serde_json::Value::Null };
        let Some(key) = entry["key"].as_str().map(str::to_owned) else { return serde_json::Value::Null };
        if let Some(fields) = entry.as_object_mut() {
            fields.remove("key");
            fields.remove("version");
        }
        doc["organizations"][key] = entry;
    }
    doc
}

/// Replace the file store `store` with `doc`, as the single store file of earlier versions
/// (0600), its organizations' own files removed: the helper reads it as it is and moves its
/// organizations to their own files on its next change.
pub fn write_store(store: &Path, doc: &serde_json::Value) {
    let _ = std::fs::remove_dir_all(org_dir(store));
    std::fs::write(store, serde_json::to_vec(doc).expect("json")).expect("write store");
    set_mode(store, 0o600);
}

/// Every byte the file store `store` keeps (the store file, then each organization's file);
/// `None` when neither exists.
pub fn store_bytes(store: &Path) -> Option<Vec<u8>> {
    let files = org_files(store);
    if !store.exists() && files.is_empty() {
        return None;
    }
    let mut all = std::fs::read(store).unwrap_or_default();
    for file in files {
        all.extend(std::fs::read(file).unwrap_or_default());
    }
    Some(all)
}

/// [`store_bytes`] as text, empty when there is no store.
pub fn store_text(store: &Path) -> String {
    String::from_utf8_lossy(&store_bytes(store).unwrap_or_default()).into_owned()
}
