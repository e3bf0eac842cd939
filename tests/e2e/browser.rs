//! Browser sign-in (authorization code + PKCE, loopback redirect) end to end with real git
//! against the fake: a real headless Chromium as `BROWSER`, and the scripted browser
//! (tests/common/browser.rs) for the ways a sign-in goes wrong.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::{Run, TestEnv};
use fake_azdo::{DeviceFlow, FakeAzdo, Route};

const UPN: &str = "alice@contoso.example";

struct World {
    fake: FakeAzdo,
    env: TestEnv,
}

/// A fake with `contoso/proj/repo` and a helper that may mint with `azdo.tokenSource=auto`
/// (no Azure CLI against a test authority; no terminal, so no device code for `get`), prompts
/// on, with an askpass that answers nothing.
fn world() -> World {
    let fake = FakeAzdo::start();
    fake.add_repo("contoso", "proj", "repo");
    fake.set_device_flow_timing(0, 900);
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    env.set("GIT_CREDENTIAL_AZDO_MINT", "auto");
    env.unset("GIT_TERMINAL_PROMPT");
    let silent = common::silent_askpass(&env);
    env.set("GIT_ASKPASS", silent);
    World { fake, env }
}

impl World {
    fn url(&self) -> String {
        self.fake.repo_url("contoso", "proj", "repo")
    }

    fn clone(&self, into: &str) -> Run {
        self.env.git(&["clone", "-q", &self.url(), &self.env.home.join(into).to_string_lossy()], b"")
    }

    fn stored(&self) -> serde_json::Value {
        common::store_doc(&self.env.store_file())
    }

    fn stored_pat(&self) -> Option<String> {
        self.stored()["organizations"]["contoso"]["pat"].as_str().map(str::to_owned)
    }

    /// The scripted browser (tests/common/browser.rs), with `tweak` applied to the fields
    /// first. It writes `marker` when it runs.
    fn scripted_browser(&self, tweak: &str) -> (PathBuf, PathBuf) {
        self.scripted_browser_as("python3", tweak)
    }

    /// [`World::scripted_browser`], its Python started by `python` (a command line: another
    /// user's, say).
    fn scripted_browser_as(&self, python: &str, tweak: &str) -> (PathBuf, PathBuf) {
        common::browser::scripted(&self.env, python, tweak)
    }
}

/// Chromium started by the helper through the wrapper, killed (its whole session) on drop.
struct Chromium {
    pid_file: PathBuf,
}

impl Chromium {
    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(&self.pid_file).ok()?.trim().parse().ok()
    }

    fn alive(pid: i32) -> bool {
        std::process::Command::new("kill").args(["-0", "--", &format!("-{pid}")]).status().is_ok_and(|s| s.success())
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let Some(pid) = self.pid() else { return };
        // The wrapper made Chromium the leader of its own session and process group: the group
        // holds the browser and every helper process it started.
        let _ = std::process::Command::new("kill").args(["-TERM", "--", &format!("-{pid}")]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Chromium::alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
    }
}

