//! Settings through git config: read with at most one git process, none on a warm hot path, and
//! every change seen.
#![cfg(unix)] // shell scripts, git http-backend and Unix file modes

mod common;

use common::TestEnv;

const CONTOSO: &[u8] = b"protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n";

/// Replace `git` on PATH by a stand-in that records being run and fails.
fn poison_git(env: &mut TestEnv) -> std::path::PathBuf {
    let marker = env.root.path().join("git-was-run");
    let dir = env.root.path().join("poisoned-bin");
    std::fs::create_dir_all(&dir).expect("dir");
    let script = env.script("fake-git", &format!("touch '{}'\nexit 1", marker.display()));
    std::fs::rename(script, dir.join("git")).expect("move");
    env.set("PATH", dir);
    marker
}

#[test]
fn warm_hot_path_runs_no_git_process() {
    let mut env = TestEnv::new();
    env.login("contoso", "pat-1");
    assert_eq!(env.git(&["config", "--global", "azdo.interactive", "false"], b"").status, 0);
    // First get reads git config once and caches what matters.
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=pat-1\n");
    let marker = poison_git(&mut env);
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "username=contoso\npassword=pat-1\n", "{run:?}");
    assert!(!marker.exists(), "the warm hot path ran git");
}

#[test]
fn a_config_change_is_seen_by_the_next_call() {
    let mut env = TestEnv::new();
    let script = env.script("askpass", "echo asked");
    env.set("GIT_ASKPASS", &script);
    env.unset("GIT_TERMINAL_PROMPT");
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=asked\n");
    assert_eq!(env.git(&["config", "--global", "azdo.interactive", "false"], b"").status, 0);
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""), "stale settings used: {run:?}");
    assert_eq!(env.git(&["config", "--global", "azdo.interactive", "true"], b"").status, 0);
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=asked\n");
}

#[test]
fn a_newly_created_user_config_file_is_seen() {
    let mut env = TestEnv::new();
    env.unset("GIT_CONFIG_GLOBAL");
    let script = env.script("askpass", "echo asked");
    env.set("GIT_ASKPASS", &script);
    env.unset("GIT_TERMINAL_PROMPT");
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=asked\n");
    // ~/.config/git/config did not exist when the cache was written.
    let xdg = env.home.join(".config/git");
    std::fs::create_dir_all(&xdg).expect("dir");
    std::fs::write(xdg.join("config"), "[azdo]\n\tinteractive = false\n").expect("write");
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "", "new config file not seen: {run:?}");
}

#[test]
fn repository_config_applies_in_the_repository() {
    let mut env = TestEnv::new();
    let script = env.script("askpass", "echo asked");
    env.set("GIT_ASKPASS", &script);
    env.unset("GIT_TERMINAL_PROMPT");
    let repo = env.home.join("repo");
    assert_eq!(env.git(&["init", "-q", &repo.to_string_lossy()], b"").status, 0);
    assert_eq!(env.git(&["-C", &repo.to_string_lossy(), "config", "azdo.interactive", "false"], b"").status, 0);
    let mut in_repo = env.command(common::BIN);
    in_repo.current_dir(&repo).arg("get");
    let out = {
        use std::io::Write;
        let mut child =
            in_repo.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().expect("spawn");
        child.stdin.take().expect("stdin").write_all(CONTOSO).expect("write");
        child.wait_with_output().expect("wait")
    };
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "repository config ignored");
    // Outside the repository the global default (prompts on) applies.
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=asked\n");
}

#[test]
fn command_line_config_from_git_is_honoured() {
    let env = TestEnv::new();
    env.configure();
    let elsewhere = env.root.path().join("elsewhere.json");
    let store_file = format!("azdo.storeFile={}", elsewhere.display());
    let url = "url=https://dev.azure.com/contoso/proj/_git/repo\nusername=u\npassword=cli-pat\n\n";
    let run = env.git(&["-c", &store_file, "credential", "approve"], url.as_bytes());
    assert_eq!(run.status, 0, "{run:?}");
    assert!(elsewhere.exists(), "git -c azdo.storeFile was ignored");
    assert!(!env.store_file().exists());
}
