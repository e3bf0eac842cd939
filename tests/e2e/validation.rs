//! Validation against a faithful fake of Azure DevOps, with real `git clone`, `fetch` and `push`
//! over smart HTTP (`git http-backend` behind the fake) driving the helper.

use std::time::{Duration, Instant};

use crate::common;
use crate::common::bounded::{now, YEAR};
use crate::common::{Run, TestEnv};
use fake_azdo::{FakeAzdo, Fault, Route};

struct World {
    fake: FakeAzdo,
    env: TestEnv,
}

/// A fake with org `contoso`, repo `proj/repo`, and a helper configured for it.
fn world() -> World {
    let fake = FakeAzdo::start();
    fake.add_org("contoso");
    fake.add_repo("contoso", "proj", "repo");
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    World { fake, env }
}

impl World {
    fn pat(&self) -> String {
        self.fake.add_pat("contoso", "alice@contoso.example", &["vso.code_write"], now() + YEAR).token
    }

    fn git_in(&self, dir: &str, args: &[&str]) -> Run {
        let mut all = vec!["-C", dir];
        all.extend_from_slice(args);
        self.env.git(&all, b"")
    }

    fn clone(&self, url: &str, into: &str) -> Run {
        self.env.git(&["clone", "-q", url, &self.env.home.join(into).to_string_lossy()], b"")
    }

    fn dir(&self, name: &str) -> String {
        self.env.home.join(name).to_string_lossy().into_owned()
    }

    /// Make the stored check look `secs` old, as if time had passed.
    fn age_checks(&self, secs: i64) {
        let path = self.env.store_file();
        let mut doc = common::store_doc(&path);
        for entry in doc["organizations"].as_object_mut().expect("orgs").values_mut() {
            for key in ["last_validated", "last_checked"] {
                if let Some(t) = entry[key].as_i64() {
                    entry[key] = (t - secs).into();
                }
            }
        }
        common::write_store(&path, &doc);
    }

    fn stored_pat(&self) -> Option<String> {
        let doc = common::store_doc(&self.env.store_file());
        doc["organizations"]["contoso"]["pat"].as_str().map(str::to_owned)
    }

    #[cfg(unix)]
    fn askpass(&mut self, answer: &str) {
        let script = self.env.script("askpass", &format!("echo '{answer}'"));
        self.env.set("GIT_ASKPASS", script);
        self.env.unset("GIT_TERMINAL_PROMPT");
    }
}

#[test]
fn clone_and_push_through_the_helper_for_each_url_form() {
    if !common::has_git() {
        return;
    }
    let w = world();
    let pat = w.pat();
    w.env.login("contoso", &pat);
    let port_url = w.fake.url();
    let user_form = port_url.replacen("://", "://contoso@", 1) + "/contoso/proj/_git/repo";
    for (i, url) in
        [w.fake.repo_url("contoso", "proj", "repo"), user_form, format!("{port_url}/Contoso/proj/_git/repo")]
            .iter()
            .enumerate()
    {
        let dir = format!("clone{i}");
        let run = w.clone(url, &dir);
        assert_eq!(run.status, 0, "clone {url}: {run:?}");
        assert!(w.env.home.join(&dir).join("README.md").exists());
        std::fs::write(w.env.home.join(&dir).join(format!("file{i}")), "x").expect("write");
        assert_eq!(w.git_in(&w.dir(&dir), &["add", "."]).status, 0);
        assert_eq!(w.git_in(&w.dir(&dir), &["commit", "-qm", "change"]).status, 0);
        let run = w.git_in(&w.dir(&dir), &["pull", "-q", "--rebase"]);
        assert_eq!(run.status, 0, "pull {url}: {run:?}");
        let run = w.git_in(&w.dir(&dir), &["push", "-q", "origin", "HEAD:main"]);
        assert_eq!(run.status, 0, "push {url}: {run:?}");
    }
    assert_eq!(w.stored_pat().as_deref(), Some(pat.as_str()));
}