/// The real-browser test: the first clone with nothing stored signs in through headless
/// Chromium (authorize page → `form_post` → the helper's loopback listener) and mints one PAT;
/// the second clone is silent. It runs in a private network namespace, so Chromium can reach
/// nothing but loopback; within it, a proxy that does not exist catches any other request.
#[test]
fn a_first_clone_signs_in_through_a_real_browser_and_mints_one_pat() {
    common::sandbox::isolated("a_first_clone_signs_in_through_a_real_browser_and_mints_one_pat", || {
        if !common::require(&["chromium", "setsid"]) {
            return;
        }
        let started = Instant::now();
        let mut w = world();
        w.fake.approve_browser_sign_in(UPN);
        let dir = w.env.root.path().join("chromium");
        std::fs::create_dir_all(dir.join("profile")).expect("profile dir");
        let pid_file = dir.join("pid");
        let wrapper = w.env.script(
            "chromium.sh",
            &format!(
                "echo $$ > '{pid}'\nexec setsid chromium --headless --no-sandbox --disable-gpu --disable-quic \
                 --no-first-run --disable-background-networking --disable-component-update --disable-sync \
                 --disable-default-apps --disable-extensions --no-default-browser-check \
                 --proxy-server=http://127.0.0.1:9 --host-resolver-rules='MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1' \
                 --user-data-dir='{profile}' \"$1\"",
                pid = pid_file.display(),
                profile = dir.join("profile").display()
            ),
        );
        let _chromium = Chromium { pid_file: pid_file.clone() };
        w.env.set("BROWSER", &wrapper);
        let trace = w.env.root.path().join("trace.log");
        w.env.set("GIT_CREDENTIAL_AZDO_TRACE", &trace);
        w.env.set("GIT_CREDENTIAL_AZDO_BROWSER_TIMEOUT", "120");
        let run = w.clone("c1");
        let first = started.elapsed();
        assert_eq!(run.status, 0, "{run:?}");
        assert!(pid_file.exists(), "the helper started the browser");
        let auth = w.fake.authorize_requests();
        assert_eq!(auth.len(), 1, "one authorize request: {auth:?}");
        let a = &auth[0];
        assert_eq!(a.response_type, "code");
        assert_eq!(a.response_mode, "form_post");
        assert_eq!(a.code_challenge_method.as_deref(), Some("S256"));
        assert_eq!(a.prompt.as_deref(), Some("select_account"));
        assert!(a.redirect_uri.starts_with("http://localhost:") && a.redirect_uri.ends_with('/'), "{}", a.redirect_uri);
        assert_eq!(a.scope, "499b84ac-1321-427f-aa17-267ca6975798/.default offline_access");
        assert_eq!(w.fake.code_grants(), (1, 1), "one code redeemed, with the right verifier");
        assert_eq!(w.fake.count(Route::PatCreate), 1, "exactly one mint");
        assert_eq!(w.fake.count(Route::DeviceCode), 0, "no device code");
        let minted = w.fake.minted("contoso");
        assert_eq!(w.stored_pat().as_deref(), Some(minted[0].token.as_str()));
        // The second clone is silent: no browser, no sign-in, no mint.
        let run2 = w.clone("c2");
        assert_eq!(run2.status, 0, "{run2:?}");
        assert_eq!((w.fake.authorize_requests().len(), w.fake.count(Route::PatCreate)), (1, 1));
        // No code, verifier, token or PAT in any output, trace or file but the store.
        let mut secrets = w.fake.issued_entra_tokens();
        secrets.extend(w.fake.code_verifiers());
        secrets.push(minted[0].token.clone());
        assert!(secrets.len() >= 4, "{secrets:?}");
        let trace_text = std::fs::read_to_string(&trace).expect("trace");
        assert!(trace_text.contains("browser sign-in redirected with a code"), "{trace_text}");
        let profile = dir.join("profile");
        for (what, text) in
            [("stdout", &run.stdout), ("stderr", &run.stderr), ("stdout 2", &run2.stdout), ("trace", &trace_text)]
        {
            for s in &secrets {
                assert!(!text.contains(s.as_str()), "a secret in {what}");
            }
        }
        for file in common::walk(w.env.root.path()) {
            // The store holds the PAT and the refresh token; Chromium's profile saw the code (it
            // carried it, as any browser does) and is the browser's own.
            let store = w.env.store_file();
            if file == store || file.starts_with(common::org_dir(&store)) || file.starts_with(&profile) {
                continue;
            }
            let bytes = std::fs::read(&file).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            for s in &secrets {
                assert!(!text.contains(s.as_str()), "a secret in {}", file.display());
            }
        }
        eprintln!("real-browser sign-in: first clone {first:?}, whole test {:?}", started.elapsed());
        drop(_chromium);
        let pid = std::fs::read_to_string(&pid_file).expect("pid").trim().parse::<i32>().expect("pid");
        assert!(!Chromium::alive(pid), "chromium is gone");
    });
}

