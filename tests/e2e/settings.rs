//! Settings through git config: read with at most one git process, none on a warm hot path, and
//! every change seen.

use crate::common;
use crate::common::TestEnv;

const CONTOSO: &[u8] = b"protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n";

/// Replace `git` on PATH by a stand-in that records being run and fails.
#[cfg(unix)]
fn poison_git(env: &mut TestEnv) -> std::path::PathBuf {
    let marker = env.root.path().join("git-was-run");
    let dir = env.root.path().join("poisoned-bin");
    std::fs::create_dir_all(&dir).expect("dir");
    let script = env.script("fake-git", &format!("/usr/bin/touch '{}'\nexit 1", marker.display()));
    std::fs::rename(script, dir.join("git")).expect("move");
    env.set("PATH", dir);
    marker
}

#[cfg(unix)]
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

/// A conditional include: outside the in-process reader's whitelist, so git config is run.
#[cfg(unix)]
fn leave_config_to_git(env: &TestEnv) {
    let args = ["config", "--global", "includeIf.gitdir:/nonexistent/.path", "/nonexistent"];
    assert_eq!(env.git(&args, b"").status, 0);
}

/// A cold cache (after a config change) reads git's configuration in process, so no git runs
/// at all; a configuration outside the reader's whitelist is still read by git.
#[cfg(unix)]
#[test]
fn a_cold_config_is_read_without_git_unless_outside_the_whitelist() {
    let mut env = TestEnv::new();
    env.set("XDG_CACHE_HOME", env.home.join(".cache"));
    env.login("contoso", "pat-1");
    let script = env.script("askpass", "echo asked");
    env.set("GIT_ASKPASS", &script);
    env.unset("GIT_TERMINAL_PROMPT");
    assert_eq!(
        env.git(&["config", "--global", "azdo.https://dev.azure.com/fabrikam.interactive", "false"], b"").status,
        0
    );
    let git_path = std::env::var_os("PATH").unwrap_or_default();
    let marker = poison_git(&mut env);
    let _ = std::fs::remove_dir_all(env.home.join(".cache/git-credential-azdo"));
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "username=contoso\npassword=pat-1\n", "{run:?}");
    assert!(!marker.exists(), "a cold get ran git");
    assert!(cache_file(&env).exists(), "what was read in process is cached");
    // Read in process, the URL-scoped setting applies: no prompt for fabrikam, one for others.
    let query = |org: &str| format!("protocol=https\nhost=dev.azure.com\npath={org}/p/_git/r\nusername={org}\n\n");
    assert_eq!(env.helper(&["get"], query("fabrikam").as_bytes()).stdout, "", "azdo.<url>.interactive ignored");
    assert_eq!(env.helper(&["get"], query("northwind").as_bytes()).stdout, "username=northwind\npassword=asked\n");
    assert!(!marker.exists(), "a get ran git");

    env.set("PATH", git_path);
    leave_config_to_git(&env);
    let marker = poison_git(&mut env);
    let run = env.helper(&["get"], CONTOSO);
    assert!(marker.exists(), "an includeIf was not left to git: {run:?}");
}

#[cfg(unix)]
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

#[cfg(unix)]
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

#[cfg(unix)]
#[test]
fn repository_config_applies_in_the_repository() {
    let mut env = TestEnv::new();
    let script = env.script("askpass", "echo asked");
    env.set("GIT_ASKPASS", &script);
    env.unset("GIT_TERMINAL_PROMPT");
    let repo = env.home.join("repo");
    assert_eq!(env.git(&["init", "-q", &repo.to_string_lossy()], b"").status, 0);
    assert_eq!(env.git(&["-C", &repo.to_string_lossy(), "config", "azdo.interactive", "false"], b"").status, 0);
    let mut in_repo = env.command(common::bin());
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
    if !common::has_git() {
        return;
    }
    let env = TestEnv::new();
    env.configure();
    let elsewhere = env.root.path().join("elsewhere.json");
    let store_file = format!("azdo.storeFile={}", elsewhere.display());
    let url = "url=https://dev.azure.com/contoso/proj/_git/repo\nusername=u\npassword=cli-pat\n\n";
    let run = env.git(&["-c", &store_file, "credential", "approve"], url.as_bytes());
    assert_eq!(run.status, 0, "{run:?}");
    assert!(!common::org_files(&elsewhere).is_empty(), "git -c azdo.storeFile was ignored");
    assert!(!env.store_exists());
}

/// The config cache file, wherever the cache directory is.
#[cfg(unix)]
fn cache_file(env: &TestEnv) -> std::path::PathBuf {
    env.home.join(".cache/git-credential-azdo/config-cache.json")
}