#[test]
fn the_hot_path_sends_no_request_while_the_check_is_fresh() {
    if !common::has_git() {
        return;
    }
    let w = world();
    w.env.login("contoso", &w.pat());
    assert_eq!(w.fake.count(Route::ConnectionData), 1, "login checks the PAT once");
    w.fake.reset_counts();
    let url = w.fake.repo_url("contoso", "proj", "repo");
    for _ in 0..5 {
        let run = w.env.fill(&url);
        assert!(run.stdout.contains("password="), "{run:?}");
    }
    assert_eq!(w.clone(&url, "c").status, 0);
    assert_eq!(w.git_in(&w.dir("c"), &["fetch", "-q"]).status, 0);
    assert_eq!(w.fake.count(Route::ConnectionData), 0, "a fresh check must not be repeated");
    assert!(w.fake.count(Route::Git) > 0);
}

#[test]
fn a_due_check_is_one_request_and_is_recorded() {
    if !common::has_git() {
        return;
    }
    let w = world();
    w.env.login("contoso", &w.pat());
    w.age_checks(2 * 3600);
    w.fake.reset_counts();
    let url = w.fake.repo_url("contoso", "proj", "repo");
    assert!(w.env.fill(&url).stdout.contains("password="));
    assert_eq!(w.fake.count(Route::ConnectionData), 1);
    assert!(w.env.fill(&url).stdout.contains("password="));
    assert_eq!(w.fake.count(Route::ConnectionData), 1, "the check was not recorded");
}

#[cfg(unix)]
#[test]
fn a_revoked_pat_is_replaced_within_the_same_fetch() {
    let mut w = world();
    let old = w.pat();
    w.env.login("contoso", &old);
    let url = w.fake.repo_url("contoso", "proj", "repo");
    assert_eq!(w.clone(&url, "c").status, 0);
    w.fake.revoke_pat(&old);
    w.age_checks(2 * 3600);
    let new = w.pat();
    w.askpass(&new);
    let run = w.git_in(&w.dir("c"), &["fetch"]);
    assert_eq!(run.status, 0, "fetch after revocation: {run:?}");
    assert!(run.stderr.contains("no longer valid"), "{run:?}");
    assert_eq!(w.stored_pat().as_deref(), Some(new.as_str()), "the new PAT is kept after git confirmed it");
    assert!(!common::store_text(&w.env.store_file()).contains(&old), "the dead PAT is gone");
}

#[cfg(unix)]
#[test]
fn with_checks_on_every_get_a_revoked_pat_never_reaches_git() {
    let mut w = world();
    w.env.set("GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL", "0");
    let old = w.pat();
    w.env.login("contoso", &old);
    w.fake.revoke_pat(&old);
    let new = w.pat();
    w.askpass(&new);
    let run = w.clone(&w.fake.repo_url("contoso", "proj", "repo"), "c");
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(w.stored_pat().as_deref(), Some(new.as_str()));
}

#[cfg(unix)]
#[test]
fn an_expired_pat_is_replaced() {
    let mut w = world();
    let old = w.pat();
    w.env.login("contoso", &old);
    w.fake.expire_pat(&old);
    w.age_checks(2 * 3600);
    let new = w.pat();
    w.askpass(&new);
    let run = w.clone(&w.fake.repo_url("contoso", "proj", "repo"), "c");
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stderr.contains("has expired"), "the service's reason is passed on: {run:?}");
    assert_eq!(w.stored_pat().as_deref(), Some(new.as_str()));
}

#[test]
fn a_known_expiry_needs_no_request() {
    if !common::has_git() {
        return;
    }
    let w = world();
    let expiry = now() + 100;
    let q = format!(
        "protocol=http\nhost={}\npath=contoso/proj/_git/repo\nusername=u\npassword=old-pat\npassword_expiry_utc={expiry}\n",
        w.fake.url().trim_start_matches("http://"),
    );
    assert_eq!(w.env.helper(&["store"], q.as_bytes()).status, 0);
    w.age_checks(2 * 3600);
    // Expire it locally: rewrite the expiry into the past.
    let path = w.env.store_file();
    let text = common::store_doc(&path).to_string().replace(&expiry.to_string(), "1000");
    common::write_store(&path, &serde_json::from_str(&text).expect("json"));
    w.fake.reset_counts();
    let run = w.env.fill(&w.fake.repo_url("contoso", "proj", "repo"));
    assert!(!run.stdout.contains("old-pat"), "{run:?}");
    assert_eq!(w.fake.count(Route::ConnectionData), 0);
    assert_eq!(w.stored_pat(), None);
}

