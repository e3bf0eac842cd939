//! The human CLI through the real binary and real git: help and version, usage errors, the
//! silence git's protocol requires for unknown operations, configure/unconfigure against real git
//! config, and login/logout/list/status against the store, never printing a PAT.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common;
use crate::common::{bin, Run, TestEnv};
use serde_json::Value;

const PAT: &str = "pat-0123456789abcdefghijklmnopqrstuvwxyz";
const OTHER_PAT: &str = "other-pat-zyxwvutsrqponmlkjihgfedcba9876";

const DEV_HELPER: &str = "credential.https://dev.azure.com.helper";
const VS_HELPER: &str = "credential.https://*.visualstudio.com.helper";
const USE_HTTP_PATH: &str = "credential.https://dev.azure.com.usehttppath";

/// The helper value `configure` must write: this binary's absolute path (quoted when needed).
fn expected_helper() -> String {
    let exe = std::fs::canonicalize(bin()).expect("binary path");
    assert!(exe.is_absolute());
    git_credential_azdo::setup::helper_value(&exe)
}

/// A failure the helper reports: exit `code`, nothing on stdout, exactly one line on stderr.
#[track_caller]
fn assert_one_line_error(run: &Run, code: i32) {
    assert_eq!(run.status, code, "{run:?}");
    assert!(run.stdout.is_empty(), "stdout must stay empty on error: {run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {run:?}");
    assert!(lines[0].starts_with("git-credential-azdo: "), "{run:?}");
}

/// A clap usage error: exit 2, nothing on stdout, an `error:` on stderr.
#[track_caller]
fn assert_usage_error(run: &Run) {
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(run.stderr.starts_with("error: "), "{run:?}");
    assert!(run.stderr.contains("Usage: git-credential-azdo"), "{run:?}");
}

#[track_caller]
fn ok(run: Run) -> Run {
    assert_eq!(run.status, 0, "{run:?}");
    run
}

/// `git config <scope...> --get-all key`, one value per line (an empty value is an empty line).
fn get_all(env: &TestEnv, scope: &[&str], key: &str) -> Vec<String> {
    let mut args = vec!["config"];
    args.extend_from_slice(scope);
    args.extend_from_slice(&["--get-all", key]);
    let run = env.git(&args, b"");
    assert!(run.status == 0 || run.status == 1, "{run:?}");
    run.stdout.lines().map(str::to_owned).collect()
}

fn global_list(env: &TestEnv) -> String {
    ok(env.git(&["config", "--global", "--list"], b"")).stdout
}

fn git_set(env: &TestEnv, args: &[&str]) {
    let mut all = vec!["config"];
    all.extend_from_slice(args);
    ok(env.git(&all, b""));
}

/// A global config with unrelated settings, including a plain credential helper.
fn seeded_env() -> TestEnv {
    let env = TestEnv::new();
    git_set(&env, &["--global", "user.name", "Test Person"]);
    git_set(&env, &["--global", "credential.helper", "cache"]);
    env
}

/// The helper's `get` for an org, as git would ask it with useHttpPath.
fn get(env: &TestEnv, org: &str) -> Run {
    let input = format!("protocol=https\nhost=dev.azure.com\npath={org}/p/_git/r\n\n");
    env.helper(&["get"], input.as_bytes())
}

fn list_json(env: &TestEnv) -> Vec<Value> {
    let run = ok(env.helper(&["list", "--json"], b""));
    match serde_json::from_str(&run.stdout).expect("list --json is JSON") {
        Value::Array(items) => items,
        other => panic!("list --json is not an array: {other}"),
    }
}

fn no_pat_in(run: &Run) {
    for pat in [PAT, OTHER_PAT] {
        assert!(!run.stdout.contains(pat) && !run.stderr.contains(pat), "PAT leaked: {run:?}");
    }
}

// --- help, version, usage -----------------------------------------------------------------------

/// The usage line of `verb`'s help: clap names the program as it was started (`.exe` on Windows).
fn usage(verb: &str) -> String {
    format!("Usage: git-credential-azdo{} {verb}", std::env::consts::EXE_SUFFIX)
}

