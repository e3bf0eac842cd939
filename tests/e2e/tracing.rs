//! Tracing on, every verb run, and the PAT found nowhere it should not be.

use crate::common;
use crate::common::TestEnv;

const PAT: &str = "SECRETPAT0123456789abcdefSECRET";
const PAT2: &str = "OTHERSECRET9876543210zyxwOTHER";

fn every_verb(env: &TestEnv) -> Vec<(String, common::Run)> {
    let q = "protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n";
    let cfg = env.root.path().join("cfg").to_string_lossy().into_owned();
    let steps: Vec<(&str, Vec<&str>, String)> = vec![
        ("login", vec!["login", "contoso", "--pat-stdin"], PAT.to_owned()),
        ("get", vec!["get"], q.to_owned()),
        ("store", vec!["store"], format!("{q}username=u\npassword={PAT2}\n")),
        ("store-same", vec!["store"], format!("{q}username=u\npassword={PAT2}\npassword_expiry_utc=4000000000\n")),
        ("get2", vec!["get"], q.to_owned()),
        ("erase-other", vec!["erase"], format!("{q}password={PAT}\n")),
        ("bad-input", vec!["get"], format!("{q}password={PAT}\r\n\rx\n")),
        ("list", vec!["list"], String::new()),
        ("list-json", vec!["list", "--json"], String::new()),
        ("status", vec!["status"], String::new()),
        ("status-org", vec!["status", "contoso"], String::new()),
        ("configure", vec!["configure", "--file", &cfg], String::new()),
        ("unconfigure", vec!["unconfigure", "--file", &cfg], String::new()),
        ("erase", vec!["erase"], format!("{q}password={PAT2}\n")),
        ("login2", vec!["login", "https://dev.azure.com/contoso", "--pat-stdin"], PAT.to_owned()),
        ("logout", vec!["logout", "contoso"], String::new()),
    ];
    steps.into_iter().map(|(name, args, stdin)| (name.to_owned(), env.helper(&args, stdin.as_bytes()))).collect()
}

fn assert_no_leak(runs: &[(String, common::Run)]) {
    for (name, run) in runs {
        for secret in [PAT, PAT2] {
            assert!(!run.stderr.contains(secret), "{name}: secret on stderr: {run:?}");
            let allowed = name.starts_with("get") && run.stdout.contains(&format!("password={secret}\n"));
            assert!(allowed || !run.stdout.contains(secret), "{name}: secret on stdout: {run:?}");
        }
    }
    let gets: Vec<_> = runs.iter().filter(|(n, _)| n.starts_with("get")).map(|(_, r)| r.stdout.as_str()).collect();
    assert_eq!(
        gets,
        [
            format!("username=contoso\npassword={PAT}\n"),
            format!("username=u\npassword={PAT2}\npassword_expiry_utc=4000000000\n")
        ]
    );
}

#[test]
fn trace_file_has_decisions_and_no_secret() {
    let mut env = TestEnv::new();
    let trace = env.root.path().join("trace.log");
    env.set("GIT_CREDENTIAL_AZDO_TRACE", &trace);
    let runs = every_verb(&env);
    assert_no_leak(&runs);
    let text = std::fs::read_to_string(&trace).expect("trace written");
    assert!(!text.contains(PAT) && !text.contains(PAT2), "secret in trace file");
    assert!(text.contains("contoso") && text.contains("answering with the stored PAT"), "{text}");
    #[cfg(unix)]
    assert_eq!(common::mode(&trace), 0o600);
}

#[test]
fn trace_on_stderr_has_decisions_and_no_secret() {
    let mut env = TestEnv::new();
    env.set("GIT_CREDENTIAL_AZDO_TRACE", "1");
    let runs = every_verb(&env);
    assert_no_leak(&runs);
    let get = &runs.iter().find(|(n, _)| n == "get").expect("get").1;
    assert!(get.stderr.contains("answering with the stored PAT"), "{get:?}");
}

