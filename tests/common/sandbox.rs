//! A private network for tests of the production defaults: each test runs in its own mount and
//! network namespace (`unshare -m -n`, as root), where only loopback exists and a bind-mounted
//! `/etc/hosts` maps the real service's host names to 127.0.0.1. Nothing run there can reach the
//! real Azure DevOps or Entra, whatever URL it is given.
//!
//! The outer `#[test]` re-runs its own test binary inside such a namespace, for that one test
//! (`--exact PATH`, the test's full path in the binary, e.g. `production::NAME`), with [`MARKER`] set; the inner run checks that it really is isolated before
//! doing anything, then runs the test's body. A user other than root gets a user namespace too
//! (`unshare -r`, root inside it only). Where namespaces cannot be made (no user namespaces for
//! that user, a container without the capability, no `unshare` or `ip`), the test is skipped
//! with the reason, and fails under CI.

use std::net::ToSocketAddrs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Set (to the hosts file's path) in the inner run.
pub const MARKER: &str = "AZDO_TEST_SANDBOX";

/// Set in the inner run of [`isolated_with_dns`]: the names come from a DNS server there.
const DNS_MARKER: &str = "AZDO_TEST_SANDBOX_DNS";

/// The org whose legacy host is mapped too.
pub const ORG: &str = "contoso";

/// The host names mapped to 127.0.0.1 inside: the production defaults' and one legacy org host.
pub fn host_names() -> Vec<String> {
    ["dev.azure.com", "vssps.dev.azure.com", "login.microsoftonline.com"]
        .into_iter()
        .map(str::to_owned)
        .chain([format!("{ORG}.visualstudio.com")])
        .collect()
}

/// The most one inner run may take (a clone, a few helper runs, a keyring daemon) on a loaded
/// 2-core machine; a hang goes far past it.
const LIMIT: Duration = Duration::from_secs(180);

/// Run `body` in a private network namespace: outside, re-run this test there and report how it
/// went; inside, check the isolation and run `body`. `name` is the test function's name.
pub fn isolated(name: &str, body: impl FnOnce()) {
    if std::env::var_os(MARKER).is_some() {
        assert_isolated();
        body();
    } else {
        run_inside(name, false);
    }
}

/// [`isolated`], but `/etc/hosts` names only localhost: the host names resolve through DNS, to
/// a server ([`super::dns`]) on 127.0.0.1:53 inside, whose record of queries `body` gets.
pub fn isolated_with_dns(name: &str, body: impl FnOnce(super::dns::Queries)) {
    if std::env::var_os(MARKER).is_some() {
        assert!(std::env::var_os(DNS_MARKER).is_some(), "{name}: not run with DNS");
        let queries = super::dns::serve("127.0.0.1:53", host_names());
        assert_isolated();
        body(queries);
    } else {
        run_inside(name, true);
    }
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skip with `why`, or fail under CI.
fn unavailable(why: &str) {
    let msg = format!(
        "cannot make a private network namespace for the production-path tests: {why} \
         (they need root or user namespaces, unshare, setsid and mount from util-linux, and ip from iproute2)"
    );
    assert!(!under_ci(), "{msg}");
    eprintln!("SKIPPED: {msg}");
}

/// `unshare`'s namespace options: a user namespace too unless this process is root.
fn namespaces() -> &'static [&'static str] {
    if super::is_root() {
        &["-m", "-n"]
    } else {
        &["-r", "-m", "-n"]
    }
}

/// The full path of the test `name` as the harness knows it (`module::name` in a binary of
/// modules, which `--exact` needs): libtest names each test's thread after it.
fn full_name(name: &str) -> String {
    match std::thread::current().name() {
        Some(full) if full == name || full.ends_with(&format!("::{name}")) => full.to_owned(),
        _ => name.to_owned(),
    }
}

fn run_inside(name: &str, dns: bool) {
    let name = &full_name(name);
    let missing: Vec<&str> =
        ["unshare", "ip", "mount", "setsid", "sh"].into_iter().filter(|t| super::which(t).is_none()).collect();
    if !missing.is_empty() {
        return unavailable(&format!("missing {missing:?}"));
    }
    // Can this process make the namespaces at all? (No user namespaces, a container without
    // CAP_SYS_ADMIN, not root: this is where it shows.)
    let probe = Command::new("unshare")
        .args(namespaces())
        .args(["--", "sh", "-c", "ip link set lo up"])
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    if !probe.status.success() {
        let why = String::from_utf8_lossy(&probe.stderr).trim().to_owned();
        return unavailable(&format!("unshare {} failed ({}): {why}", namespaces().join(" "), probe.status));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let hosts = dir.path().join("hosts");
    let mut text = "127.0.0.1 localhost\n::1 localhost\n".to_owned();
    if !dns {
        text += &format!("127.0.0.1 {}\n", host_names().join(" "));
    }
    std::fs::write(&hosts, text).expect("write hosts");
    super::set_mode(&hosts, 0o644);
    // Whatever the mode, no query can leave: the only name server is on loopback inside.
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n").expect("write resolv.conf");
    super::set_mode(&resolv, 0o644);
    let exe = std::env::current_exe().expect("own test binary");
    // unshare: new mount and network namespaces (mounts made private, so the bind mount stays
    // inside; for a user other than root, in a user namespace of its own); setsid: no controlling terminal, so nothing can prompt on one; then lo up, the
    // hosts file over /etc/hosts, and this one test again.
    let script = r#"ip link set lo up && mount --bind "$1" /etc/hosts && mount --bind "$3" /etc/resolv.conf &&
        exec "$0" --exact "$2" --nocapture --test-threads=1"#;
    let mut cmd = Command::new("unshare");
    cmd.args(namespaces())
        .args(["--propagation", "private", "--", "setsid", "-w", "sh", "-c", script])
        .arg(&exe)
        .arg(&hosts)
        .arg(name)
        .arg(&resolv)
        .env(MARKER, &hosts);
    if dns {
        cmd.env(DNS_MARKER, "1");
    }
    let what = format!("{name} in a private network namespace");
    let (run, took) = super::bounded::start(cmd, b"", &what).finish(LIMIT);
    assert_eq!(run.status, 0, "{what} failed after {took:?}:\n{run:?}");
    // `--exact` with a wrong name runs nothing and passes: make sure the one test ran.
    let ran = run.stdout.lines().any(|l| l.starts_with("test result: ok. 1 passed;"));
    assert!(ran, "{what}: the inner test did not run:\n{run:?}");
    if run.stderr.contains("SKIPPED:") || run.stdout.contains("SKIPPED:") {
        eprintln!("{what}: the inner test skipped a part:\n{}{}", run.stdout, run.stderr);
    }
}

/// Refuse to go on unless this process is in a network namespace with nothing but loopback and
/// every mapped name resolves to loopback only.
fn assert_isolated() {
    let dev = std::fs::read_to_string("/proc/self/net/dev").expect("read /proc/self/net/dev");
    let interfaces: Vec<&str> = dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(str::trim).collect();
    assert_eq!(interfaces, ["lo"], "{MARKER} is set but this network namespace has more than loopback: refusing");
    let hosts = std::env::var_os(MARKER).expect("marker");
    let expected = std::fs::read(Path::new(&hosts)).expect("read the test hosts file");
    let actual = std::fs::read("/etc/hosts").expect("read /etc/hosts");
    assert_eq!(actual, expected, "/etc/hosts is not the test hosts file: refusing");
    let resolv = std::fs::read_to_string("/etc/resolv.conf").expect("read /etc/resolv.conf");
    assert!(resolv.starts_with("nameserver 127.0.0.1\n"), "/etc/resolv.conf is not the test one: refusing");
    for name in host_names() {
        // The resolver git and the helper use (getaddrinfo, through /etc/nsswitch.conf).
        let addrs: Vec<_> = (name.as_str(), 443)
            .to_socket_addrs()
            .unwrap_or_else(|e| panic!("{name} does not resolve (through /etc/hosts or the test DNS server; check /etc/nsswitch.conf): {e}"))
            .collect();
        assert!(
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()),
            "{name} resolves to {addrs:?}, not loopback only: refusing"
        );
    }
}
