//! Faults, with nothing lost: a `store` killed with SIGKILL at random points, 50 parallel
//! `store`/`get`/`erase` across 10 organizations (file store and a real Secret Service), the
//! keyring daemon killed in the middle of calls, and a fake Azure DevOps (or a raw socket) that
//! drops connections, answers slowly, answers garbage or throttles, for `status`, `get` and
//! `doctor`. Every helper run here is bounded in time: a hang fails the test instead of hanging
//! it, and no run may panic.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Barrier};
use std::time::{Duration, Instant};

use common::{Run, SecretService, TestEnv, BIN};
use fake_azdo::{FakeAzdo, Fault};

const YEAR: i64 = 365 * 24 * 3600;
/// Long enough for any helper run on a loaded 2-core machine; a hang goes far past it.
const LIMIT: Duration = Duration::from_secs(30);

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

// ---------------------------------------------------------------------------------------------
// Running the helper with a bound
// ---------------------------------------------------------------------------------------------

/// A helper run that has been started and is waited for on a thread.
struct Running {
    pid: u32,
    started: Instant,
    done: mpsc::Receiver<std::io::Result<std::process::Output>>,
    what: String,
}

fn start(mut cmd: Command, stdin: &[u8], what: &str) -> Running {
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
    fn finish(self, limit: Duration) -> (Run, Duration) {
        match self.done.recv_timeout(limit) {
            Ok(output) => {
                let output = output.expect("wait");
                let signal = output.status.signal();
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

fn helper_bounded(env: &TestEnv, args: &[&str], stdin: &[u8], limit: Duration) -> (Run, Duration) {
    let mut cmd = env.command(BIN);
    cmd.args(args);
    start(cmd, stdin, &format!("git-credential-azdo {}", args.join(" "))).finish(limit)
}

/// No panic, whatever else happened.
fn assert_no_panic(run: &Run, what: &str) {
    assert_ne!(run.status, 101, "{what}: the helper panicked: {run:?}");
    assert!(!run.stderr.contains("panicked"), "{what}: the helper panicked: {run:?}");
    assert!(!run.stderr.contains("RUST_BACKTRACE"), "{what}: the helper panicked: {run:?}");
}

/// An error the way the helper reports one: exactly one line, prefixed with its name.
fn assert_one_line_error(run: &Run, what: &str) {
    assert_no_panic(run, what);
    assert_eq!(run.stderr.lines().count(), 1, "{what}: not one line: {run:?}");
    assert!(run.stderr.starts_with("git-credential-azdo: "), "{what}: {run:?}");
}

fn request(org: &str, extra: &str) -> Vec<u8> {
    format!("protocol=https\nhost=dev.azure.com\npath={org}/proj/_git/repo\n{extra}\n").into_bytes()
}

fn store_request(org: &str, pat: &str) -> Vec<u8> {
    request(org, &format!("username={org}\npassword={pat}\n"))
}

fn store_ok(env: &TestEnv, org: &str, pat: &str) {
    let (run, _) = helper_bounded(env, &["store"], &store_request(org, pat), LIMIT);
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "store {org}: {run:?}");
}

/// The PAT in a `get` answer, if any.
fn answered(run: &Run) -> Option<String> {
    run.stdout.lines().find_map(|l| l.strip_prefix("password=")).map(str::to_owned)
}

/// A small deterministic generator; the seed is printed so a failure can be replayed with
/// `FAULTS_SEED=...`.
struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("FAULTS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as u64
        });
        eprintln!("FAULTS_SEED={seed}");
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// Spin until `deadline`: a kill point measured in microseconds, not a sleep.
fn spin_until(deadline: Instant) {
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

// ---------------------------------------------------------------------------------------------
// 1. `store` killed with SIGKILL
// ---------------------------------------------------------------------------------------------

/// The store file, checked the way it must always be: a regular 0600 file that parses as the
/// store's JSON.
fn read_store(path: &Path) -> serde_json::Value {
    let meta = std::fs::symlink_metadata(path).expect("the store file must exist");
    assert!(meta.file_type().is_file(), "{} is not a regular file", path.display());
    assert_eq!(common::mode(path), 0o600, "store file mode");
    let bytes = std::fs::read(path).expect("read store");
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("torn store file ({e}): {}", String::from_utf8_lossy(&bytes)));
    assert_eq!(doc["version"], 1, "{doc}");
    doc
}

/// `.tmp-credentials.json-*` files left beside the store; each must be private.
fn temp_files(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-credentials.json-") {
            assert_eq!(common::mode(&entry.path()), 0o600, "temp file {name} is not private");
            names.push(name);
        }
    }
    names
}