#[test]
fn help_works_for_the_top_level_and_every_verb() {
    let env = TestEnv::new();
    let top = ok(env.helper(&["--help"], b""));
    for verb in ["login", "logout", "list", "status", "configure", "unconfigure"] {
        assert!(top.stdout.contains(verb), "top-level help names {verb}: {top:?}");
        for flag in ["--help", "-h"] {
            let run = ok(env.helper(&[verb, flag], b""));
            assert!(run.stdout.contains(&usage(verb)), "{verb} {flag}: {run:?}");
        }
        let run = ok(env.helper(&["help", verb], b""));
        assert!(run.stdout.contains(&usage(verb)), "{run:?}");
    }
    ok(env.helper(&["-h"], b""));
    ok(env.helper(&["help"], b""));
}

#[test]
fn version_prints_the_crate_version() {
    let env = TestEnv::new();
    for flag in ["--version", "-V"] {
        let run = ok(env.helper(&[flag], b""));
        assert_eq!(run.stdout.trim(), format!("git-credential-azdo {}", env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn unknown_single_word_from_git_is_ignored_silently() {
    // gitcredentials(7): a helper must ignore operations it does not know (stdin is git's pipe).
    // `capability` is one this helper knows (git 2.46+): it answers it (tests/identities.rs).
    let env = TestEnv::new();
    for word in ["frobnicate", "state"] {
        let run = env.helper(&[word], b"protocol=https\nhost=dev.azure.com\n\n");
        assert_eq!(run.status, 0, "{run:?}");
        assert!(run.stdout.is_empty() && run.stderr.is_empty(), "{run:?}");
    }
    let run = env.helper(&["capability"], b"");
    assert_eq!((run.status, run.stdout.as_str()), (0, "version 0\ncapability authtype\n"), "{run:?}");
}

#[test]
fn usage_errors_exit_2() {
    let env = TestEnv::new();
    for args in [
        &["login"][..],
        &["logout"],
        &["frobnicate", "contoso"],
        &["--frobnicate"],
        &["list", "--yaml"],
        &["configure", "--global", "--local"],
        &["configure", "--global", "--file", "x.cfg"],
    ] {
        let run = env.helper(args, b"");
        assert_usage_error(&run);
    }
    let run = env.helper(&["frobnicate", "contoso"], b"");
    assert!(run.stderr.contains("unrecognized subcommand 'frobnicate'"), "{run:?}");
    // A usage error changes nothing.
    assert!(!env.gitconfig().exists());
    assert!(!env.store_exists());
}

/// Quote for sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn unknown_verb_typed_at_a_terminal_is_a_usage_error() {
    // With a terminal on stdin, a single unknown word is a person's typo, not a git operation.
    let Some(script) = common::which("script") else {
        eprintln!("SKIPPED: no script(1) to give the helper a terminal");
        return;
    };
    let env = TestEnv::new();
    let version = env.command(&script).arg("--version").output().expect("script --version");
    if !String::from_utf8_lossy(&version.stdout).contains("util-linux") {
        eprintln!("SKIPPED: script(1) is not util-linux's");
        return;
    }
    let out = env
        .command(&script)
        .args(["-qec", &format!("{} frobnicate", sh_quote(bin())), "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script");
    let run = Run::from(out);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stdout.contains("unrecognized subcommand 'frobnicate'"), "{run:?}");
}

// --- configure / unconfigure --------------------------------------------------------------------

#[test]
fn configure_global_writes_exactly_the_helper_keys() {
    if !common::has_git() {
        return;
    }
    let env = seeded_env();
    let before = global_list(&env);
    let run = ok(env.helper(&["configure", "--global"], b""));
    assert!(run.stdout.is_empty(), "configure reports on stderr: {run:?}");
    let helper = expected_helper();
    let g = ["--global"];
    assert_eq!(get_all(&env, &g, DEV_HELPER), ["", helper.as_str()]);
    assert_eq!(get_all(&env, &g, VS_HELPER), ["", helper.as_str()]);
    assert_eq!(get_all(&env, &g, USE_HTTP_PATH), ["true"]);
    // Unrelated settings are untouched.
    assert_eq!(get_all(&env, &g, "credential.helper"), ["cache"]);
    assert_eq!(get_all(&env, &g, "user.name"), ["Test Person"]);
    // Nothing else changed but those keys (and unconfigure's marker for useHttpPath).
    let after = global_list(&env);
    let added: Vec<&str> = after.lines().filter(|l| !before.lines().any(|b| b == *l)).collect();
    for line in &added {
        assert!(
            line.starts_with("credential.https://dev.azure.com.")
                || line.starts_with("credential.https://*.visualstudio.com.")
                || line.starts_with("azdo."),
            "unexpected key written: {line}"
        );
    }
    assert!(before.lines().all(|b| after.lines().any(|l| l == b)), "{before}\n---\n{after}");
}

#[test]
fn configure_is_idempotent_and_unconfigure_restores_the_config() {
    if !common::has_git() {
        return;
    }
    let env = seeded_env();
    let before = global_list(&env);
    ok(env.helper(&["configure", "--global"], b""));
    let once = global_list(&env);
    let run = ok(env.helper(&["configure", "--global"], b""));
    assert_eq!(global_list(&env), once, "configure twice changes nothing: {run:?}");
    assert_ne!(once, before);

    let run = ok(env.helper(&["unconfigure", "--global"], b""));
    assert!(run.stdout.is_empty(), "{run:?}");
    assert_eq!(global_list(&env), before);
    assert_eq!(get_all(&env, &["--global"], "credential.helper"), ["cache"]);
    // No empty sections are left behind.
    let text = std::fs::read_to_string(env.gitconfig()).expect("gitconfig");
    assert!(!text.contains("dev.azure.com") && !text.contains("[azdo]"), "{text}");

    // Unconfiguring again is harmless.
    let run = ok(env.helper(&["unconfigure", "--global"], b""));
    assert!(run.stderr.contains("nothing to remove"), "{run:?}");
    assert_eq!(global_list(&env), before);
}

#[test]
fn unconfigure_leaves_a_use_http_path_the_user_set() {
    if !common::has_git() {
        return;
    }
    for value in ["true", "false"] {
        let env = seeded_env();
        git_set(&env, &["--global", "credential.https://dev.azure.com.useHttpPath", value]);
        let before = global_list(&env);
        ok(env.helper(&["configure", "--global"], b""));
        let run = env.git(&["config", "--global", "--type=bool", "--get", USE_HTTP_PATH], b"");
        assert_eq!(run.stdout.trim(), "true", "configure turns useHttpPath on: {run:?}");
        ok(env.helper(&["configure", "--global"], b""));
        ok(env.helper(&["unconfigure", "--global"], b""));
        assert_eq!(get_all(&env, &["--global"], USE_HTTP_PATH), [value], "user's {value}");
        assert_eq!(global_list(&env), before, "user's {value}");
    }
}

#[test]
fn unconfigure_without_a_config_file_has_nothing_to_remove() {
    if !common::has_git() {
        return;
    }
    let env = TestEnv::new();
    let run = ok(env.helper(&["unconfigure", "--global"], b""));
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(run.stderr.contains("nothing to remove"), "{run:?}");
    assert!(!env.gitconfig().exists());
    let file = env.root.path().join("absent.cfg");
    let run = ok(env.helper(&["unconfigure", "--file", file.to_str().expect("utf-8")], b""));
    assert!(run.stderr.contains("nothing to remove"), "{run:?}");
    assert!(!file.exists());
}

#[test]
fn configure_file_writes_that_file_only() {
    if !common::has_git() {
        return;
    }
    let env = seeded_env();
    let before = global_list(&env);
    let file = env.root.path().join("azdo.gitconfig");
    let f = file.to_str().expect("utf-8 path");
    ok(env.helper(&["configure", "--file", f], b""));
    let helper = expected_helper();
    let scope = ["--file", f];
    assert_eq!(get_all(&env, &scope, DEV_HELPER), ["", helper.as_str()]);
    assert_eq!(get_all(&env, &scope, VS_HELPER), ["", helper.as_str()]);
    assert_eq!(get_all(&env, &scope, USE_HTTP_PATH), ["true"]);
    assert_eq!(global_list(&env), before, "the global config is untouched");

    ok(env.helper(&["unconfigure", "--file", f], b""));
    let run = env.git(&["config", "--file", f, "--list"], b"");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert_eq!(global_list(&env), before);
}

#[test]
fn configure_local_writes_the_repository_config() {
    if !common::has_git() {
        return;
    }
    let env = seeded_env();
    let repo = env.home.join("repo");
    ok(env.git(&["init", "-q", repo.to_str().expect("utf-8")], b""));
    let before = global_list(&env);
    let out = env
        .command(bin())
        .args(["configure", "--local"])
        .current_dir(&repo)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    ok(Run::from(out));
    let local = repo.join(".git/config");
    let l = local.to_str().expect("utf-8");
    assert_eq!(get_all(&env, &["--file", l], DEV_HELPER), ["", expected_helper().as_str()]);
    assert_eq!(global_list(&env), before);

    // Outside a repository --local is an error, on one line.
    let run = env.helper(&["configure", "--local"], b"");
    assert_one_line_error(&run, 1);
}

#[test]
fn configure_replaces_an_older_install_of_this_helper() {
    if !common::has_git() {
        return;
    }
    let env = seeded_env();
    git_set(&env, &["--global", "--add", DEV_HELPER, "/old/place/git-credential-azdo"]);
    ok(env.helper(&["configure", "--global"], b""));
    assert_eq!(get_all(&env, &["--global"], DEV_HELPER), ["", expected_helper().as_str()]);
}

#[test]
fn configure_then_git_credential_fill_finds_the_helper() {
    if !common::has_git() {
        return;
    }
    let env = TestEnv::new();
    env.configure();
    env.login("contoso", PAT);
    let run = ok(env.fill("https://dev.azure.com/contoso/proj/_git/repo"));
    assert!(run.stdout.lines().any(|l| l == format!("password={PAT}")), "{run:?}");
    // Another org has nothing stored: git gets nothing (prompts are off), no PAT leaks across.
    let run = env.fill("https://dev.azure.com/fabrikam/proj/_git/repo");
    assert_ne!(run.status, 0, "{run:?}");
    assert!(!run.stdout.contains(PAT), "{run:?}");
    // The legacy host is covered too.
    let run = ok(env.fill("https://contoso.visualstudio.com/proj/_git/repo"));
    assert!(run.stdout.lines().any(|l| l == format!("password={PAT}")), "{run:?}");

    // After unconfigure git no longer asks this helper.
    ok(env.helper(&["unconfigure", "--global"], b""));
    let run = env.fill("https://dev.azure.com/contoso/proj/_git/repo");
    assert!(!run.stdout.contains(PAT), "{run:?}");
}

#[test]
fn configure_from_a_path_with_spaces_quotes_it_for_git() {
    if !common::has_git() {
        return;
    }
    let env = TestEnv::new();
    let dir = env.root.path().join("my tools");
    std::fs::create_dir_all(&dir).expect("dir");
    // The helper (on Linux with the full program it runs) in that directory.
    let exe = common::bin_copy_in(&dir);
    // A child another test thread forks while a copy is open for writing holds that descriptor
    // until its exec: running the copy then fails with ETXTBSY for a moment. Try again briefly.
    let mut tries = 0;
    let run = loop {
        match env.command(&exe).args(["configure", "--global"]).stdin(Stdio::null()).output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other,
        }
    };
    ok(Run::from(run.expect("run copy")));
    let value = get_all(&env, &["--global"], DEV_HELPER);
    let exe = std::fs::canonicalize(&exe).expect("canonical");
    assert_eq!(value, ["".to_owned(), format!("!{}", sh_quote(exe.to_str().expect("utf-8")))]);
    env.login("contoso", PAT);
    let run = ok(env.fill("https://dev.azure.com/contoso/proj/_git/repo"));
    assert!(run.stdout.contains(&format!("password={PAT}")), "{run:?}");
    // Any install of this helper recognises the quoted one as its own.
    ok(env.helper(&["unconfigure", "--global"], b""));
    assert!(get_all(&env, &["--global"], DEV_HELPER).is_empty());
}

#[test]
fn git_runs_the_verbs_as_git_credential_azdo() {
    if !common::has_git() {
        return;
    }
    let mut env = TestEnv::new();
    let bin_dir = Path::new(bin()).parent().expect("bin dir").to_owned();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = vec![bin_dir];
    dirs.extend(std::env::split_paths(&path));
    env.set("PATH", std::env::join_paths(dirs).expect("PATH"));
    ok(env.git(&["credential-azdo", "configure"], b""));
    assert_eq!(get_all(&env, &["--global"], DEV_HELPER), ["", expected_helper().as_str()]);
    let run = env.git(&["credential-azdo", "login", "contoso", "--pat-stdin"], PAT.as_bytes());
    ok(run);
    let run = ok(env.git(&["credential-azdo", "list"], b""));
    assert!(run.stdout.contains("contoso"), "{run:?}");
}

// --- login / logout -----------------------------------------------------------------------------

#[test]
fn login_stores_a_pat_that_get_returns() {
    let env = TestEnv::new();
    let run = ok(env.helper(&["login", "contoso", "--pat-stdin"], format!("{PAT}\n").as_bytes()));
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(run.stderr.contains("contoso"), "{run:?}");
    no_pat_in(&run);
    let run = ok(get(&env, "contoso"));
    assert!(run.stdout.lines().any(|l| l == format!("password={PAT}")), "{run:?}");
    // login again replaces it.
    env.login("contoso", OTHER_PAT);
    let run = ok(get(&env, "contoso"));
    assert!(run.stdout.lines().any(|l| l == format!("password={OTHER_PAT}")), "{run:?}");
}

#[test]
fn login_accepts_urls_and_stores_the_org_lower_case() {
    let env = TestEnv::new();
    env.login("https://dev.azure.com/Contoso/p/_git/r", PAT);
    env.login("https://Fabrikam.visualstudio.com/DefaultCollection", OTHER_PAT);
    let orgs: Vec<String> =
        list_json(&env).iter().map(|o| o["organization"].as_str().expect("name").to_owned()).collect();
    assert_eq!(orgs, ["contoso", "fabrikam"]);
    let run = ok(get(&env, "contoso"));
    assert!(run.stdout.contains(&format!("password={PAT}")), "{run:?}");
    let run = ok(get(&env, "fabrikam"));
    assert!(run.stdout.contains(&format!("password={OTHER_PAT}")), "{run:?}");
}

#[test]
fn login_refuses_invalid_orgs_with_exit_2() {
    let env = TestEnv::new();
    for org in [
        "bad/name",
        "dash-",
        "under score!",
        "",
        "https://github.com/contoso",
        "https://dev.azure.com",
        "http://dev.azure.com/contoso",
        "https://dev.azure.com.evil.example/contoso",
    ] {
        let run = env.helper(&["login", org, "--pat-stdin"], PAT.as_bytes());
        assert_one_line_error(&run, 2);
        no_pat_in(&run);
    }
    assert!(!env.store_exists(), "nothing was stored");
}

#[test]
fn login_refuses_an_empty_or_garbled_pat() {
    let env = TestEnv::new();
    for input in [&b""[..], b"\n", b"   \n", b"abc\x1bdef\n"] {
        let run = env.helper(&["login", "contoso", "--pat-stdin"], input);
        assert_one_line_error(&run, 1);
        assert!(run.stderr.contains("no PAT given"), "{run:?}");
    }
    // Without --pat-stdin and without a terminal there is nobody to ask.
    let run = env.helper(&["login", "contoso"], PAT.as_bytes());
    assert_one_line_error(&run, 1);
    assert!(run.stderr.contains("--pat-stdin"), "{run:?}");
    assert!(list_json(&env).is_empty());
}

#[test]
fn logout_removes_only_that_org() {
    let env = TestEnv::new();
    env.login("contoso", PAT);
    env.login("fabrikam", OTHER_PAT);
    let run = ok(env.helper(&["logout", "contoso"], b""));
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(run.stderr.contains("contoso"), "{run:?}");
    let run = ok(get(&env, "contoso"));
    assert!(run.stdout.is_empty(), "nothing stored any more: {run:?}");
    let run = ok(get(&env, "fabrikam"));
    assert!(run.stdout.contains(&format!("password={OTHER_PAT}")), "{run:?}");

    // Nothing stored: exit 1 with a clear line; the other org is still untouched.
    let run = env.helper(&["logout", "contoso"], b"");
    assert_one_line_error(&run, 1);
    assert!(run.stderr.contains("no PAT stored for contoso"), "{run:?}");
    let run = env.helper(&["logout", "https://dev.azure.com/nobody/p"], b"");
    assert_one_line_error(&run, 1);
    let run = env.helper(&["logout", "bad/name"], b"");
    assert_one_line_error(&run, 2);
    let run = ok(get(&env, "fabrikam"));
    assert!(run.stdout.contains(&format!("password={OTHER_PAT}")), "{run:?}");

    // Logout by URL works too.
    ok(env.helper(&["logout", "https://Fabrikam.visualstudio.com"], b""));
    assert!(list_json(&env).is_empty());
}

// --- list / status ------------------------------------------------------------------------------

#[test]
fn list_shows_orgs_and_metadata_never_the_pat() {
    let env = TestEnv::new();
    let run = ok(env.helper(&["list"], b""));
    assert!(run.stdout.is_empty() && run.stderr.contains("No PATs stored"), "{run:?}");
    assert!(list_json(&env).is_empty());

    env.login("contoso", PAT);
    env.login("fabrikam", OTHER_PAT);
    let run = ok(env.helper(&["list"], b""));
    no_pat_in(&run);
    let rows: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(rows.len(), 3, "header and one row per org: {run:?}");
    assert!(rows[0].starts_with("ORGANIZATION"), "{run:?}");
    assert!(rows[1].starts_with("contoso ") && rows[1].contains("login"), "{run:?}");
    assert!(rows[2].starts_with("fabrikam "), "{run:?}");

    let run = ok(env.helper(&["list", "--json"], b""));
    no_pat_in(&run);
    let items = list_json(&env);
    assert_eq!(items.len(), 2);
    for (item, org) in items.iter().zip(["contoso", "fabrikam"]) {
        assert_eq!(item["organization"], org);
        assert_eq!(item["url"], format!("https://dev.azure.com/{org}"));
        assert_eq!(item["store"], "file");
        assert_eq!(item["origin"], "login");
        assert!(item["stored_at"].as_i64().is_some_and(|t| t > 0), "{item}");
        let text = item.to_string();
        assert!(!text.contains(PAT) && !text.contains(OTHER_PAT), "{text}");
        assert!(item.get("pat").is_none() && item.get("password").is_none(), "{text}");
    }
}

#[test]
fn status_reports_without_the_pat() {
    let mut env = TestEnv::new();
    env.login("contoso", PAT);
    let run = ok(env.helper(&["status"], b""));
    no_pat_in(&run);
    assert!(run.stdout.contains("store: file"), "{run:?}");
    assert!(run.stdout.contains("organizations stored: 1"), "{run:?}");

    let run = ok(env.helper(&["status", "contoso"], b""));
    no_pat_in(&run);
    assert!(run.stdout.contains("contoso: PAT stored"), "{run:?}");
    let run = ok(env.helper(&["status", "https://dev.azure.com/Contoso/p/_git/r"], b""));
    assert!(run.stdout.contains("contoso: PAT stored"), "{run:?}");

    // Nothing stored: exit 1, the reason on one line of stderr, no PAT anywhere.
    let run = env.helper(&["status", "fabrikam"], b"");
    assert_eq!(run.status, 1, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.contains("no PAT stored for fabrikam"), "{run:?}");
    no_pat_in(&run);
    let run = env.helper(&["status", "bad/name"], b"");
    assert_one_line_error(&run, 2);

    // A PAT in the environment is mentioned, never shown.
    env.set("AZURE_DEVOPS_EXT_PAT", OTHER_PAT);
    let run = ok(env.helper(&["status"], b""));
    assert!(run.stdout.contains("AZURE_DEVOPS_EXT_PAT is set"), "{run:?}");
    no_pat_in(&run);
}

// --- errors -------------------------------------------------------------------------------------

#[test]
fn store_and_config_errors_are_one_line() {
    let mut env = TestEnv::new();
    env.login("contoso", PAT);
    let file = env.store_file();
    let own = common::org_files(&file).pop().expect("contoso's own file");
    // contoso's own file (what `status` reads) and the store file (what `list` and every change
    // read first).
    for file in [&file, &own] {
        std::fs::write(file, "{ not json\n").expect("corrupt");
        common::set_mode(file, 0o600);
    }
    for args in [&["list"][..], &["list", "--json"], &["status", "contoso"], &["logout", "contoso"]] {
        let run = env.helper(args, b"");
        assert_one_line_error(&run, 1);
        assert!(run.stderr.contains("not a valid credential file"), "{args:?}: {run:?}");
    }
    let run = env.helper(&["login", "contoso", "--pat-stdin"], PAT.as_bytes());
    assert_one_line_error(&run, 1);
    no_pat_in(&run);
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "{ not json\n", "left untouched");
    assert_eq!(std::fs::read_to_string(&own).expect("read"), "{ not json\n", "left untouched");

    env.set("GIT_CREDENTIAL_AZDO_STORE", "vault\nx");
    for args in [&["list"][..], &["status"], &["login", "contoso", "--pat-stdin"]] {
        let run = env.helper(args, PAT.as_bytes());
        assert_one_line_error(&run, 2);
        assert!(run.stderr.contains("azdo.store"), "{run:?}");
    }
}

// --- the real keyring ---------------------------------------------------------------------------

#[cfg(target_os = "linux")] // a real Secret Service
#[test]
fn login_list_logout_through_the_keyring() {
    let Some(env) = TestEnv::with_keyring() else {
        return;
    };
    env.login("contoso", PAT);
    env.login("fabrikam", OTHER_PAT);
    let items = list_json(&env);
    let orgs: Vec<&str> = items.iter().filter_map(|o| o["organization"].as_str()).collect();
    assert_eq!(orgs, ["contoso", "fabrikam"]);
    assert!(items.iter().all(|o| o["store"] == "keyring"));
    no_pat_in(&ok(env.helper(&["list", "--json"], b"")));
    no_pat_in(&ok(env.helper(&["status", "contoso"], b"")));
    let run = ok(get(&env, "contoso"));
    assert!(run.stdout.contains(&format!("password={PAT}")), "{run:?}");
    ok(env.helper(&["logout", "contoso"], b""));
    assert!(ok(get(&env, "contoso")).stdout.is_empty());
    let run = ok(get(&env, "fabrikam"));
    assert!(run.stdout.contains(&format!("password={OTHER_PAT}")), "{run:?}");
    assert_one_line_error(&env.helper(&["logout", "contoso"], b""), 1);
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let env = TestEnv::new();
    for (shell, marker) in [
        ("bash", "complete -F _git__credential__azdo"),
        ("zsh", "#compdef git-credential-azdo"),
        ("fish", "complete -c git-credential-azdo"),
    ] {
        let run = env.helper(&["completions", shell], b"");
        assert_eq!(run.status, 0, "{run:?}");
        assert!(run.stdout.contains(marker), "{shell}: {}", &run.stdout[..run.stdout.len().min(200)]);
        for verb in ["login", "logout", "doctor", "import"] {
            assert!(run.stdout.contains(verb), "{shell} completion lacks {verb}");
        }
    }
    let man = env.helper(&["man"], b"");
    assert_eq!(man.status, 0, "{man:?}");
    assert!(
        man.stdout.contains(".TH git-credential-azdo 1") && man.stdout.contains("configure"),
        "{}",
        &man.stdout[..200]
    );
}

/// `git credential-azdo completions bash | head`: a reader that closes the pipe early ends the
/// command quietly, with success, as other command-line programs do (it used to panic).
#[test]
fn completions_and_man_end_quietly_when_the_reader_closes_the_pipe() {
    let env = TestEnv::new();
    for args in [&["completions", "bash"][..], &["completions", "zsh"], &["man"]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = env.command(common::bin()).args(args).stdin(Stdio::null()).stdout(writer).output().expect("run");
        let run: Run = out.into();
        assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{args:?}: {run:?}");
    }
}
