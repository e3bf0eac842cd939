//! The keyring daemon killed in the middle of calls: one clear line and no hang, and nothing
//! confirmed is lost; and an `erase` of the old PAT racing a `store` of the new one on a real
//! Secret Service. Every helper run here is bounded in time (tests/common/bounded.rs): a hang
//! fails the test instead of hanging it, and no run may panic.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::bounded::{assert_no_panic, assert_one_line_error, helper_bounded, start, LIMIT};
use crate::common::faults::{
    an_erase_of_the_old_pat_never_takes_the_new_one, answered, request, store_ok, store_request,
};
use crate::common::{bin, SecretService, TestEnv};

// ---------------------------------------------------------------------------------------------
// 1. The keyring daemon killed in the middle of calls
// ---------------------------------------------------------------------------------------------

/// Messages a keyring failure may end with: unreachable, locked, timed out, or failed.
fn is_clear_keyring_error(stderr: &str) -> bool {
    ["keyring is unreachable", "keyring refused access", "keyring did not answer", "keyring failed"]
        .iter()
        .any(|m| stderr.contains(m))
}

fn kill(pid: u32, signal: &str) {
    let status = Command::new("kill").args([signal, &pid.to_string()]).status().expect("kill");
    assert!(status.success(), "kill {signal} {pid}");
}

/// Resumes a stopped process when the test ends, even by a failure, so it can be stopped.
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.0.to_string()]).stderr(Stdio::null()).status();
    }
}