#[test]
fn a_store_killed_at_random_points_leaves_the_old_or_the_new_file() {
    let env = TestEnv::new();
    let path = env.store_file();
    let dir = path.parent().expect("dir").to_owned();
    // Other organizations share the file: every kill must leave them exactly as they were.
    store_ok(&env, "fabrikam", "fabrikam-pat");
    store_ok(&env, "northwind", "northwind-pat");
    store_ok(&env, "contoso", "contoso-pat-0");
    assert_eq!(common::mode(&dir), 0o700);

    // Kill points are spread over a whole store's duration on this machine.
    let mut took: Vec<Duration> = (0..3)
        .map(|i| {
            let (run, t) = helper_bounded(&env, &["store"], &store_request("contoso", &format!("calib-{i}")), LIMIT);
            assert_eq!(run.status, 0, "{run:?}");
            t
        })
        .collect();
    took.sort();
    let full = took[1];
    let mut rng = Rng::from_env();

    let (mut killed, mut old_kept, mut new_written, mut temp_left) = (0, 0, 0, 0);
    for i in 0..50 {
        let before = read_store(&path);
        let new_pat = format!("killed-pat-{i}");
        let input = store_request("contoso", &new_pat);
        let mut child: Child = env
            .command(BIN)
            .arg("store")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let started = Instant::now();
        let delay = Duration::from_nanos(rng.below(full.as_nanos() as u64 * 6 / 5));
        let mut stdin = child.stdin.take().expect("stdin");
        let kept_open = match i % 3 {
            // At once, before the request is even written.
            0 => Some(stdin),
            // With the request written and the pipe still open (the blank line ends it).
            1 => {
                stdin.write_all(&input).expect("write");
                spin_until(started + delay);
                Some(stdin)
            }
            // With the request written and closed.
            _ => {
                stdin.write_all(&input).expect("write");
                drop(stdin);
                spin_until(started + delay);
                None
            }
        };
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        drop(kept_open);
        if status.signal() == Some(9) {
            killed += 1;
        } else {
            assert_eq!(status.code(), Some(0), "iteration {i}: a store that was not killed failed");
        }

        // Always the old or the new document, never anything else.
        let after = read_store(&path);
        if after == before {
            old_kept += 1;
        } else {
            new_written += 1;
            let mut expected = before.clone();
            expected["organizations"]["contoso"] = after["organizations"]["contoso"].clone();
            assert_eq!(after, expected, "iteration {i}: only contoso's entry may change");
            let entry = &after["organizations"]["contoso"];
            assert_eq!(entry["pat"], new_pat.as_str(), "iteration {i}: {after}");
            assert_eq!(entry["origin"], "git", "iteration {i}: {after}");
            assert_eq!(entry["username"], "contoso", "iteration {i}: {after}");
        }
        let temps = temp_files(&dir);
        temp_left = temps.len();

        // The dead process's lock never blocks the next store (flock ends with the process).
        let done = format!("done-pat-{i}");
        let (run, _) = helper_bounded(&env, &["store"], &store_request("contoso", &done), LIMIT);
        assert_eq!((run.status, run.stderr.as_str()), (0, ""), "iteration {i}: store after a kill: {run:?}");
        let doc = read_store(&path);
        assert_eq!(doc["organizations"]["contoso"]["pat"], done.as_str());
        assert_eq!(doc["organizations"]["fabrikam"]["pat"], "fabrikam-pat");
        assert_eq!(doc["organizations"]["northwind"]["pat"], "northwind-pat");
        assert_eq!(doc["organizations"].as_object().expect("orgs").len(), 3, "{doc}");
    }
    // What the leftovers hold, and whether removing the organization removes its PATs from disk.
    let (run, _) = helper_bounded(&env, &["logout", "contoso"], b"", LIMIT);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(read_store(&path)["organizations"].get("contoso").is_none());
    let temps = temp_files(&dir);
    let holding = |needle: &str| {
        temps.iter().filter(|n| std::fs::read_to_string(dir.join(n)).expect("temp file").contains(needle)).count()
    };
    eprintln!(
        "50 stores: {killed} killed while running ({} exited first); file after the kill: old {old_kept}, \
         new {new_written}; .tmp-credentials.json-* files seen after kills: {temp_left}",
        50 - killed,
    );
    // The next write under the lock removes what killed writers left: logout leaves no copy behind.
    assert_eq!((temps.len(), holding("-pat-")), (0, 0), "stale temp files with PATs survive a logout: {temps:?}");
    assert!(killed >= 17, "too few kills landed while the store was running: {killed}");
}

