//! The helper as git runs it (`get`, `store`, `erase` on stdin/stdout), through the real binary.

use crate::common;
use crate::common::{Run, TestEnv};

const CONTOSO: &[u8] = b"protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n";

fn query(extra: impl AsRef<[u8]>) -> Vec<u8> {
    let mut q = CONTOSO.to_vec();
    q.extend_from_slice(extra.as_ref());
    q
}

fn assert_silent_miss(run: &Run) {
    assert_eq!((run.status, run.stdout.as_str(), run.stderr.as_str()), (0, "", ""), "{run:?}");
}

fn stored_bytes(env: &TestEnv) -> Option<Vec<u8>> {
    common::store_bytes(&env.store_file())
}

#[test]
fn get_returns_the_stored_pat() {
    let env = TestEnv::new();
    env.login("contoso", "pat-123");
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(run.stdout, "username=contoso\npassword=pat-123\n");
    assert_eq!(run.stderr, "");
}

#[test]
fn get_with_nothing_stored_prints_nothing_at_all() {
    let env = TestEnv::new();
    assert_silent_miss(&env.helper(&["get"], CONTOSO));
    assert!(stored_bytes(&env).is_none(), "a miss must not create the store");
}

#[test]
fn operation_is_taken_from_the_last_argument() {
    let env = TestEnv::new();
    env.login("contoso", "pat-123");
    let run = env.helper(&["--some-option", "get"], CONTOSO);
    assert_eq!(run.stdout, "username=contoso\npassword=pat-123\n", "{run:?}");
}

#[test]
fn unknown_operations_are_ignored_silently() {
    let env = TestEnv::new();
    env.login("contoso", "pat-123");
    // `capability` is an operation this helper knows (it answers it: tests/identities.rs).
    for op in ["list-all", "frobnicate"] {
        assert_silent_miss(&env.helper(&[op], &query("password=pat-123\n")));
    }
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=pat-123\n");
}

#[test]
fn other_hosts_are_passed_through_untouched() {
    let env = TestEnv::new();
    for host in ["github.com", "dev.azure.com.evil.example", "evildev.azure.com", "visualstudio.com"] {
        let q = format!("protocol=https\nhost={host}\npath=contoso/x\nusername=contoso\npassword=p\n");
        for op in ["get", "store", "erase"] {
            assert_silent_miss(&env.helper(&[op], q.as_bytes()));
        }
    }
    assert!(stored_bytes(&env).is_none(), "nothing may be stored for other hosts");
    assert!(!env.home.join(".cache/git-credential-azdo").exists(), "other hosts must not even write the config cache");
}

#[test]
fn without_path_or_username_it_says_to_configure() {
    let env = TestEnv::new();
    let run = env.helper(&["get"], b"protocol=https\nhost=dev.azure.com\n");
    assert_eq!((run.status, run.stdout.as_str()), (0, ""), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.contains("git credential-azdo configure"), "{run:?}");
}

#[test]
fn plain_http_never_gets_a_pat() {
    let env = TestEnv::new();
    env.login("contoso", "pat-123");
    let run = env.helper(&["get"], b"protocol=http\nhost=dev.azure.com\npath=contoso/p/_git/r\n");
    assert_eq!(run.stdout, "", "{run:?}");
    assert!(run.stderr.contains("plain http"), "{run:?}");
    assert!(!run.stderr.contains("pat-123"));
}

#[test]
fn username_in_url_names_the_org_and_names_are_case_insensitive() {
    let env = TestEnv::new();
    env.login("Contoso", "pat-123");
    let run = env.helper(&["get"], b"protocol=https\nhost=dev.azure.com\nusername=CONTOSO\n");
    assert_eq!(run.stdout, "username=CONTOSO\npassword=pat-123\n", "{run:?}");
    let run =
        env.helper(&["get"], b"protocol=https\nhost=contoso.visualstudio.com:443\npath=DefaultCollection/p/_git/r\n");
    assert_eq!(run.stdout, "username=contoso\npassword=pat-123\n", "{run:?}");
}

#[test]
fn expiry_is_returned_and_an_expired_pat_is_removed() {
    let env = TestEnv::new();
    let future = 4_000_000_000i64;
    let run = env.helper(&["store"], &query(format!("username=u\npassword=fresh\npassword_expiry_utc={future}\n")));
    assert_eq!(run.status, 0, "{run:?}");
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, format!("username=u\npassword=fresh\npassword_expiry_utc={future}\n"));

    let run = env.helper(&["store"], &query("username=u\npassword=stale\npassword_expiry_utc=1000\n"));
    assert_eq!(run.status, 0, "{run:?}");
    // Known to be dead without asking anyone: removed, said once, and nothing offered.
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!((run.status, run.stdout.as_str()), (0, ""), "{run:?}");
    assert!(run.stderr.contains("expired at 1970-01-01T00:16:40Z") && run.stderr.contains("removed"), "{run:?}");
    assert_silent_miss(&env.helper(&["get"], CONTOSO));
}