#[test]
fn outages_keep_the_stored_pat_and_git_decides() {
    if !common::has_git() {
        return;
    }
    for fault in
        [Fault::Throttle { retry_after_secs: 30 }, Fault::Status(503), Fault::Status(500), Fault::Drop, Fault::Garbage]
    {
        let w = world();
        let pat = w.pat();
        w.env.login("contoso", &pat);
        w.age_checks(2 * 3600);
        w.fake.set_fault(fault.clone());
        let run = w.clone(&w.fake.repo_url("contoso", "proj", "repo"), "c");
        assert_eq!(run.status, 0, "{fault:?}: {run:?}");
        assert!(run.stderr.contains("could not check"), "{fault:?}: {run:?}");
        assert_eq!(w.stored_pat().as_deref(), Some(pat.as_str()), "{fault:?}: the PAT must be kept");
        // One try per interval: the next command does not ask again.
        w.fake.reset_counts();
        assert_eq!(w.git_in(&w.dir("c"), &["fetch", "-q"]).status, 0);
        assert_eq!(w.fake.count(Route::ConnectionData), 0, "{fault:?}");
    }
}

#[test]
fn an_unreachable_service_keeps_the_stored_pat() {
    let mut w = world();
    // Nothing listens there: connection refused. The PAT is stored for that origin (a stored
    // PAT is only ever served on the origin it was stored for).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    w.env.set("GIT_CREDENTIAL_AZDO_URL", &dead_url);
    w.env.login("contoso", &w.pat());
    w.age_checks(2 * 3600);
    let q = format!("protocol=http\nhost={}\npath=contoso/p/_git/r\n", dead_url.trim_start_matches("http://"));
    let started = Instant::now();
    let run = w.env.helper(&["get"], q.as_bytes());
    assert!(started.elapsed() < Duration::from_secs(5) + crate::common::emulation_slack());
    assert!(run.stdout.contains("password="), "{run:?}");
    assert!(run.stderr.contains("cannot connect"), "{run:?}");
}

#[test]
fn a_public_orgs_anonymous_answer_is_not_taken_as_valid() {
    let w = world();
    w.fake.set_public("contoso", true);
    let run = w.env.helper(&["login", "contoso", "--pat-stdin"], b"not-a-real-pat");
    assert_eq!(run.status, 1, "{run:?}");
    assert!(run.stderr.contains("anonymously"), "{run:?}");
    assert_eq!(w.stored_pat(), None);
}

#[test]
fn a_slow_service_cannot_hold_git_past_the_timeout() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.env.login("contoso", &w.pat());
    w.age_checks(2 * 3600);
    w.env.set("GIT_CREDENTIAL_AZDO_TIMEOUT", "1");
    w.fake.set_fault(Fault::Latency(Duration::from_secs(30)));
    let started = Instant::now();
    let run = w.env.fill(&w.fake.repo_url("contoso", "proj", "repo"));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4) + crate::common::emulation_slack(), "took {took:?}");
    assert!(run.stdout.contains("password="), "{run:?}");
    assert!(run.stderr.contains("timed out"), "{run:?}");
}

#[test]
fn a_short_retry_after_is_honoured_within_the_budget() {
    if !common::has_git() {
        return;
    }
    let w = world();
    w.env.login("contoso", &w.pat());
    w.age_checks(2 * 3600);
    w.fake.set_fault(Fault::Throttle { retry_after_secs: 1 });
    w.fake.reset_counts();
    let started = Instant::now();
    let run = w.env.fill(&w.fake.repo_url("contoso", "proj", "repo"));
    assert!(run.stdout.contains("password="), "{run:?}");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was not waited for");
    assert_eq!(w.fake.count(Route::ConnectionData), 2, "one request, one retry");
    assert!(run.stderr.contains("throttling"), "{run:?}");
}