#[test]
fn a_redirect_with_the_wrong_state_redeems_nothing_and_stores_nothing() {
    let mut w = world();
    w.fake.approve_browser_sign_in(UPN);
    let (browser, marker) = w.scripted_browser("fields['state'] = 'not-the-state'");
    w.env.set("BROWSER", &browser);
    w.env.set("GIT_CREDENTIAL_AZDO_BROWSER_TIMEOUT", "3");
    let started = Instant::now();
    let run = w.clone("c1");
    assert_ne!(run.status, 0, "{run:?}");
    assert!(marker.exists(), "the browser ran");
    assert!(started.elapsed() < Duration::from_secs(30), "bounded: {:?}", started.elapsed());
    assert!(run.stderr.contains("wrong state was ignored"), "{run:?}");
    assert_eq!(w.fake.code_grants(), (0, 0), "nothing redeemed");
    assert_eq!(w.fake.count(Route::PatCreate), 0);
    assert!(w.stored_pat().is_none(), "nothing stored");
}

/// Under CI this runs as root; elsewhere a two-user case without root is skipped, saying so.
fn two_users() -> bool {
    if common::is_root() && common::require(&["setpriv"]) {
        return true;
    }
    assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "under CI this test runs as root");
    eprintln!("SKIPPED: needs root (and setpriv) to act as another user");
    false
}

/// What another local user (uid 65534) runs: `setpriv` to that user, then Python.
const AS_ANOTHER_USER: &str = "'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '/usr/bin/python3'";

/// A tweak of the scripted browser: this user's browser got the authorize page (and its form,
/// with a valid code and the right `state`); another user sends the redirect, with `send` (Python
/// run as that user on `action`, `body`), and the browser ends well.
fn handed_to_another_user(send: &str) -> String {
    format!(
        r#"import subprocess
send = """import socket, struct, sys, time, urllib.parse, urllib.request
action, body = sys.argv[1], sys.argv[2]
{send}
"""
subprocess.run([{AS_ANOTHER_USER}, '-c', send, html.unescape(action.group(1)), urllib.parse.urlencode(fields)], timeout=30)
sys.exit(0)"#
    )
}

#[test]
fn a_redirect_sent_by_another_user_is_ignored() {
    // Another local user who has the sign-in's state (and a code for their own account) sends
    // the redirect to the listener: it must not be redeemed.
    if !two_users() {
        return;
    }
    let mut w = world();
    w.fake.approve_browser_sign_in(UPN);
    let tweak = handed_to_another_user(
        "try:\n    urllib.request.urlopen(action, data=body.encode(), timeout=10).read()\n\
         except Exception as e:\n    print(e, file=sys.stderr)",
    );
    let (browser, marker) = w.scripted_browser(&tweak);
    w.env.set("BROWSER", &browser);
    w.env.set("GIT_CREDENTIAL_AZDO_BROWSER_TIMEOUT", "4");
    let run = w.clone("c1");
    assert_ne!(run.status, 0, "{run:?}");
    assert!(marker.exists(), "the browser ran");
    assert_eq!(w.fake.authorize_requests().len(), 1, "the authorize page was fetched: {run:?}");
    assert!(run.stderr.contains("not completed within"), "{run:?}");
    assert_eq!(w.fake.code_grants(), (0, 0), "nothing redeemed");
    assert!(w.stored_pat().is_none(), "nothing stored");
}

/// Issue 18, item 1: another user's client that sends the redirect and resets its connection
/// (SO_LINGER 0) before the listener accepts it is gone from the kernel's socket table while
/// its request waits in the accepted socket. Its owner cannot be told: it is dropped unread,
/// however often it tries.
#[test]
fn a_redirect_another_user_sends_and_resets_is_not_redeemed() {
    if !two_users() {
        return;
    }
    let mut w = world();
    w.fake.approve_browser_sign_in(UPN);
    let tweak = handed_to_another_user(
        r#"u = urllib.parse.urlsplit(action)
request = (f"POST {u.path or '/'} HTTP/1.1\\r\\nHost: {u.netloc}\\r\\n"
           f"Content-Type: application/x-www-form-urlencoded\\r\\nContent-Length: {len(body)}\\r\\n\\r\\n{body}").encode()
for _ in range(20):
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    s.sendall(request)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()
    time.sleep(0.05)"#,
    );
    let (browser, marker) = w.scripted_browser(&tweak);
    w.env.set("BROWSER", &browser);
    w.env.set("GIT_CREDENTIAL_AZDO_BROWSER_TIMEOUT", "4");
    let run = w.clone("c1");
    assert_ne!(run.status, 0, "{run:?}");
    assert!(marker.exists(), "the browser ran");
    assert_eq!(w.fake.authorize_requests().len(), 1, "the authorize page was fetched: {run:?}");
    assert!(run.stderr.contains("not completed within"), "{run:?}");
    assert_eq!(w.fake.code_grants(), (0, 0), "nothing redeemed");
    assert!(w.stored_pat().is_none(), "nothing stored");
}

