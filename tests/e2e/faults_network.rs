//! A faulty Azure DevOps: a fake (or a raw loopback socket) that drops connections, answers
//! slowly, answers garbage or throttles, for `status`, `get` and `doctor`, which must answer in
//! time and keep the stored PAT. Every helper run here is bounded in time
//! (tests/common/bounded.rs): a hang fails the test instead of hanging it, and no run may panic.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::common;
use crate::common::bounded::{assert_no_panic, helper_bounded, now, LIMIT, YEAR};
use crate::common::faults::{answered, read_store};
use crate::common::TestEnv;
use fake_azdo::{FakeAzdo, Fault};

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
        fake(Fault::Latency(hang()), &["timed out"]),
        fake(Fault::Garbage, &["unreadable"]),
        fake(Fault::Throttle { retry_after_secs: hang().as_secs() }, &["throttling"]),
        fake(Fault::Status(500), &["HTTP 500"]),
        fake(Fault::Status(503), &["HTTP 503", "TF24668"]),
        raw(Raw::Silent, &["timed out"]),
        raw(Raw::NotHttp, &["request failed", "invalid", "HTTP"]),
        raw(Raw::Stalled, &["timed out", "cut off"]),
        raw(Raw::WrongJson, &["names no user"]),
        raw(Raw::Endless, &["unreadable", "cut off", "timed out"]),
    ]
}

/// azdo.timeout for these tests, in seconds; a hang would be the fault's [`hang`] or forever.
/// Under an emulator the helper may take longer than a second to read a reply the fake sends at
/// once.
fn net_timeout() -> u64 {
    if common::emulated().is_some() {
        5
    } else {
        1
    }
}

/// How long the fake's slow faults last (its latency, the wait a throttle asks for): far past
/// [`bound`] and [`limit`], so a helper that waits for the fault instead of giving up at its
/// timeout fails the test.
fn hang() -> Duration {
    Duration::from_secs(if common::emulated().is_some() { 300 } else { 30 })
}

/// When a run is killed: past [`bound`] for the most requests a run here makes, so a slow run
/// fails with how long it took, and short of [`hang`].
fn limit() -> Duration {
    if common::emulated().is_some() {
        Duration::from_secs(150)
    } else {
        LIMIT
    }
}

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
    env.set("GIT_CREDENTIAL_AZDO_TIMEOUT", net_timeout().to_string());
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
    let (run, _) = helper_bounded(&env, &["store"], input.as_bytes(), limit());
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
            if entry.file_name() == "credentials.json.d" {
                found.push(path.with_file_name("credentials.json"));
            } else if path.is_dir() {
                files(&path, found);
            } else if entry.file_name() == "credentials.json" {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    files(env.store_file().parent().expect("data dir"), &mut found);
    found.sort();
    found.dedup();
    let pats: Vec<String> = found
        .iter()
        .filter_map(|f| read_store(f)["organizations"]["contoso"]["pat"].as_str().map(str::to_owned))
        .collect();
    assert!(pats.len() <= 1, "contoso stored in several files: {found:?}");
    pats.into_iter().next()
}

/// `requests` requests' budget plus process start-up on a loaded machine. Under an emulator a
/// debug build takes seconds to start, and more while the other lanes load both cores (one run
/// took 16 s for one 5 s timeout), so there the bound only tells giving up at the timeout from
/// waiting for the fault's [`hang`]; the native run holds the helper to the timeout itself.
fn bound(requests: u64) -> Duration {
    let startup = if common::emulated().is_some() { 60 } else { 4 };
    Duration::from_secs(requests * net_timeout() + startup)
}

#[test]
fn status_under_faults_says_unknown_in_time() {
    if !common::has_git() {
        return;
    }
    for case in cases() {
        let (_fake, env, _host, pat) = faulty_world(&case);
        let (run, took) = helper_bounded(&env, &["status", "contoso"], b"", limit());
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
    if !common::has_git() {
        return;
    }
    for case in cases() {
        let (_fake, env, host, pat) = faulty_world(&case);
        let input = format!("protocol=http\nhost={host}\npath=contoso/proj/_git/repo\n\n");
        let (run, took) = helper_bounded(&env, &["get"], input.as_bytes(), limit());
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
    if !common::has_git() {
        return;
    }
    for case in cases() {
        let (_fake, env, _host, pat) = faulty_world(&case);
        let (run, took) = helper_bounded(&env, &["doctor"], b"", limit());
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