/// Whether another process holds the flock on `lock` (tested with a non-blocking flock).
fn lock_is_held(lock: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(lock) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(e)) => panic!("flock {}: {e}", lock.display()),
    }
}

#[test]
fn a_store_killed_while_holding_the_lock_does_not_block_the_next_one() {
    // Deterministically kill a store that holds the lock: the store file is a FIFO, so the read
    // under the lock blocks until this test writes to it, which it never does.
    let env = TestEnv::new();
    let path = env.store_file();
    let dir = path.parent().expect("dir").to_owned();
    std::fs::create_dir_all(&dir).expect("dir");
    common::set_mode(&dir, 0o700);
    let made = Command::new("mkfifo").args(["-m", "600"]).arg(&path).status().expect("mkfifo");
    assert!(made.success());
    let lock = dir.join("credentials.json.lock");

    let mut child = env
        .command(BIN)
        .arg("store")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(&store_request("contoso", "never-written")).expect("write");
    // The unlocked read before the update (is it stored already?) gets an empty store.
    let fifo = path.clone();
    let feeder = std::thread::spawn(move || {
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).expect("open fifo");
        w.write_all(br#"{"version":1,"organizations":{}}"#).expect("feed");
    });
    let deadline = Instant::now() + LIMIT;
    while !lock_is_held(&lock) {
        assert!(Instant::now() < deadline, "the store never took its lock");
        assert!(child.try_wait().expect("try_wait").is_none(), "the store ended early");
        std::thread::yield_now();
    }
    feeder.join().expect("feeder");
    child.kill().expect("SIGKILL");
    assert_eq!(child.wait().expect("wait").signal(), Some(9));
    assert!(!lock_is_held(&lock), "the lock outlived the process that held it");

    std::fs::remove_file(&path).expect("remove fifo");
    let (run, took) = helper_bounded(&env, &["store"], &store_request("contoso", "after-the-kill"), LIMIT);
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
    assert!(took < Duration::from_secs(10), "the next store waited {took:?}");
    assert_eq!(read_store(&path)["organizations"]["contoso"]["pat"], "after-the-kill");
    assert!(temp_files(&dir).is_empty(), "killed before writing: no temp file expected");
}

// ---------------------------------------------------------------------------------------------
// 2. 50 parallel store/get/erase across 10 organizations
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Store(String),
    Get,
    /// With the password git would send, or none.
    Erase(Option<String>),
}

type State = Option<String>;

/// The effect of one operation on an organization's entry, as the helper documents it.
fn apply(state: &State, op: &Op) -> State {
    match op {
        Op::Store(pat) => Some(pat.clone()),
        Op::Get => state.clone(),
        Op::Erase(None) => None,
        Op::Erase(Some(pat)) if state.as_ref() == Some(pat) => None,
        Op::Erase(Some(_)) => state.clone(),
    }
}