/// Issue 18, item 1: the browser's command line (which other users can read) holds the short
/// start address, not the authorize URL: neither the `state` nor the PKCE challenge. The
/// listener sends the browser on from there, and the sign-in completes.
#[test]
fn the_browsers_command_line_holds_neither_state_nor_challenge() {
    let mut w = world();
    w.fake.approve_browser_sign_in(UPN);
    let (scripted, _) = w.scripted_browser("");
    let argv = w.env.root.path().join("browser-argv");
    let browser = w.env.script(
        "argv-browser.sh",
        &format!("printf '%s\\n' \"$@\" > '{}'\nexec '{}' \"$@\"", argv.display(), scripted.display()),
    );
    w.env.set("BROWSER", &browser);
    let run = w.clone("c1");
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(w.fake.code_grants(), (1, 1), "signed in through the start address");
    let auth = w.fake.authorize_requests();
    assert_eq!(auth.len(), 1, "{auth:?}");
    let state = auth[0].state.clone().expect("state");
    let challenge = auth[0].code_challenge.clone().expect("challenge");
    let args = std::fs::read_to_string(&argv).expect("the browser ran");
    let port = auth[0].redirect_uri.trim_start_matches("http://localhost:").trim_end_matches('/');
    assert_eq!(args, format!("http://127.0.0.1:{port}/start\n"), "the browser's arguments");
    for (what, text) in [("the browser's arguments", &args), ("stderr", &run.stderr)] {
        assert!(!text.contains(&state) && !text.contains(&challenge), "{what} hold the state or challenge: {text}");
        assert!(!text.contains("authorize"), "{what}: {text}");
    }
}

/// Issue 18, item 1: another user who reads the start address from the browser's command line
/// and asks it gets nothing (the connection is dropped unread): no redirect to the authorize
/// URL, no page.
#[test]
fn the_start_address_answers_another_user_nothing() {
    if !two_users() {
        return;
    }
    let mut w = world();
    w.fake.approve_browser_sign_in(UPN);
    let seen = w.env.root.path().join("another-user-saw");
    let probe = r#"import socket, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
data = b""
try:
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    s.sendall(f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except Exception as e:
    print("error:", e)
print("received", len(data), "bytes:", data[:300])"#;
    let browser = w.env.script(
        "another-users-browser.sh",
        &format!(
            "setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '{probe}' \"$1\" > '{}' 2>&1\nexit 0",
            seen.display()
        ),
    );
    w.env.set("BROWSER", &browser);
    w.env.set("GIT_CREDENTIAL_AZDO_BROWSER_TIMEOUT", "3");
    let run = w.clone("c1");
    assert_ne!(run.status, 0, "{run:?}");
    assert!(run.stderr.contains("not completed within"), "{run:?}");
    let saw = std::fs::read_to_string(&seen).expect("the other user's probe ran");
    assert!(saw.contains("received 0 bytes") || saw.contains("error:"), "{saw}");
    assert!(!saw.contains("HTTP/1.1") && !saw.contains("authorize"), "another user got an answer: {saw}");
    assert!(w.fake.authorize_requests().is_empty(), "nobody reached the authorize page");
    assert_eq!(w.fake.code_grants(), (0, 0));
}

#[test]
fn the_browser_inherits_no_secret_variable() {
    let mut w = world();
    let seen = w.env.root.path().join("browser-env");
    let browser = w.env.script("env-browser.sh", &format!("env > {:?}", seen.to_string_lossy()));
    w.env.set("BROWSER", &browser);
    w.env.set("GIT_CREDENTIAL_AZDO_BROWSER_TIMEOUT", "2");
    w.env.set("SYSTEM_ACCESSTOKEN", "job-token-secret");
    w.env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SECRET", "sp-secret-value");
    let run = w.clone("c1");
    assert_ne!(run.status, 0, "{run:?}");
    let env = std::fs::read_to_string(&seen).expect("the browser ran");
    assert!(env.contains("GIT_CREDENTIAL_AZDO_BROWSER_TIMEOUT=2"), "the environment was passed on: {env}");
    assert!(!env.contains("job-token-secret") && !env.contains("sp-secret-value"), "{env}");
}

#[test]
fn access_denied_fails_cleanly_within_the_timeout() {
    let mut w = world();
    w.fake.deny_browser_sign_in();
    let (browser, marker) = w.scripted_browser("");
    w.env.set("BROWSER", &browser);
    w.env.set("GIT_CREDENTIAL_AZDO_BROWSER_TIMEOUT", "60");
    let started = Instant::now();
    let run = w.clone("c1");
    assert_ne!(run.status, 0, "{run:?}");
    assert!(marker.exists(), "the browser ran");
    assert!(started.elapsed() < Duration::from_secs(30), "the error ends the wait: {:?}", started.elapsed());
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.contains("access_denied")).collect();
    assert_eq!(lines.len(), 1, "one line names the error: {run:?}");
    assert_eq!(w.fake.code_grants(), (0, 0));
    assert!(w.stored_pat().is_none(), "nothing stored");
}