#[test]
fn store_keeps_what_git_confirmed() {
    let env = TestEnv::new();
    let run = env.helper(&["store"], &query("username=contoso\npassword=typed-pat\n"));
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=typed-pat\n");
    // A store without a password stores nothing new.
    let run = env.helper(&["store"], &query("username=contoso\n"));
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=typed-pat\n");
}

#[test]
fn erase_needs_a_matching_password_or_none() {
    let env = TestEnv::new();
    env.login("contoso", "right");
    env.login("fabrikam", "other-org");
    assert_eq!(env.helper(&["erase"], &query("password=wrong\n")).status, 0);
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=right\n", "wrong password erased");

    assert_eq!(env.helper(&["erase"], &query("password=right\n")).status, 0);
    assert_silent_miss(&env.helper(&["get"], CONTOSO));

    let fabrikam = b"protocol=https\nhost=dev.azure.com\npath=fabrikam/p/_git/r\n";
    assert_eq!(env.helper(&["get"], fabrikam).stdout, "username=fabrikam\npassword=other-org\n", "other org touched");

    env.login("contoso", "again");
    assert_eq!(env.helper(&["erase"], CONTOSO).status, 0);
    assert_silent_miss(&env.helper(&["get"], CONTOSO));
}

#[test]
fn erase_without_an_org_erases_nothing() {
    let env = TestEnv::new();
    env.login("contoso", "keep-me");
    // What git sends when it dies mid-write (CVE-2024-52006): protocol and host only.
    let run = env.helper(&["erase"], b"protocol=https\nhost=dev.azure.com\n");
    assert_eq!(run.status, 0, "{run:?}");
    let run = env.helper(&["erase"], b"protocol=https\n");
    assert_ne!(run.status, 0, "missing host must be refused: {run:?}");
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=keep-me\n");
}

#[test]
fn bad_input_is_refused_clearly_and_changes_nothing() {
    if !common::has_git() {
        return;
    }
    let env = TestEnv::new();
    env.login("contoso", "keep-me");
    let before = stored_bytes(&env).expect("stored");
    let mut megabyte = query("password=");
    megabyte.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    megabyte.push(b'\n');
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("CR in a value", query("password=new\rpat\n"), "carriage return"),
        ("NUL in a value", query("password=new\0pat\n"), "NUL"),
        ("LF splitting a value", b"protocol=https\nhost=dev.azure.com\npath=con\ntoso\n".to_vec(), "not 'key=value'"),
        ("CR in the host", b"protocol=https\nhost=dev.azure.com\rx\npath=contoso\n".to_vec(), "carriage return"),
        ("missing host", b"protocol=https\npath=contoso\npassword=x\n".to_vec(), "no 'host'"),
        ("missing protocol", b"host=dev.azure.com\npath=contoso\npassword=x\n".to_vec(), "no 'protocol'"),
        ("non-UTF-8 password", query(b"password=\xff\xfe\n"), "UTF-8"),
        ("1 MB of input", megabyte, "larger than"),
    ];
    for (what, input, expected) in &cases {
        for op in ["get", "store", "erase"] {
            let run = env.helper(&[op], input);
            assert_ne!(run.status, 0, "{what} / {op}: {run:?}");
            assert_eq!(run.stdout, "", "{what} / {op}");
            assert_eq!(run.stderr.lines().count(), 1, "{what} / {op}: {run:?}");
            assert!(run.stderr.contains(expected), "{what} / {op}: {run:?}");
            assert!(!run.stderr.contains("new"), "{what} / {op} echoed the value: {run:?}");
        }
    }
    assert_eq!(stored_bytes(&env).expect("stored"), before, "bad input changed the store");
    // Non-UTF-8 in a path is no valid org: refused for get, nothing touched.
    let run = env.helper(&["erase"], b"protocol=https\nhost=dev.azure.com\npath=\xffcontoso/p\n");
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(stored_bytes(&env).expect("stored"), before);
}

#[test]
fn hostile_org_names_are_refused_without_raw_control_characters() {
    let env = TestEnv::new();
    let run = env.helper(&["get"], b"protocol=https\nhost=dev.azure.com\npath=con\x1b[2Jtoso/p/_git/r\n");
    assert_eq!(run.stdout, "", "{run:?}");
    assert!(run.stderr.contains("not a valid Azure DevOps organization name"), "{run:?}");
    assert!(!run.stderr.contains('\x1b'), "raw escape printed: {run:?}");
}