/// Every state of every serialization of `mutations` from `state` (`seen`), and every final one
/// (`finals`). A mutation that failed may or may not have taken effect, so it may be skipped.
fn explore(state: &State, mutations: &[(Op, bool)], seen: &mut BTreeSet<State>, finals: &mut BTreeSet<State>) {
    seen.insert(state.clone());
    if mutations.is_empty() {
        finals.insert(state.clone());
    }
    for (i, (op, ok)) in mutations.iter().enumerate() {
        let mut rest = mutations.to_vec();
        rest.remove(i);
        explore(&apply(state, op), &rest, seen, finals);
        if !ok {
            explore(state, &rest, seen, finals);
        }
    }
}

struct Plan {
    org: String,
    initial: State,
    ops: Vec<Op>,
}

/// Ten organizations, five operations each, chosen so that every serialization ends the same
/// way when all succeed. PATs name their organization, so one seen elsewhere is a leak.
fn plans() -> Vec<Plan> {
    (0..10)
        .map(|k| {
            let org = format!("org{k}");
            let pat = |what: &str| format!("{what}-pat-of-{org}");
            let (initial, ops) = match k % 4 {
                // Added twice, read, and a stale erase that must not remove it: ends stored.
                0 => (
                    None,
                    vec![Op::Store(pat("new")), Op::Store(pat("new")), Op::Get, Op::Get, Op::Erase(Some(pat("stale")))],
                ),
                // Erased three ways: ends absent.
                1 => (
                    Some(pat("old")),
                    vec![Op::Erase(Some(pat("old"))), Op::Erase(None), Op::Get, Op::Get, Op::Erase(Some(pat("old")))],
                ),
                // Confirmed again (a metadata write) while read: never absent, ends stored.
                2 => (
                    Some(pat("old")),
                    vec![Op::Store(pat("old")), Op::Erase(Some(pat("stale"))), Op::Get, Op::Get, Op::Get],
                ),
                // Replaced while the old one is erased: the erase of the old PAT must never take
                // the new one with it, whatever the order. Ends with the new one.
                _ => (
                    Some(pat("old")),
                    vec![Op::Store(pat("new")), Op::Store(pat("new")), Op::Erase(Some(pat("old"))), Op::Get, Op::Get],
                ),
            };
            Plan { org, initial, ops }
        })
        .collect()
}

fn op_input(org: &str, op: &Op) -> (&'static str, Vec<u8>) {
    match op {
        Op::Store(pat) => ("store", store_request(org, pat)),
        Op::Get => ("get", request(org, "")),
        Op::Erase(Some(pat)) => ("erase", store_request(org, pat)),
        Op::Erase(None) => ("erase", request(org, "")),
    }
}

