//! Real git (`git credential fill | approve | reject`) driving the helper, configured exactly as
//! `configure` writes it, for every URL form.

use crate::common;
use crate::common::{Run, TestEnv};

fn password(run: &Run) -> Option<&str> {
    run.stdout.lines().find_map(|l| l.strip_prefix("password="))
}

/// URL forms of the same org, as remotes are written.
const FORMS: &[&str] = &[
    "https://dev.azure.com/contoso/proj/_git/repo",
    "https://contoso@dev.azure.com/contoso/proj/_git/repo",
    "https://dev.azure.com/Contoso/proj/_git/repo",
    "https://dev.azure.com:443/contoso/proj/_git/repo",
    "https://contoso.visualstudio.com/proj/_git/repo",
    "https://contoso.visualstudio.com/DefaultCollection/proj/_git/repo",
    "https://Contoso.visualstudio.com:443/proj/_git/repo",
];

fn configured() -> TestEnv {
    let env = TestEnv::new();
    env.configure();
    env
}

#[test]
fn every_url_form_finds_the_one_entry_of_its_org() {
    if !common::has_git() {
        return;
    }
    for approve_form in FORMS {
        let env = configured();
        let run = env.approve(approve_form, "someone", "pat-of-contoso");
        assert_eq!(run.status, 0, "approve {approve_form}: {run:?}");
        for fill_form in FORMS {
            let run = env.fill(fill_form);
            assert_eq!(run.status, 0, "{approve_form} → {fill_form}: {run:?}");
            assert_eq!(password(&run), Some("pat-of-contoso"), "{approve_form} → {fill_form}: {run:?}");
        }
    }
}

#[test]
fn username_only_form_works_without_use_http_path() {
    if !common::has_git() {
        return;
    }
    let env = TestEnv::new();
    // Only the helper, no useHttpPath: git sends no path; the username names the org.
    let bin = common::bin();
    let run = env.git(&["config", "--global", "credential.helper", bin], b"");
    assert_eq!(run.status, 0);
    env.login("contoso", "pat-u");
    let run = env.fill("https://contoso@dev.azure.com/contoso/proj/_git/repo");
    assert_eq!(password(&run), Some("pat-u"), "{run:?}");
    // Without the username, the helper says how to fix it and git goes on to its own prompt.
    let run = env.fill("https://dev.azure.com/contoso/proj/_git/repo");
    assert_ne!(run.status, 0, "{run:?}");
    assert!(run.stderr.contains("git credential-azdo configure"), "{run:?}");
}

#[cfg(unix)]
#[test]
fn helper_found_by_name_on_path() {
    let mut env = TestEnv::new();
    let bin_dir = env.root.path().join("bin");
    std::fs::create_dir_all(&bin_dir).expect("bin dir");
    std::os::unix::fs::symlink(common::bin(), bin_dir.join("git-credential-azdo")).expect("symlink");
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    env.set("PATH", path);
    for (key, value) in
        [("credential.https://dev.azure.com.helper", "azdo"), ("credential.https://dev.azure.com.useHttpPath", "true")]
    {
        assert_eq!(env.git(&["config", "--global", key, value], b"").status, 0);
    }
    env.login("contoso", "pat-by-name");
    let run = env.fill("https://dev.azure.com/contoso/proj/_git/repo");
    assert_eq!(password(&run), Some("pat-by-name"), "{run:?}");
}

#[test]
fn orgs_are_kept_apart() {
    if !common::has_git() {
        return;
    }
    let env = configured();
    assert_eq!(env.approve("https://dev.azure.com/contoso/p/_git/r", "u", "pat-c").status, 0);
    assert_eq!(env.approve("https://dev.azure.com/fabrikam/p/_git/r", "u", "pat-f").status, 0);
    assert_eq!(password(&env.fill("https://dev.azure.com/contoso/x/_git/y")), Some("pat-c"));
    assert_eq!(password(&env.fill("https://fabrikam.visualstudio.com/x/_git/y")), Some("pat-f"));
    assert_eq!(env.reject("https://dev.azure.com/fabrikam/p/_git/r", "username=u\npassword=pat-f\n").status, 0);
    assert_eq!(password(&env.fill("https://dev.azure.com/contoso/x/_git/y")), Some("pat-c"));
    assert_eq!(password(&env.fill("https://dev.azure.com/fabrikam/x/_git/y")), None);
}

#[test]
fn reject_erases_only_the_rejected_pat() {
    if !common::has_git() {
        return;
    }
    let env = configured();
    let url = "https://dev.azure.com/contoso/proj/_git/repo";
    assert_eq!(env.approve(url, "u", "current").status, 0);
    assert_eq!(env.reject(url, "username=u\npassword=some-older-pat\n").status, 0);
    assert_eq!(password(&env.fill(url)), Some("current"), "rejecting another PAT erased the stored one");
    assert_eq!(env.reject(url, "username=u\npassword=current\n").status, 0);
    assert_eq!(password(&env.fill(url)), None);
}

#[test]
fn a_miss_leaves_git_to_its_own_prompt_with_nothing_from_the_helper() {
    if !common::has_git() {
        return;
    }
    let env = configured();
    let run = env.fill("https://dev.azure.com/contoso/proj/_git/repo");
    assert_ne!(run.status, 0);
    // git's own message only: the helper said nothing.
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.contains("terminal prompts disabled"), "{run:?}");
}

#[test]
fn other_hosts_never_reach_the_store() {
    if !common::has_git() {
        return;
    }
    let env = TestEnv::new();
    // Even as a global helper for every host.
    assert_eq!(env.git(&["config", "--global", "credential.helper", common::bin()], b"").status, 0);
    let run = env.approve("https://github.com/contoso/repo", "u", "gh-token");
    assert_eq!(run.status, 0, "{run:?}");
    let run = env.fill("https://github.com/contoso/repo");
    assert_eq!(password(&run), None);
    assert!(!run.stderr.contains("azdo"), "{run:?}");
    assert!(!env.store_exists());
}

#[cfg(unix)]
#[test]
fn a_pat_typed_at_the_prompt_is_kept_once_git_approves_it() {
    let mut env = configured();
    let script = env.script("askpass", "echo typed-at-prompt");
    env.set("GIT_ASKPASS", &script);
    env.unset("GIT_TERMINAL_PROMPT");
    let url = "https://dev.azure.com/contoso/proj/_git/repo";
    let run = env.fill(url);
    assert_eq!(password(&run), Some("typed-at-prompt"), "{run:?}");
    assert!(!env.store_exists(), "stored before git confirmed it");
    assert_eq!(env.approve(url, "contoso", "typed-at-prompt").status, 0);
    env.unset("GIT_ASKPASS");
    env.set("GIT_TERMINAL_PROMPT", "0");
    assert_eq!(password(&env.fill(url)), Some("typed-at-prompt"));
}

#[cfg(target_os = "linux")] // a real Secret Service
#[test]
fn keyring_store_end_to_end() {
    let Some(env) = TestEnv::with_keyring() else {
        return;
    };
    env.configure();
    let url = "https://contoso@dev.azure.com/contoso/proj/_git/repo";
    assert_eq!(env.approve(url, "contoso", "kr-e2e").status, 0);
    assert_eq!(password(&env.fill("https://contoso.visualstudio.com/proj/_git/repo")), Some("kr-e2e"));
    assert_eq!(env.reject(url, "username=contoso\npassword=kr-e2e\n").status, 0);
    assert_eq!(password(&env.fill(url)), None);
}