#[test]
fn azure_cli_variable_answers_for_any_org_without_touching_a_store() {
    let mut env = TestEnv::new();
    env.set("AZURE_DEVOPS_EXT_PAT", "env-pat");
    let run = env.helper(&["get"], b"protocol=https\nhost=dev.azure.com\npath=anyorg/p/_git/r\n");
    assert_eq!(run.stdout, "username=anyorg\npassword=env-pat\n", "{run:?}");
    // git confirms it: it is not copied into the store.
    assert_eq!(env.helper(&["store"], &query("username=contoso\npassword=env-pat\n")).status, 0);
    assert!(stored_bytes(&env).is_none(), "the environment's PAT was stored");
    // Even with a store that cannot be read, the variable answers.
    env.set("GIT_CREDENTIAL_AZDO_STORE", "keyring");
    env.unset("DBUS_SESSION_BUS_ADDRESS");
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "username=contoso\npassword=env-pat\n", "{run:?}");
}

/// An askpass program that records its prompt and answers with `answer`.
#[cfg(unix)]
fn askpass(env: &TestEnv, answer: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let log = env.root.path().join("askpass.log");
    let script =
        env.script("askpass", &format!("printf '%s\\n' \"$1\" >> '{}'\nprintf '%s\\n' '{answer}'", log.display()));
    (script, log)
}

#[cfg(unix)]
#[test]
fn prompts_through_git_askpass_and_stores_only_after_git_confirms() {
    let mut env = TestEnv::new();
    let (script, log) = askpass(&env, "typed-pat");
    env.set("GIT_ASKPASS", &script);
    env.unset("GIT_TERMINAL_PROMPT");
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "username=contoso\npassword=typed-pat\n", "{run:?}");
    let prompt = std::fs::read_to_string(&log).expect("askpass ran");
    assert!(prompt.contains("'contoso'"), "{prompt}");
    assert!(prompt.contains("https://dev.azure.com/contoso/_usersSettings/tokens"), "{prompt}");
    assert!(stored_bytes(&env).is_none(), "a typed PAT is stored before git confirms it");

    assert_eq!(env.helper(&["store"], &query("username=contoso\npassword=typed-pat\n")).status, 0);
    std::fs::remove_file(&log).expect("rm log");
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "username=contoso\npassword=typed-pat\n", "{run:?}");
    assert!(!log.exists(), "asked again although a PAT is stored");
}

#[cfg(unix)]
#[test]
fn core_askpass_from_git_config_is_used() {
    let mut env = TestEnv::new();
    let (script, log) = askpass(&env, "from-core-askpass");
    env.unset("GIT_TERMINAL_PROMPT");
    let run = env.git(&["config", "--global", "core.askPass", &script.to_string_lossy()], b"");
    assert_eq!(run.status, 0, "{run:?}");
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "username=contoso\npassword=from-core-askpass\n", "{run:?}");
    assert!(log.exists());
}

#[cfg(unix)]
#[test]
fn prompts_are_off_with_git_terminal_prompt_0_or_azdo_interactive_false() {
    let mut env = TestEnv::new();
    let (script, log) = askpass(&env, "should-not-be-asked");
    env.set("GIT_ASKPASS", &script);
    env.set("GIT_TERMINAL_PROMPT", "0");
    assert_silent_miss(&env.helper(&["get"], CONTOSO));

    env.unset("GIT_TERMINAL_PROMPT");
    let run = env.git(&["config", "--global", "azdo.interactive", "false"], b"");
    assert_eq!(run.status, 0, "{run:?}");
    assert_silent_miss(&env.helper(&["get"], CONTOSO));

    env.set("GIT_CREDENTIAL_AZDO_INTERACTIVE", "true");
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "username=contoso\npassword=should-not-be-asked\n", "env must override config: {run:?}");
    std::fs::remove_file(&log).expect("rm");

    env.set("GIT_CREDENTIAL_AZDO_INTERACTIVE", "false");
    assert_silent_miss(&env.helper(&["get"], CONTOSO));
    assert!(!log.exists(), "askpass ran although prompts are off");
}

#[cfg(unix)]
#[test]
fn empty_askpass_answer_offers_nothing() {
    let mut env = TestEnv::new();
    let (script, _log) = askpass(&env, "");
    env.set("GIT_ASKPASS", &script);
    env.unset("GIT_TERMINAL_PROMPT");
    assert_silent_miss(&env.helper(&["get"], CONTOSO));
}