/// Run all 50 operations at once and check every outcome against the serializations.
/// `final_state` reads an organization's entry after the run, straight from the store.
fn fifty_in_parallel(env: &TestEnv, final_state: &dyn Fn(&str) -> State) -> usize {
    let plans = plans();
    for plan in &plans {
        if let Some(pat) = &plan.initial {
            store_ok(env, &plan.org, pat);
        }
    }
    let all: Vec<(usize, Op)> =
        plans.iter().enumerate().flat_map(|(i, p)| p.ops.iter().map(move |op| (i, op.clone()))).collect();
    assert_eq!(all.len(), 50);
    let barrier = Barrier::new(all.len());
    let results: Vec<(usize, Op, Run)> = std::thread::scope(|s| {
        let handles: Vec<_> = all
            .iter()
            .map(|(i, op)| {
                let (barrier, plans) = (&barrier, &plans);
                s.spawn(move || {
                    let org = &plans[*i].org;
                    let (verb, input) = op_input(org, op);
                    barrier.wait();
                    let (run, _) = helper_bounded(env, &[verb], &input, LIMIT);
                    (*i, op.clone(), run)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });

    let mut failures = 0;
    for (i, plan) in plans.iter().enumerate() {
        let mine: Vec<&(usize, Op, Run)> = results.iter().filter(|(j, _, _)| *j == i).collect();
        let mut mutations = Vec::new();
        for (_, op, run) in &mine {
            let what = format!("{} {op:?}", plan.org);
            assert_no_panic(run, &what);
            let ok = run.status == 0;
            if ok {
                assert_eq!(run.stderr, "", "{what}: {run:?}");
            } else {
                failures += 1;
                assert_one_line_error(run, &what);
                eprintln!("{what} failed: {}", run.stderr.trim_end());
            }
            if *op != Op::Get {
                mutations.push((op.clone(), ok));
            }
        }
        let (mut seen, mut finals) = (BTreeSet::new(), BTreeSet::new());
        explore(&plan.initial, &mutations, &mut seen, &mut finals);
        for (_, op, run) in mine.iter().filter(|(_, op, _)| *op == Op::Get) {
            let got = answered(run);
            assert!(seen.contains(&got), "{} {op:?} answered {got:?}, possible: {seen:?}", plan.org);
            if got.is_some() {
                assert!(run.stdout.starts_with(&format!("username={}\n", plan.org)), "{}: {run:?}", plan.org);
            }
        }
        let last = final_state(&plan.org);
        assert!(finals.contains(&last), "{}: ends with {last:?}, accounted for: {finals:?}", plan.org);
        // And the helper's own view agrees with the store's.
        let (run, _) = helper_bounded(env, &["get"], &request(&plan.org, ""), LIMIT);
        assert_eq!((answered(&run), run.status), (last, 0), "{}: {run:?}", plan.org);
    }

    // `list` shows exactly the organizations that have a PAT.
    let (run, _) = helper_bounded(env, &["list", "--json"], b"", LIMIT);
    assert_eq!(run.status, 0, "{run:?}");
    let listed: serde_json::Value = serde_json::from_str(&run.stdout).expect("list --json");
    let listed: BTreeSet<String> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|o| o["organization"].as_str().expect("organization").to_owned())
        .collect();
    let stored: BTreeSet<String> =
        plans.iter().filter(|p| final_state(&p.org).is_some()).map(|p| p.org.clone()).collect();
    assert_eq!(listed, stored, "list disagrees with the store");
    failures
}

#[test]
fn fifty_parallel_operations_on_the_file_store_are_all_accounted_for() {
    let env = TestEnv::new();
    let path = env.store_file();
    let orgs: BTreeSet<String> = plans().into_iter().map(|p| p.org).collect();
    let final_state = |org: &str| -> State {
        let doc = read_store(&path);
        for (name, entry) in doc["organizations"].as_object().expect("orgs") {
            assert!(orgs.contains(name), "unknown organization {name} in {doc}");
            let pat = entry["pat"].as_str().expect("pat");
            assert!(pat.ends_with(&format!("-pat-of-{name}")), "{name} holds another organization's PAT: {pat}");
        }
        doc["organizations"][org]["pat"].as_str().map(str::to_owned)
    };
    let failures = fifty_in_parallel(&env, &final_state);
    assert_eq!(failures, 0, "on the file store every operation must succeed");
    assert!(temp_files(path.parent().expect("dir")).is_empty(), "temp files left without any kill");
}

#[test]
fn fifty_parallel_operations_on_the_secret_service_are_all_accounted_for() {
    let Some(env) = TestEnv::with_keyring() else {
        return;
    };
    let ss = env.secret_service.as_ref().expect("secret service");
    let final_state = |org: &str| -> State {
        // Straight from the Secret Service: at most one item, and it is this organization's.
        let service = format!("git-credential-azdo:https://dev.azure.com/{org}");
        let run = ss.secret_tool(&["search", "--all", "service", &service]);
        let items = run.stdout.lines().filter(|l| l.starts_with('[')).count();
        assert!(items <= 1, "{org}: {items} items in the keyring: {run:?}");
        // secret-tool prints the attributes on stderr.
        let user = run.stderr.lines().find_map(|l| l.strip_prefix("attribute.username = "));
        let secret = run.stdout.lines().find_map(|l| l.strip_prefix("secret = ")).map(str::to_owned);
        if let Some(secret) = &secret {
            assert_eq!(user, Some(org), "{org}: {run:?}");
            assert!(secret.ends_with(&format!("-pat-of-{org}")), "{org} holds another organization's PAT: {secret}");
        }
        secret
    };
    let failures = fifty_in_parallel(&env, &final_state);
    eprintln!("Secret Service: {failures} of 50 operations failed (each with one clear line)");
}

/// git erasing the PAT it saw refused while another git process stores the new one (git calls
/// `erase` with the refused PAT): the erase must never take the new PAT with it, and the store
/// must succeed. A race, so it is run a few rounds; the first loss fails the test.
fn an_erase_of_the_old_pat_never_takes_the_new_one(env: &TestEnv, rounds: usize) {
    for round in 0..rounds {
        let old = format!("old-{round}-pat-of-contoso");
        let new = format!("new-{round}-pat-of-contoso");
        store_ok(env, "contoso", &old);
        let barrier = Barrier::new(2);
        let (stored, erased) = std::thread::scope(|s| {
            let run = |verb: &'static str, pat: &str| {
                let (barrier, input) = (&barrier, store_request("contoso", pat));
                s.spawn(move || {
                    barrier.wait();
                    helper_bounded(env, &[verb], &input, LIMIT).0
                })
            };
            let (a, b) = (run("store", &new), run("erase", &old));
            (a.join().expect("store"), b.join().expect("erase"))
        });
        assert_no_panic(&erased, "erase");
        assert_eq!(
            (stored.status, stored.stderr.as_str()),
            (0, ""),
            "round {round}: the store of the new PAT failed: {stored:?}"
        );
        let (run, _) = helper_bounded(env, &["get"], &request("contoso", ""), LIMIT);
        let (list, _) = helper_bounded(env, &["list"], b"", LIMIT);
        assert_eq!(
            answered(&run).as_deref(),
            Some(new.as_str()),
            "round {round}: erase(old) racing store(new) lost the new PAT: get {run:?}, erase {erased:?}, list {list:?}"
        );
    }
}

#[test]
fn an_erase_of_the_old_pat_never_takes_a_new_one_stored_meanwhile_file_store() {
    an_erase_of_the_old_pat_never_takes_the_new_one(&TestEnv::new(), 10);
}

#[test]
fn an_erase_of_the_old_pat_never_takes_a_new_one_stored_meanwhile_secret_service() {
    let Some(env) = TestEnv::with_keyring() else {
        return;
    };
    an_erase_of_the_old_pat_never_takes_the_new_one(&env, 10);
}

// ---------------------------------------------------------------------------------------------
// 3. The keyring daemon killed in the middle of calls
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
    let mut cmd = env.command(BIN);
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
    assert!(!env.store_file().exists(), "fell back to a plaintext file");

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
// 4. A faulty Azure DevOps: dropped connections, slowness, garbage, throttling
// ---------------------------------------------------------------------------------------------

/// What a raw loopback socket does with each connection, for faults the fake does not make.
#[derive(Debug, Clone, Copy)]
enum Raw {
    /// Accept, never read, never answer.
    Silent,
    /// Answer bytes that are not HTTP.
    NotHttp,
    /// Answer headers promising a body, send part of it, then stall.
    Stalled,
    /// Valid JSON of the wrong shape.
    WrongJson,
    /// A JSON-looking body that never ends.
    Endless,
}

fn serve_raw(kind: Raw) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            std::thread::spawn(move || raw_answer(kind, conn));
        }
    });
    url
}