/// Hole 1: a cache file others could have written is not used, and nothing that names a
/// program or an endpoint is ever answered from the cache: git is asked again.
#[cfg(unix)]
#[test]
fn an_untrusted_cache_or_one_naming_a_program_is_not_used() {
    let mut env = TestEnv::new();
    env.set("XDG_CACHE_HOME", env.home.join(".cache"));
    env.login("contoso", "pat-1");
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=pat-1\n");
    let cache = cache_file(&env);
    assert!(cache.exists(), "the first get caches git config");
    common::set_mode(&cache, 0o644);
    // git config runs (and shows the cache was not used) only for what is not read in process.
    leave_config_to_git(&env);
    let marker = poison_git(&mut env);
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=pat-1\n");
    assert!(marker.exists(), "a cache file others can read (or write) was used");

    let mut env = TestEnv::new();
    env.set("XDG_CACHE_HOME", env.home.join(".cache"));
    env.login("contoso", "pat-1");
    let askpass = env.script("askpass", "echo typed");
    assert_eq!(env.git(&["config", "--global", "core.askPass", &askpass.to_string_lossy()], b"").status, 0);
    leave_config_to_git(&env);
    assert_eq!(env.helper(&["get"], CONTOSO).status, 0);
    let cached = std::fs::read_to_string(cache_file(&env)).unwrap_or_default();
    assert!(!cached.to_ascii_lowercase().contains("askpass"), "core.askPass was cached: {cached}");
    let marker = poison_git(&mut env);
    assert_eq!(env.helper(&["get"], CONTOSO).status, 0);
    assert!(marker.exists(), "a program's path was answered from the cache, not git");
}

/// Hole 9: in a subdirectory of a repository, an edit of the repository's config is seen by
/// the next call (git names that file relative to the top level).
#[test]
fn a_repository_config_edit_is_seen_from_a_subdirectory() {
    if !common::has_git() {
        return;
    }
    let env = TestEnv::new();
    env.login("contoso", "pat-1");
    let repo = env.home.join("repo");
    assert_eq!(env.git(&["init", "-q", &repo.to_string_lossy()], b"").status, 0);
    let sub = repo.join("src/deep");
    std::fs::create_dir_all(&sub).expect("dir");
    let get = || {
        let mut cmd = env.command(common::bin());
        cmd.arg("get").current_dir(&sub).stdin(std::process::Stdio::piped());
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), CONTOSO).expect("write");
        child.wait_with_output().expect("wait")
    };
    assert!(get().status.success());
    let repo_git = |args: &[&str]| {
        let mut all = vec!["-C", repo.to_str().expect("utf8")];
        all.extend_from_slice(args);
        assert_eq!(env.git(&all, b"").status, 0);
    };
    repo_git(&["config", "azdo.keyringTimeout", "soon"]);
    let out = get();
    assert_eq!(out.status.code(), Some(2), "the edit went unseen: {out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("azdo.keyringTimeout"), "{out:?}");
}

/// Hole 10: a relative HOME would put the store inside whatever repository git runs in: the
/// helper refuses it, and writes nothing under the current directory.
#[cfg(unix)]
#[test]
fn a_relative_home_is_refused() {
    let mut env = TestEnv::new();
    env.set("HOME", "relative-home");
    env.unset("XDG_DATA_HOME");
    env.unset("XDG_CACHE_HOME");
    let run = env.helper(&["store"], b"protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\npassword=p-1\n");
    assert_ne!(run.status, 0, "{run:?}");
    assert!(run.stderr.contains("relative"), "{run:?}");
    assert!(!env.home.join("relative-home").exists(), "something was written under the current directory");
}

/// Hole 3: a stored entry whose PAT git cannot take (a line break in it) does not jam the org:
/// it is removed with one line, and the next `get` goes on as if nothing were stored.
#[test]
fn a_stored_pat_git_cannot_take_is_removed() {
    let env = TestEnv::new();
    let path = env.store_file();
    std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
    common::set_mode(path.parent().expect("dir"), 0o700);
    let doc = r#"{"version":1,"organizations":{"contoso":{"pat":"abc\ndef","origin":"git","stored_at":1}}}"#;
    std::fs::write(&path, doc).expect("write");
    common::set_mode(&path, 0o600);
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!((run.status, run.stdout.as_str()), (0, ""), "{run:?}");
    assert!(run.stderr.contains("control characters") && run.stderr.contains("removed it"), "{run:?}");
    assert!(!std::fs::read_to_string(&path).expect("store").contains("abc"), "the entry is still there");
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
}

/// Hole 2: `AZURE_DEVOPS_EXT_PAT` is a PAT of the real service: another `azdo.url` origin
/// never gets it.
#[test]
fn the_azure_cli_variable_is_not_given_to_another_origin() {
    let mut env = TestEnv::new();
    env.set("AZURE_DEVOPS_EXT_PAT", "real-service-pat");
    env.set("GIT_CREDENTIAL_AZDO_URL", "http://127.0.0.1:9");
    let run = env.helper(&["get"], b"protocol=http\nhost=127.0.0.1:9\npath=contoso/p/_git/r\n");
    assert!(!run.stdout.contains("real-service-pat"), "{run:?}");
    let run = env.helper(&["get"], b"protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n");
    assert!(!run.stdout.contains("real-service-pat"), "dev.azure.com is not served while azdo.url replaces it");
}