#[test]
fn status_exit_codes_tell_valid_invalid_and_unknown() {
    let w = world();
    let pat = w.pat();
    w.env.login("contoso", &pat);
    let run = w.env.helper(&["status", "contoso"], b"");
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("valid") && run.stdout.contains("alice"), "{run:?}");
    w.fake.set_fault(Fault::Status(503));
    let run = w.env.helper(&["status", "contoso"], b"");
    assert_eq!(run.status, 3, "{run:?}");
    assert!(run.stdout.contains("unknown"), "{run:?}");
    w.fake.set_fault(Fault::None);
    w.fake.revoke_pat(&pat);
    let run = w.env.helper(&["status", "contoso"], b"");
    assert_eq!(run.status, 1, "{run:?}");
    assert!(run.stdout.contains("invalid"), "{run:?}");
    assert!(!run.stdout.contains(&pat) && !run.stderr.contains(&pat));
    assert_eq!(w.stored_pat().as_deref(), Some(pat.as_str()), "status reports, it does not delete");
}

#[test]
fn doctor_reports_each_stored_pat() {
    if !common::has_git() {
        return;
    }
    let w = world();
    let pat = w.pat();
    w.env.login("contoso", &pat);
    w.env.configure();
    let run = w.env.helper(&["doctor"], b"");
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("contoso: stored PAT is valid"), "{run:?}");
    w.fake.revoke_pat(&pat);
    let run = w.env.helper(&["doctor"], b"");
    assert_eq!(run.status, 1, "{run:?}");
    assert!(run.stdout.contains("problem  contoso: stored PAT is refused"), "{run:?}");
    assert!(run.stdout.contains("fix: git credential-azdo login contoso"), "{run:?}");
}

#[cfg(unix)]
#[test]
fn azure_devops_server_collection_flow() {
    let fake = FakeAzdo::start();
    fake.add_org("coll");
    fake.add_repo("coll", "proj", "repo");
    let old = fake.add_pat("coll", "bob@corp.example", &["vso.code_write"], now() + YEAR).token;
    let mut env = TestEnv::new();
    let collection = format!("{}/Coll", fake.url());
    env.set("GIT_CREDENTIAL_AZDO_SERVER", &collection);
    env.unset("GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL");
    env.configure();
    let listed = env.git(&["config", "--global", "--get-all", &format!("credential.{}.helper", fake.url())], b"");
    assert!(listed.stdout.ends_with(&format!("{}\n", common::bin())), "configure skipped the server: {listed:?}");

    let run = env.helper(&["login", &collection, "--pat-stdin"], old.as_bytes());
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stderr.contains("accepts this PAT"), "{run:?}");
    assert_eq!(fake.count(Route::ConnectionData), 1, "validation goes to the collection");
    let list = env.helper(&["list"], b"");
    let key = collection.to_ascii_lowercase();
    assert!(list.stdout.contains(&key), "{list:?}");

    let url = fake.repo_url("coll", "proj", "repo");
    let run = env.git(&["clone", "-q", &url, &env.home.join("c").to_string_lossy()], b"");
    assert_eq!(run.status, 0, "{run:?}");

    // A revoked PAT is replaced there too (checks on every get for this test).
    fake.revoke_pat(&old);
    let new = fake.add_pat("coll", "bob@corp.example", &["vso.code_write"], now() + YEAR).token;
    env.set("GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL", "0");
    let script = env.script("askpass", &format!("echo '{new}'"));
    env.set("GIT_ASKPASS", script);
    env.unset("GIT_TERMINAL_PROMPT");
    let run = env.git(&["-C", &env.home.join("c").to_string_lossy(), "fetch", "-q"], b"");
    assert_eq!(run.status, 0, "{run:?}");
    let stored = common::store_text(&env.store_file());
    assert!(stored.contains(&new) && !stored.contains(&old), "{stored}");
    let prompt_seen = run.stderr.contains("no longer valid");
    assert!(prompt_seen, "{run:?}");
}

#[test]
fn git_http_proxy_is_used_for_checks() {
    if !common::has_git() {
        return;
    }
    use std::io::{BufRead, BufReader, Write};
    let w = world();
    let env = w.env;
    env.login("contoso", &w.fake.add_pat("contoso", "a@b.example", &["vso.code"], now() + YEAR).token);
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let proxy_url = format!("http://{}", proxy.local_addr().expect("addr"));
    let seen = std::thread::spawn(move || {
        let (stream, _) = proxy.accept().expect("accept");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut first = String::new();
        reader.read_line(&mut first).expect("read");
        let mut stream = stream;
        let _ = stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        first
    });
    assert_eq!(env.git(&["config", "--global", "http.proxy", &proxy_url], b"").status, 0);
    let run = env.helper(&["status", "contoso"], b"");
    assert_eq!(run.status, 3, "{run:?}");
    assert!(run.stdout.contains("HTTP 502"), "{run:?}");
    let first = seen.join().expect("proxy");
    assert!(first.starts_with(&format!("GET {}/contoso/_apis/connectionData", w.fake.url())), "{first}");
}