fn read_head(conn: &mut TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
}

/// Hold the connection until the client goes away.
fn hold(mut conn: TcpStream) {
    let mut sink = [0u8; 4096];
    while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
}

fn raw_answer(kind: Raw, mut conn: TcpStream) {
    match kind {
        Raw::Silent => hold(conn),
        Raw::NotHttp => {
            read_head(&mut conn);
            let _ = conn.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff\xfe garbage\r\n\r\n");
        }
        Raw::Stalled => {
            read_head(&mut conn);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"authenticatedUser\":{\"id\":",
            );
            hold(conn);
        }
        Raw::WrongJson => {
            read_head(&mut conn);
            let body = br#"{"authenticatedUser":{"id":{"nested":[1,2,3]},"descriptor":7,"providerDisplayName":null}}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes()).and_then(|()| conn.write_all(body));
        }
        Raw::Endless => {
            read_head(&mut conn);
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
            let chunk = format!("{:x}\r\n{}\r\n", 4096, "[".repeat(4096));
            // Until the client stops reading and closes.
            while conn.write_all(chunk.as_bytes()).is_ok() {}
        }
    }
}

/// Where the fault comes from, and the words its reason must contain (any of them).
struct Case {
    name: String,
    fake_fault: Option<Fault>,
    raw: Option<Raw>,
    reason: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    let fake = |f: Fault, reason: &'static [&'static str]| Case {
        name: format!("fake {f:?}"),
        fake_fault: Some(f),
        raw: None,
        reason,
    };
    let raw = |r: Raw, reason: &'static [&'static str]| Case {
        name: format!("raw {r:?}"),
        fake_fault: None,
        raw: Some(r),
        reason,
    };
    vec![
        fake(Fault::Drop, &["request failed", "closed", "connection"]),
        fake(Fault::Latency(Duration::from_secs(30)), &["timed out"]),
        fake(Fault::Garbage, &["unreadable"]),
        fake(Fault::Throttle { retry_after_secs: 30 }, &["throttling"]),
        fake(Fault::Status(500), &["HTTP 500"]),
        fake(Fault::Status(503), &["HTTP 503", "TF24668"]),
        raw(Raw::Silent, &["timed out"]),
        raw(Raw::NotHttp, &["request failed", "invalid", "HTTP"]),
        raw(Raw::Stalled, &["timed out", "cut off"]),
        raw(Raw::WrongJson, &["names no user"]),
        raw(Raw::Endless, &["unreadable", "cut off", "timed out"]),
    ]
}