#[test]
fn a_scripted_browser_signs_in_and_the_next_mint_is_silent() {
    let mut w = world();
    w.fake.approve_browser_sign_in(UPN);
    let (browser, _) = w.scripted_browser("");
    // A missing first entry is passed over (under qemu a missing program looks started).
    let missing = if common::skipped_under("qemu", "no missing first BROWSER entry: posix_spawn runs as a plain fork") {
        ""
    } else {
        "/nonexistent/browser:"
    };
    w.env.set("BROWSER", format!("{missing}{}", browser.display()));
    let trace = w.env.root.path().join("trace.log");
    w.env.set("GIT_CREDENTIAL_AZDO_TRACE", &trace);
    let run = w.clone("c1");
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(w.fake.code_grants(), (1, 1));
    assert!(w.stored_pat().is_some());
    // No code, verifier, token or PAT in git's output, the trace, or any file but the store.
    let mut secrets = w.fake.issued_entra_tokens();
    secrets.extend(w.fake.code_verifiers());
    secrets.extend(w.fake.minted("contoso").into_iter().map(|p| p.token));
    assert!(secrets.len() >= 5, "a code, tokens, a verifier and a PAT: {}", secrets.len());
    let trace_text = std::fs::read_to_string(&trace).expect("trace");
    let store = w.env.store_file();
    for file in
        common::walk(w.env.root.path()).into_iter().filter(|f| *f != store && !f.starts_with(common::org_dir(&store)))
    {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "a secret in {}", file.display());
        }
    }
    for s in &secrets {
        assert!(
            !run.stdout.contains(s.as_str()) && !run.stderr.contains(s.as_str()) && !trace_text.contains(s.as_str())
        );
    }
    w.env.unset("GIT_CREDENTIAL_AZDO_TRACE");
    // The refresh token is kept as after a device code sign-in: with the PAT gone, the next mint
    // needs no browser.
    assert_eq!(w.env.helper(&["logout", "contoso"], b"").status, 0);
    let run = w.clone("c2");
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(w.fake.authorize_requests().len(), 1, "no second browser sign-in");
    assert_eq!(w.fake.count(Route::PatCreate), 2);
}