/// Whether process `pid` has a connection on the bus (it is about to call the Secret Service).
fn connected_to_bus(ss: &SecretService, pid: u32) -> bool {
    let dbus = |args: &[&str]| {
        let out = ss
            .env_command("dbus-send")
            .args(["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"])
            .args(args)
            .output()
            .expect("dbus-send");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let names = dbus(&["org.freedesktop.DBus.ListNames"]);
    names.split('"').filter(|n| n.starts_with(':')).any(|name| {
        let owner = dbus(&["org.freedesktop.DBus.GetConnectionUnixProcessID", &format!("string:{name}")]);
        owner.split_whitespace().last().and_then(|p| p.parse::<u32>().ok()) == Some(pid)
    })
}

/// A keyring world whose daemon can be killed and restarted (no bus activation).
fn killable_keyring() -> Option<TestEnv> {
    let mut env = TestEnv::new();
    env.unset("GIT_CREDENTIAL_AZDO_STORE");
    let ss = SecretService::start_without_activation(&env.root.path().join("ss"), Some("pw"))?;
    env.use_secret_service(ss);
    Some(env)
}

#[test]
fn the_keyring_daemon_killed_during_a_get_is_one_clear_line_and_no_hang() {
    let Some(mut env) = killable_keyring() else {
        return;
    };
    const TIMEOUT: u64 = 3;
    env.set("GIT_CREDENTIAL_AZDO_KEYRING_TIMEOUT", TIMEOUT.to_string());
    store_ok(&env, "contoso", "kept-pat");
    let ss = env.secret_service.as_ref().expect("secret service");
    let daemon = ss.daemon_pid().expect("daemon pid");

    // Freeze the daemon, start a get, and kill the daemon once the get is on the bus: its
    // call is queued for (or on its way to) a daemon that will never answer.
    kill(daemon, "-STOP");
    let _resume = Resume(daemon);
    let mut cmd = env.command(bin());
    cmd.arg("get");
    let running = start(cmd, &request("contoso", ""), "get while the daemon dies");
    let deadline = Instant::now() + LIMIT;
    while !connected_to_bus(ss, running.pid) {
        assert!(Instant::now() < deadline, "the get never connected to the bus");
    }
    kill(daemon, "-KILL");
    let (run, took) = running.finish(LIMIT);
    assert_one_line_error(&run, "get");
    assert_eq!(run.stdout, "", "{run:?}");
    assert_eq!(run.status, 1, "{run:?}");
    assert!(is_clear_keyring_error(&run.stderr), "{run:?}");
    assert!(took < Duration::from_secs(TIMEOUT + 3), "took {took:?} with azdo.keyringTimeout={TIMEOUT}");
    eprintln!("get with the daemon killed mid-call: {took:?}: {}", run.stderr.trim_end());

    // With no daemon at all: the same, for each operation.
    for (verb, input) in [
        ("get", request("contoso", "")),
        ("store", store_request("contoso", "other-pat")),
        ("erase", request("contoso", "")),
    ] {
        let (run, took) = helper_bounded(&env, &[verb], &input, LIMIT);
        assert_one_line_error(&run, verb);
        assert!(is_clear_keyring_error(&run.stderr), "{verb}: {run:?}");
        assert!(took < Duration::from_secs(2 * TIMEOUT + 3), "{verb} took {took:?}");
    }
    assert!(!env.store_exists(), "fell back to a plaintext file");

    // Nothing lost: a restarted daemon still has the PAT stored before.
    ss.restart_daemon(Some("pw"));
    let (run, _) = helper_bounded(&env, &["get"], &request("contoso", ""), LIMIT);
    assert_eq!((answered(&run).as_deref(), run.stderr.as_str()), (Some("kept-pat"), ""), "{run:?}");
}

#[test]
fn the_keyring_daemon_killed_under_load_loses_nothing_confirmed() {
    let Some(mut env) = killable_keyring() else {
        return;
    };
    const TIMEOUT: u64 = 3;
    env.set("GIT_CREDENTIAL_AZDO_KEYRING_TIMEOUT", TIMEOUT.to_string());
    const WORKERS: usize = 3;
    for w in 0..WORKERS {
        store_ok(&env, &format!("load{w}"), &format!("load{w}-pat-0"));
    }
    let ss = env.secret_service.as_ref().expect("secret service");
    let daemon = ss.daemon_pid().expect("daemon pid");
    let succeeded = AtomicUsize::new(0);
    // Set before the kill is sent, and once it has been.
    let (killing, killed) = (AtomicBool::new(false), AtomicBool::new(false));
    let failed_after_kill = AtomicUsize::new(0);

    // Each worker alternates store and get on its own organization until the daemon is dead and
    // it has seen failures; it records the last store that succeeded and the ones that did not.
    let outcomes: Vec<(String, String, Vec<String>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (env, succeeded, failed_after_kill) = (&env, &succeeded, &failed_after_kill);
                let (killing, killed) = (&killing, &killed);
                s.spawn(move || {
                    let org = format!("load{w}");
                    let mut confirmed = format!("{org}-pat-0");
                    let mut uncertain = Vec::new();
                    let mut failures = 0;
                    for n in 1..200 {
                        let is_store = n % 2 == 1;
                        let pat = format!("{org}-pat-{n}");
                        let (verb, input) =
                            if is_store { ("store", store_request(&org, &pat)) } else { ("get", request(&org, "")) };
                        let was_killed = killed.load(Ordering::SeqCst);
                        let (run, took) = helper_bounded(env, &[verb], &input, LIMIT);
                        let what = format!("{org} {verb} #{n}");
                        assert!(took < Duration::from_secs(2 * TIMEOUT + 3), "{what} took {took:?}");
                        if run.status == 0 {
                            assert_no_panic(&run, &what);
                            if is_store {
                                confirmed = pat;
                                uncertain.clear();
                            } else {
                                // Before the kill a get answers the last confirmed PAT (or one
                                // whose store was cut off by the kill).
                                let got = answered(&run).expect("a PAT");
                                assert!(got == confirmed || uncertain.contains(&got), "{what}: {got}");
                            }
                            assert!(!was_killed || !is_store, "{what} succeeded with no daemon: {run:?}");
                            succeeded.fetch_add(1, Ordering::SeqCst);
                        } else {
                            assert_one_line_error(&run, &what);
                            assert!(is_clear_keyring_error(&run.stderr), "{what}: {run:?}");
                            assert_eq!(run.stdout, "", "{what}: {run:?}");
                            assert!(killing.load(Ordering::SeqCst), "{what} failed before the kill: {run:?}");
                            if is_store {
                                uncertain.push(pat);
                            }
                            failures += 1;
                            failed_after_kill.fetch_add(1, Ordering::SeqCst);
                        }
                        if failures >= 3 {
                            break;
                        }
                    }
                    (org, confirmed, uncertain)
                })
            })
            .collect();
        // Kill the daemon (no warning: SIGKILL) once the workers are well under way.
        let deadline = Instant::now() + LIMIT;
        while succeeded.load(Ordering::SeqCst) < 4 * WORKERS {
            assert!(Instant::now() < deadline, "the workers made no progress");
            std::thread::yield_now();
        }
        killing.store(true, Ordering::SeqCst);
        kill(daemon, "-KILL");
        killed.store(true, Ordering::SeqCst);
        workers.into_iter().map(|h| h.join().expect("worker")).collect()
    });
    eprintln!(
        "daemon killed after {} successful operations; {} failed after the kill, each with one clear line",
        4 * WORKERS,
        failed_after_kill.load(Ordering::SeqCst)
    );

    // Nothing confirmed is lost: after a restart each organization has its last confirmed PAT,
    // or one whose store was cut off by the kill.
    ss.restart_daemon(Some("pw"));
    for (org, confirmed, uncertain) in outcomes {
        let (run, _) = helper_bounded(&env, &["get"], &request(&org, ""), LIMIT);
        let got = answered(&run).unwrap_or_else(|| panic!("{org}: the confirmed PAT {confirmed} was lost: {run:?}"));
        assert!(got == confirmed || uncertain.contains(&got), "{org}: {got}, confirmed {confirmed}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. An erase of the old PAT racing a store of the new one
// ---------------------------------------------------------------------------------------------

#[test]
fn an_erase_of_the_old_pat_never_takes_a_new_one_stored_meanwhile_secret_service() {
    let Some(env) = TestEnv::with_keyring() else {
        return;
    };
    an_erase_of_the_old_pat_never_takes_the_new_one(&env, 10);
}