/// azdo.timeout for these tests; a hang would be the fault's 30 s or forever.
const NET_TIMEOUT: u64 = 1;

/// A fake with `contoso`, the helper pointed at it (or at the raw socket) with the fault in
/// place, and a valid PAT stored the way git stores one (no check on the way in). Returns the
/// host:port requests go to, and the PAT.
fn faulty_world(case: &Case) -> (FakeAzdo, TestEnv, String, String) {
    let fake = FakeAzdo::start();
    fake.add_org("contoso");
    let pat = fake.add_pat("contoso", "alice@contoso.example", &["vso.code_write"], now() + YEAR).token;
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    env.configure();
    env.set("GIT_CREDENTIAL_AZDO_TIMEOUT", NET_TIMEOUT.to_string());
    env.set("GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL", "0");
    let mut host = fake.url().trim_start_matches("http://").to_owned();
    if let Some(fault) = &case.fake_fault {
        fake.set_fault(fault.clone());
    }
    if let Some(raw) = case.raw {
        let url = serve_raw(raw);
        host = url.trim_start_matches("http://").to_owned();
        for var in ["GIT_CREDENTIAL_AZDO_URL", "GIT_CREDENTIAL_AZDO_VSSPS_URL", "GIT_CREDENTIAL_AZDO_AUTHORITY"] {
            env.set(var, &url);
        }
    }
    let input = format!("protocol=http\nhost={host}\npath=contoso/proj/_git/repo\nusername=alice\npassword={pat}\n\n");
    let (run, _) = helper_bounded(&env, &["store"], input.as_bytes(), LIMIT);
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{}: store: {run:?}", case.name);
    assert_eq!(stored_pat(&env).as_deref(), Some(pat.as_str()), "{}: not stored", case.name);
    (fake, env, host, pat)
}

fn has_reason(text: &str, case: &Case) -> bool {
    case.reason.iter().any(|r| text.contains(r))
}

/// contoso's PAT in the file store, wherever under the data directory the helper keeps the
/// store for this origin.
fn stored_pat(env: &TestEnv) -> Option<String> {
    fn files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, found);
            } else if entry.file_name() == "credentials.json" {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    files(env.store_file().parent().expect("data dir"), &mut found);
    let pats: Vec<String> = found
        .iter()
        .filter_map(|f| read_store(f)["organizations"]["contoso"]["pat"].as_str().map(str::to_owned))
        .collect();
    assert!(pats.len() <= 1, "contoso stored in several files: {found:?}");
    pats.into_iter().next()
}