#[test]
fn with_prompts_off_no_browser_is_launched() {
    let mut w = world();
    w.fake.approve_browser_sign_in(UPN);
    let (browser, marker) = w.scripted_browser("");
    w.env.set("BROWSER", &browser);
    for (key, value) in [("GIT_TERMINAL_PROMPT", "0"), ("GIT_CREDENTIAL_AZDO_INTERACTIVE", "false")] {
        w.env.set(key, value);
        let run = w.env.helper(
            &["get"],
            format!(
                "protocol=http\nhost={}\npath=contoso/proj/_git/repo\n\n",
                w.fake.url().trim_start_matches("http://")
            )
            .as_bytes(),
        );
        w.env.unset(key);
        assert_eq!((run.status, run.stdout.as_str()), (0, ""), "{key}: nothing to offer, nothing printed: {run:?}");
        assert!(!marker.exists(), "{key}: no browser launched");
    }
    // credential.interactive=false in git config too.
    let run = w
        .env
        .git(&["-c", "credential.interactive=false", "credential", "fill"], format!("url={}\n\n", w.url()).as_bytes());
    assert_ne!(run.status, 0, "{run:?}");
    assert!(!marker.exists(), "credential.interactive=false: no browser launched");
    assert!(w.fake.authorize_requests().is_empty());
}

#[test]
fn without_a_browser_get_falls_to_the_prompt_and_a_command_to_the_device_code() {
    let mut w = world();
    let pat = w.fake.add_pat("contoso", UPN, &["vso.code_write"], 4_000_000_000);
    let marker = w.env.root.path().join("asked");
    let askpass = w.env.script("askpass-pat", &format!("touch '{}'; echo '{}'", marker.display(), pat.token));
    w.env.set("GIT_ASKPASS", &askpass);
    // No BROWSER, no display, no terminal: neither the browser nor the device code for `get`.
    let started = Instant::now();
    let run = w.clone("c1");
    assert_eq!(run.status, 0, "{run:?}");
    assert!(marker.exists(), "the prompt answered");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(w.fake.authorize_requests().is_empty() && w.fake.device_flows().is_empty());
    // `login --browser` where no browser starts: one clear failure, nothing minted.
    w.env.set("BROWSER", "/nonexistent/browser");
    let login = w.env.helper(&["login", "contoso", "--browser"], b"");
    assert_ne!(login.status, 0, "{login:?}");
    assert!(login.stderr.contains("no browser could be started"), "{login:?}");
    assert_eq!(w.fake.count(Route::PatCreate), 0);
    // A browser command that fails at once: `get` does not wait for it.
    w.env.set("BROWSER", "false");
    assert_eq!(w.env.helper(&["logout", "contoso"], b"").status, 0);
    std::fs::remove_file(&marker).expect("marker");
    let started = Instant::now();
    let run = w.env.fill(&w.url());
    assert_eq!(run.status, 0, "{run:?}");
    assert!(marker.exists(), "the prompt answered after the browser failed: {run:?}");
    assert!(run.stderr.contains("the browser command failed"), "{run:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    // A command a person typed: the browser fails, so the device code flow runs.
    w.fake.approve_device_flow(DeviceFlow::Next, UPN);
    let list = w.env.helper(&["list", "--remote", "contoso"], b"");
    assert_eq!(list.status, 0, "{list:?}");
    assert_eq!(w.fake.device_flows().len(), 1, "{list:?}");
    assert!(w.fake.authorize_requests().is_empty());
}

#[test]
fn a_device_code_blocked_by_conditional_access_says_so_once_and_falls_through() {
    let mut w = world();
    w.env.set("GIT_CREDENTIAL_AZDO_TOKEN_SOURCE", "device");
    w.fake.block_device_code(53003);
    let pat = w.fake.add_pat("contoso", UPN, &["vso.code_write"], 4_000_000_000);
    let askpass = w.env.script("askpass-pat", &format!("echo '{}'", pat.token));
    w.env.set("GIT_ASKPASS", &askpass);
    let run = w.clone("c1");
    assert_eq!(run.status, 0, "the prompt still serves: {run:?}");
    // The device code instructions, then one line about the refusal, and no other failure.
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.contains("Conditional Access")).collect();
    assert_eq!(lines.len(), 1, "{run:?}");
    assert!(!run.stderr.contains("failed"), "{run:?}");
    assert!(lines[0].contains("Conditional Access") && lines[0].contains("AADSTS53003"), "{run:?}");
    assert!(lines[0].contains("--browser"), "{run:?}");
    assert_eq!(w.fake.count(Route::PatCreate), 0);
}