#[cfg(target_os = "linux")] // a real Secret Service
#[cfg(unix)]
#[test]
fn trace_through_real_git_and_a_prompt_leaks_nothing() {
    let Some(mut env) = TestEnv::with_keyring() else {
        return;
    };
    env.configure();
    let trace = env.root.path().join("trace.log");
    env.set("GIT_CREDENTIAL_AZDO_TRACE", &trace);
    env.set("GIT_ASKPASS", env.script("askpass", &format!("echo {PAT}")));
    env.unset("GIT_TERMINAL_PROMPT");
    let url = "https://dev.azure.com/contoso/proj/_git/repo";
    let fill = env.fill(url);
    assert!(fill.stdout.contains(&format!("password={PAT}")), "{fill:?}");
    let approve = env.approve(url, "contoso", PAT);
    let reject = env.reject(url, &format!("username=contoso\npassword={PAT}\n"));
    for run in [&fill, &approve, &reject] {
        assert!(!run.stderr.contains(PAT), "{run:?}");
    }
    assert!(approve.stdout.is_empty() && reject.stdout.is_empty());
    let text = std::fs::read_to_string(&trace).expect("trace");
    assert!(!text.contains(PAT), "secret in trace");
    assert!(text.contains("keyring"), "{text}");
}

#[cfg(unix)]
#[test]
fn trace_of_checks_and_replacement_leaks_nothing() {
    let fake = fake_azdo::FakeAzdo::start();
    fake.add_repo("contoso", "proj", "repo");
    let far = 4_000_000_000;
    let old = fake.add_pat("contoso", "alice@contoso.example", &["vso.code_write"], far).token;
    let new = fake.add_pat("contoso", "alice@contoso.example", &["vso.code_write"], far).token;
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    env.set("GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL", "0");
    let trace = env.root.path().join("trace.log");
    env.set("GIT_CREDENTIAL_AZDO_TRACE", &trace);
    let mut runs = vec![env.helper(&["login", "contoso", "--pat-stdin"], old.as_bytes())];
    let url = fake.repo_url("contoso", "proj", "repo");
    runs.push(env.git(&["clone", "-q", &url, &env.home.join("c").to_string_lossy()], b""));
    fake.revoke_pat(&old);
    env.set("GIT_ASKPASS", env.script("askpass", &format!("echo {new}")));
    env.unset("GIT_TERMINAL_PROMPT");
    runs.push(env.git(&["-C", &env.home.join("c").to_string_lossy(), "fetch", "-q"], b""));
    runs.push(env.helper(&["status", "contoso"], b""));
    runs.push(env.helper(&["doctor"], b""));
    for run in &runs {
        for secret in [&old, &new] {
            assert!(!run.stderr.contains(secret.as_str()) && !run.stdout.contains(secret.as_str()), "{run:?}");
        }
    }
    assert_eq!(runs[2].status, 0, "{:?}", runs[2]);
    let text = std::fs::read_to_string(&trace).expect("trace");
    assert!(text.contains("checking the PAT with Azure DevOps"), "{text}");
    assert!(!text.contains(&old) && !text.contains(&new), "secret in trace");
}

/// Hole 4: the trace file is only ever a regular file of the user's own, opened without blocking
/// and without following a link: a FIFO planted at the path cannot hang `get`, a file another
/// user pre-created in a shared directory receives nothing, and a linked directory is refused.
#[cfg(unix)]
#[test]
fn a_planted_trace_path_is_refused_without_hanging() {
    let mut env = TestEnv::new();
    env.set("AZURE_DEVOPS_EXT_PAT", "env-pat");
    let q = b"protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n";
    let dir = env.root.path().join("shared");
    std::fs::create_dir(&dir).expect("dir");
    let fifo = dir.join("fifo.log");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let linked = env.root.path().join("linked");
    std::os::unix::fs::symlink(&dir, &linked).expect("symlink");
    let mut cases = vec![(fifo, "trace file"), (linked.join("t.log"), "symbolic link")];
    let foreign = dir.join("foreign.log");
    if std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n") {
        std::fs::write(&foreign, b"").expect("write");
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).expect("chown");
        cases.push((foreign.clone(), "another user"));
    }
    for (path, why) in cases {
        env.set("GIT_CREDENTIAL_AZDO_TRACE", &path);
        let started = std::time::Instant::now();
        let run = env.helper(&["get"], q);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10) + crate::common::emulation_slack(),
            "{path:?}: get hung on the trace file"
        );
        assert_eq!(run.stdout, "username=contoso\npassword=env-pat\n", "{run:?}");
        assert!(run.stderr.contains("cannot use trace file") && run.stderr.contains(why), "{path:?}: {run:?}");
    }
    if foreign.exists() {
        assert_eq!(std::fs::read(&foreign).expect("read"), b"", "another user's file received the trace");
    }
}