#[test]
fn with_a_custom_origin_real_dev_azure_com_pats_never_go_there() {
    let w = world();
    // A PAT git confirmed for the real service…
    let q = b"protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\nusername=u\npassword=REAL-SERVICE-PAT\n";
    let run = w.env.helper(&["store"], q);
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
    // …is neither stored under the fake's origin nor ever sent there.
    let run = w.env.helper(&["get"], b"protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n");
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""), "{run:?}");
    assert_eq!(w.fake.count(Route::ConnectionData), 0);
    assert_eq!(w.stored_pat(), None);
}

#[test]
fn another_origin_keeps_its_pats_apart_from_the_real_services() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    // A PAT for the real service's contoso, stored without azdo.url…
    let mut real = TestEnv::new();
    real.set("HOME", &w.env.home);
    real.set("XDG_DATA_HOME", w.env.home.join(".local/share"));
    real.login("contoso", "REAL-SERVICE-PAT");
    let real_file = w.env.store_file();
    let before = common::store_bytes(&real_file).expect("real store");
    // …is neither used nor overwritten for the fake's contoso.
    w.env.unset("GIT_CREDENTIAL_AZDO_STORE_FILE");
    let fake_pat = w.pat();
    w.env.login("contoso", &fake_pat);
    let run = w.env.fill(&w.fake.repo_url("contoso", "proj", "repo"));
    assert!(run.stdout.contains(&format!("password={fake_pat}")), "{run:?}");
    assert_eq!(common::store_bytes(&real_file).expect("real store"), before, "the real service's store was touched");
    assert!(w.fake.count(Route::ConnectionData) >= 1);
}

/// A server that answers every request with `reply` (raw HTTP), until the test ends.
fn raw_server(reply: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut conn = conn;
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && std::io::Read::read(&mut conn, &mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let _ = std::io::Write::write_all(&mut conn, reply.as_bytes());
        }
    });
    url
}

/// Hole 6: server text that quotes the PAT just sent (an `X-TFS-ServiceError`, a display name)
/// never shows it, on `status`, on `doctor` or in the trace.
#[test]
fn server_text_quoting_the_pat_is_redacted() {
    const PAT: &str = "quotedPAT0123456789abcdefQUOTED";
    let refused = format!(
        "HTTP/1.1 401 Unauthorized\r\nX-TFS-ServiceError: Access%20denied%20for%20{PAT}\r\nActivityId: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let body = format!(
        r#"{{"authenticatedUser":{{"id":"11111111-1111-1111-1111-111111111111","providerDisplayName":"Eve {PAT}"}}}}"#
    );
    let accepted = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    for reply in [refused, accepted] {
        let mut env = TestEnv::new();
        let url = raw_server(reply);
        // Every endpoint on loopback: doctor probes them all.
        for var in ["GIT_CREDENTIAL_AZDO_URL", "GIT_CREDENTIAL_AZDO_VSSPS_URL", "GIT_CREDENTIAL_AZDO_AUTHORITY"] {
            env.set(var, &url);
        }
        env.set("GIT_CREDENTIAL_AZDO_STORE_FILE", env.store_file());
        env.login("contoso", PAT);
        env.unset("GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL");
        let trace = env.root.path().join("trace.log");
        env.set("GIT_CREDENTIAL_AZDO_TRACE", &trace);
        for args in [&["status", "contoso"][..], &["doctor"][..]] {
            let run = env.helper(args, b"");
            assert!(!run.stdout.contains(PAT) && !run.stderr.contains(PAT), "{args:?}: the PAT was shown: {run:?}");
            assert!(run.stdout.contains("***"), "{args:?}: the server's text is shown, redacted: {run:?}");
        }
        let text = std::fs::read_to_string(&trace).unwrap_or_default();
        assert!(!text.contains(PAT), "the PAT is in the trace");
    }
}