#[test]
fn invalid_settings_are_named() {
    let mut env = TestEnv::new();
    env.set("GIT_CREDENTIAL_AZDO_STORE", "vault");
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("GIT_CREDENTIAL_AZDO_STORE") || run.stderr.contains("azdo.store"), "{run:?}");
}

#[cfg(unix)]
#[test]
fn file_store_problems_are_one_clear_line_and_nothing_is_overwritten() {
    let env = TestEnv::new();
    env.login("contoso", "p");
    let path = env.store_file();
    let own = common::org_files(&path).pop().expect("contoso's own file");
    assert_eq!(common::mode(&own), 0o600);

    // contoso's own file and the store file (which every change reads first).
    std::fs::write(&own, b"{ not json").expect("corrupt");
    std::fs::write(&path, b"{ not json").expect("corrupt");
    common::set_mode(&path, 0o600);
    for op in ["get", "store"] {
        let run = env.helper(&[op], &query("password=new-one\n"));
        assert_eq!(run.stdout, "", "{run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
        assert!(run.stderr.contains("not a valid credential file"), "{run:?}");
    }
    assert_eq!(std::fs::read(&path).expect("read"), b"{ not json");
    assert_eq!(std::fs::read(&own).expect("read"), b"{ not json");

    let run = env.helper(&["login", "fabrikam", "--pat-stdin"], b"x");
    assert_eq!(run.status, 1, "login into a corrupt file must fail: {run:?}");
    assert_eq!(std::fs::read(&path).expect("read"), b"{ not json");
    assert_eq!(common::org_files(&path), std::slice::from_ref(&own), "nothing was written beside it");

    std::fs::remove_file(&path).expect("rm");
    std::fs::remove_file(&own).expect("rm");
    env.login("contoso", "p");
    common::set_mode(&own, 0o640);
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "", "{run:?}");
    assert!(run.stderr.contains("chmod 600"), "{run:?}");
}

#[test]
fn parallel_stores_for_many_orgs_lose_nothing() {
    if !common::has_git() {
        return;
    }
    let env = std::sync::Arc::new(TestEnv::new());
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let env = std::sync::Arc::clone(&env);
            std::thread::spawn(move || {
                let q =
                    format!("protocol=https\nhost=dev.azure.com\npath=org{i}/p/_git/r\nusername=u\npassword=pat-{i}\n");
                env.helper(&["store"], q.as_bytes())
            })
        })
        .collect();
    for h in handles {
        let run = h.join().expect("thread");
        assert_eq!(run.status, 0, "{run:?}");
    }
    for i in 0..10 {
        let q = format!("protocol=https\nhost=dev.azure.com\npath=org{i}/p/_git/r\n");
        assert_eq!(env.helper(&["get"], q.as_bytes()).stdout, format!("username=u\npassword=pat-{i}\n"));
    }
}

#[test]
fn a_relative_store_file_is_refused() {
    let mut env = TestEnv::new();
    env.set("GIT_CREDENTIAL_AZDO_STORE_FILE", "creds.json");
    let run = env.helper(&["store"], &query("username=u\npassword=p\n"));
    assert_ne!(run.status, 0, "{run:?}");
    assert!(run.stderr.contains("azdo.storeFile") && run.stderr.contains("absolute"), "{run:?}");
    assert!(!env.home.join("creds.json").exists(), "a PAT landed in the working directory");
}

/// Hole 7: the request ends at its blank line. A caller that writes it and waits for the answer
/// before closing stdin (as git's own helpers allow) gets the answer; the helper does not wait
/// for EOF.
#[test]
fn the_request_ends_at_the_blank_line_not_at_eof() {
    let mut env = TestEnv::new();
    env.set("AZURE_DEVOPS_EXT_PAT", "env-pat");
    let mut child = env
        .command(common::bin())
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    std::io::Write::write_all(&mut stdin, &query("\n")).expect("write the request");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > std::time::Duration::from_secs(10) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    drop(stdin);
    let output = child.wait_with_output().expect("output");
    assert!(status.is_some_and(|s| s.success()), "the helper waited for EOF: {output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "username=contoso\npassword=env-pat\n");
}

/// Hole 11: like `git credential-store`, an erase with an empty `password=` matches nothing.
#[test]
fn an_erase_with_an_empty_password_erases_nothing() {
    let env = TestEnv::new();
    env.login("contoso", "pat-123");
    assert_eq!(env.helper(&["erase"], &query("password=\n")).status, 0);
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=pat-123\n", "the PAT was erased");
    assert_eq!(env.helper(&["erase"], CONTOSO).status, 0);
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "", "an erase naming no password still erases");
}