/// One request's budget plus process start-up on a loaded machine.
fn bound(requests: u64) -> Duration {
    Duration::from_secs(requests * NET_TIMEOUT + 4)
}

#[test]
fn status_under_faults_says_unknown_in_time() {
    for case in cases() {
        let (_fake, env, _host, pat) = faulty_world(&case);
        let (run, took) = helper_bounded(&env, &["status", "contoso"], b"", LIMIT);
        let what = format!("status, {}", case.name);
        assert_no_panic(&run, &what);
        assert!(took < bound(1), "{what}: took {took:?}");
        assert_eq!(run.status, 3, "{what}: {run:?}");
        let last = run.stdout.lines().last().unwrap_or_default();
        assert!(last.starts_with("contoso: unknown: ") && has_reason(last, &case), "{what}: {run:?}");
        eprintln!("{what}: exit 3 in {took:.1?}: {last}");
        assert!(!run.stdout.contains(&pat) && !run.stderr.contains(&pat), "{what}: the PAT was printed");
        assert_eq!(stored_pat(&env).as_deref(), Some(pat.as_str()), "{what}: status must not remove it");
    }
}

#[test]
fn get_with_a_check_due_under_faults_falls_back_to_the_stored_pat_in_time() {
    for case in cases() {
        let (_fake, env, host, pat) = faulty_world(&case);
        let input = format!("protocol=http\nhost={host}\npath=contoso/proj/_git/repo\n\n");
        let (run, took) = helper_bounded(&env, &["get"], input.as_bytes(), LIMIT);
        let what = format!("get, {}", case.name);
        assert_no_panic(&run, &what);
        assert!(took < bound(1), "{what}: took {took:?}");
        assert_eq!(run.status, 0, "{what}: {run:?}");
        assert_eq!(answered(&run).as_deref(), Some(pat.as_str()), "{what}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{what}: {run:?}");
        assert!(
            run.stderr.starts_with("git-credential-azdo: could not check the stored PAT for contoso")
                && has_reason(&run.stderr, &case),
            "{what}: {run:?}"
        );
        assert!(!run.stderr.contains(&pat), "{what}: the PAT was printed");
        assert_eq!(stored_pat(&env).as_deref(), Some(pat.as_str()), "{what}: the PAT must be kept");
        eprintln!("{what}: answered the stored PAT in {took:.1?}: {}", run.stderr.trim_end());
    }
}

#[test]
fn doctor_under_faults_reports_in_time() {
    for case in cases() {
        let (_fake, env, _host, pat) = faulty_world(&case);
        let (run, took) = helper_bounded(&env, &["doctor"], b"", LIMIT);
        let what = format!("doctor, {}", case.name);
        assert_no_panic(&run, &what);
        // Three endpoint probes and one check, each within azdo.timeout.
        assert!(took < bound(4), "{what}: took {took:?}");
        assert!(!run.stdout.contains(&pat) && !run.stderr.contains(&pat), "{what}: the PAT was printed");
        let warning = run.stdout.lines().find(|l| l.starts_with("warning  contoso: could not check the stored PAT: "));
        assert!(warning.is_some_and(|l| has_reason(l, &case)), "{what}: {run:?}");
        let problems: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("problem")).collect();
        eprintln!("{what}: exit {} in {took:.1?}: {} {problems:?}", run.status, warning.unwrap_or_default());
        if case.raw.is_some() {
            // The endpoints themselves are broken: each is a problem with a fix, exit 1.
            for endpoint in ["Azure DevOps", "identity service", "Entra ID"] {
                let line = format!("problem  {endpoint}: ");
                let answers = run.stdout.lines().any(|l| l.starts_with(&format!("ok       {endpoint}: ")));
                assert!(run.stdout.contains(&line) || answers, "{what}: {endpoint} not reported: {run:?}");
            }
            assert!(run.status == 0 || run.status == 1, "{what}: {run:?}");
        } else {
            // The fake's endpoints answer; only the check is faulty, which is a warning.
            assert_eq!(run.status, 0, "{what}: {run:?}");
        }
        assert_eq!(stored_pat(&env).as_deref(), Some(pat.as_str()), "{what}: doctor must not remove it");
    }
}
