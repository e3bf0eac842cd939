//! Minting: Entra sign-in (device code, refresh token, Azure CLI) and the PAT lifecycle API,
//! end to end with real git against the fake.

use crate::common;
use crate::common::{Run, TestEnv};
use fake_azdo::{DeviceFlow, FakeAzdo, PatPolicy, Route};

const UPN: &str = "alice@contoso.example";

struct World {
    fake: FakeAzdo,
    env: TestEnv,
}

/// A fake with `contoso/proj/repo`, instant device-code polling, and a helper that may mint
/// (device code allowed: tests have no terminal), with an askpass that answers nothing.
fn world() -> World {
    let fake = FakeAzdo::start();
    fake.add_repo("contoso", "proj", "repo");
    fake.set_device_flow_timing(0, 900);
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    env.set("GIT_CREDENTIAL_AZDO_MINT", "auto");
    env.set("GIT_CREDENTIAL_AZDO_TOKEN_SOURCE", "device");
    env.unset("GIT_TERMINAL_PROMPT");
    let silent = common::silent_askpass(&env);
    env.set("GIT_ASKPASS", silent);
    World { fake, env }
}

impl World {
    fn url(&self) -> String {
        self.fake.repo_url("contoso", "proj", "repo")
    }

    /// A first clone that signs in (device code, approved) and mints the org's PAT.
    fn first_mint(&self) {
        self.fake.approve_device_flow(DeviceFlow::Next, UPN);
        let run = self.clone("c1");
        assert_eq!(run.status, 0, "{run:?}");
    }

    fn clone(&self, into: &str) -> Run {
        self.env.git(&["clone", "-q", &self.url(), &self.env.home.join(into).to_string_lossy()], b"")
    }

    fn stored(&self) -> serde_json::Value {
        common::store_doc(&self.env.store_file())
    }

    /// Make the stored PAT look minted `days` ago (its expiry unchanged), as if time had passed.
    fn age_minted(&self, days: i64) {
        let path = self.env.store_file();
        let mut doc = self.stored();
        let entry = &mut doc["organizations"]["contoso"];
        let stored_at = entry["stored_at"].as_i64().expect("stored_at");
        entry["stored_at"] = (stored_at - days * 86_400).into();
        common::write_store(&path, &doc);
    }

    fn stored_pat(&self) -> Option<String> {
        self.stored()["organizations"]["contoso"]["pat"].as_str().map(str::to_owned)
    }
}

#[test]
fn a_first_clone_signs_in_once_and_mints_one_pat() {
    if !common::has_git() {
        return;
    }
    let w = world();
    w.fake.approve_device_flow(DeviceFlow::Next, UPN);
    let run = w.clone("c1");
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(w.fake.count(Route::PatCreate), 1, "exactly one mint");
    assert_eq!(w.fake.device_flows().len(), 1, "exactly one sign-in");
    let minted = w.fake.minted("contoso");
    assert_eq!(minted.len(), 1);
    let pat = &minted[0];
    assert_eq!(pat.scope, "vso.code_write", "least privilege by default");
    assert!(pat.display_name.starts_with("git-credential-azdo on "), "{}", pat.display_name);
    assert!(!pat.all_orgs);
    let doc = w.stored();
    let entry = &doc["organizations"]["contoso"];
    assert_eq!(entry["pat"].as_str(), Some(pat.token.as_str()));
    assert_eq!(entry["origin"].as_str(), Some("minted"));
    assert_eq!(entry["authorization_id"].as_str(), Some(pat.authorization_id.as_str()));
    assert_eq!(entry["expires_at"].as_i64(), Some(pat.valid_to), "the service's validTo is stored");
    // A second clone uses it: no sign-in, no mint.
    let run = w.clone("c2");
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!((w.fake.count(Route::PatCreate), w.fake.device_flows().len()), (1, 1));
}

#[test]
fn later_mints_use_the_stored_refresh_token_without_asking() {
    if !common::has_git() {
        return;
    }
    let w = world();
    w.first_mint();
    assert_eq!(w.env.helper(&["logout", "contoso"], b"").status, 0);
    // Prompts off: only silent steps may run.
    let mut env = w.env;
    env.set("GIT_TERMINAL_PROMPT", "0");
    let run = env.git(
        &["clone", "-q", &w.fake.repo_url("contoso", "proj", "repo"), &env.home.join("c2").to_string_lossy()],
        b"",
    );
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(w.fake.device_flows().len(), 1, "no second sign-in");
    assert_eq!(w.fake.refresh_grants(), 1);
    assert_eq!(w.fake.count(Route::PatCreate), 2);
}

#[test]
fn parallel_gets_sign_in_once_mint_once_and_agree() {
    if !common::has_git() {
        return;
    }
    let w = world();
    w.fake.approve_device_flow(DeviceFlow::Next, UPN);
    let env = std::sync::Arc::new(w.env);
    let url = w.fake.repo_url("contoso", "proj", "repo");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (env, url) = (std::sync::Arc::clone(&env), url.clone());
            std::thread::spawn(move || env.fill(&url))
        })
        .collect();
    let answers: Vec<String> = handles
        .into_iter()
        .map(|h| {
            let run = h.join().expect("thread");
            assert_eq!(run.status, 0, "{run:?}");
            run.stdout.lines().find(|l| l.starts_with("password=")).expect("password").to_owned()
        })
        .collect();
    assert!(answers.iter().all(|a| *a == answers[0]), "different answers: {answers:?}");
    assert_eq!(w.fake.device_flows().len(), 1, "one sign-in");
    assert_eq!(w.fake.count(Route::PatCreate), 1, "one mint");
}

#[test]
fn a_pat_inside_the_renewal_window_is_rotated_and_the_old_one_revoked() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.first_mint();
    let old = w.fake.minted("contoso")[0].clone();
    // Thirty days left, renewed when less than 31 are (and the PAT is past half its life): due.
    w.age_minted(60);
    w.env.set("GIT_CREDENTIAL_AZDO_RENEW_BEFORE", "31");
    w.env.set("GIT_TERMINAL_PROMPT", "0");
    let run = w.env.fill(&w.url());
    let new = w.fake.minted("contoso").into_iter().find(|p| p.token != old.token).expect("a second PAT");
    assert!(run.stdout.contains(&format!("password={}", new.token)), "{run:?}");
    assert_eq!(w.stored_pat().as_deref(), Some(new.token.as_str()));
    assert_eq!(w.fake.is_revoked(&old.authorization_id), Some(true), "the replaced PAT is revoked");
    assert_eq!(w.fake.device_flows().len(), 1, "renewal never asks");
}

#[test]
fn renewal_failure_keeps_the_old_pat() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.first_mint();
    let old = w.fake.minted("contoso")[0].token.clone();
    w.fake.set_pat_policy("contoso", PatPolicy::DisableCreation);
    w.age_minted(60);
    w.env.set("GIT_CREDENTIAL_AZDO_RENEW_BEFORE", "31");
    let run = w.env.fill(&w.url());
    assert!(run.stdout.contains(&format!("password={old}")), "{run:?}");
    assert_eq!(w.stored_pat().as_deref(), Some(old.as_str()));
    assert_eq!(w.fake.is_revoked(&old), Some(false));
    // The failed attempt is remembered: the next commands do not try again within the hour.
    let attempts = w.fake.count(Route::PatCreate);
    let run = w.env.fill(&w.url());
    assert!(run.stdout.contains(&format!("password={old}")), "{run:?}");
    assert_eq!(w.fake.count(Route::PatCreate), attempts, "renewal retried at once");
}

#[test]
fn when_policy_forbids_pats_the_access_token_itself_is_used_and_never_stored() {
    if !common::has_git() {
        return;
    }
    let w = world();
    w.fake.set_pat_policy("contoso", PatPolicy::DisableCreation);
    w.fake.approve_device_flow(DeviceFlow::Next, UPN);
    let run = w.clone("c1");
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stderr.contains("PAT creation is disabled"), "{run:?}");
    assert_eq!(w.stored_pat(), None, "an access token must never be stored as a PAT");
    let fill = w.env.fill(&w.url());
    assert!(fill.stdout.contains("password=eyJ") && fill.stdout.contains("password_expiry_utc="), "{fill:?}");
}

#[test]
fn credential_type_oauth_hands_git_the_access_token() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.env.set("GIT_CREDENTIAL_AZDO_CREDENTIAL_TYPE", "oauth");
    w.first_mint();
    assert_eq!(w.fake.count(Route::PatCreate), 0);
    assert_eq!(w.stored_pat(), None);
    // git 2.47 took it as Bearer (capability[]=authtype).
    assert!(w.fake.git_auth_schemes().iter().any(|s| s == "Bearer"), "{:?}", w.fake.git_auth_schemes());
}

#[test]
fn a_declined_or_expired_sign_in_fails_cleanly_and_stores_nothing() {
    if !common::has_git() {
        return;
    }
    for decline in [true, false] {
        let w = world();
        if decline {
            w.fake.decline_next_device_flow();
        } else {
            w.fake.expire_next_device_flow();
        }
        let run = w.env.fill(&w.url());
        let password = run.stdout.lines().find_map(|l| l.strip_prefix("password=")).unwrap_or("");
        assert_eq!(password, "", "{run:?}");
        let expected = if decline { "declined" } else { "expired" };
        assert!(run.stderr.contains("sign-in for contoso failed") && run.stderr.contains(expected), "{run:?}");
        assert_eq!(w.stored_pat(), None);
        assert_eq!(w.fake.count(Route::PatCreate), 0);
    }
}

#[cfg(unix)]
#[test]
fn the_azure_cli_is_never_asked_for_a_token_another_identity_service_would_get() {
    // Hole 2: the Azure CLI's token belongs to the real service. With the identity service and
    // the authority pointed at the fake, it must never be fetched (the production-path tests
    // use it against the real hostnames).
    let mut w = world();
    let tokens = w.fake.issue_entra_tokens(UPN);
    let ran = w.env.root.path().join("az-ran");
    let az = format!(
        "touch '{}'; printf '%s' '{{\"accessToken\":\"{}\",\"expires_on\":4000000000,\"tokenType\":\"Bearer\"}}'",
        ran.display(),
        tokens.access_token
    );
    let bin = w.env.root.path().join("az-bin");
    std::fs::create_dir_all(&bin).expect("dir");
    std::fs::rename(w.env.script("az", &az), bin.join("az")).expect("az");
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    w.env.set("PATH", path);
    w.env.set("GIT_CREDENTIAL_AZDO_TOKEN_SOURCE", "azcli");
    w.env.set("GIT_TERMINAL_PROMPT", "0");
    let run = w.clone("c1");
    assert_ne!(run.status, 0, "nothing to clone with: {run:?}");
    assert!(!ran.exists(), "the Azure CLI was asked for a token the fake would receive");
    assert_eq!(w.fake.count(Route::PatCreate), 0);
    assert_eq!(w.fake.device_flows().len(), 0, "no interaction");
}

#[cfg(target_os = "linux")] // a real Secret Service
#[test]
fn tokens_never_appear_in_output_traces_or_files_other_than_the_store() {
    if !common::has_git() {
        return;
    }
    let Some(mut env) = TestEnv::with_keyring() else { return };
    let fake = FakeAzdo::start();
    fake.add_repo("contoso", "proj", "repo");
    fake.set_device_flow_timing(0, 900);
    env.use_fake(&fake);
    env.set("GIT_CREDENTIAL_AZDO_MINT", "auto");
    env.set("GIT_CREDENTIAL_AZDO_TOKEN_SOURCE", "device");
    env.unset("GIT_TERMINAL_PROMPT");
    env.set("GIT_ASKPASS", common::silent_askpass(&env));
    let trace = env.root.path().join("trace.log");
    env.set("GIT_CREDENTIAL_AZDO_TRACE", &trace);
    fake.approve_device_flow(DeviceFlow::Next, UPN);
    let url = fake.repo_url("contoso", "proj", "repo");
    let mut runs = vec![env.git(&["clone", "-q", &url, &env.home.join("c").to_string_lossy()], b"")];
    runs.push(env.helper(&["logout", "contoso"], b""));
    runs.push(env.fill(&url)); // silent mint from the refresh token
    runs.push(env.helper(&["status", "contoso"], b""));
    runs.push(env.helper(&["list", "--remote", "contoso"], b""));
    assert_eq!(runs[0].status, 0, "{:?}", runs[0]);
    let secrets = fake.issued_entra_tokens();
    assert!(!secrets.is_empty());
    let trace_text = std::fs::read_to_string(&trace).expect("trace");
    let mut files = String::new();
    for path in common::walk(&env.home) {
        files.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()));
    }
    for secret in &secrets {
        for run in &runs {
            assert!(!run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()), "{run:?}");
        }
        assert!(!trace_text.contains(secret.as_str()), "token in the trace");
        assert!(!files.contains(secret.as_str()), "token in a file under HOME");
    }
    // The refresh token is in the OS store.
    let ss = env.secret_service.as_ref().expect("secret service");
    let found = ss.secret_tool(&["search", "--all", "service", "git-credential-azdo:sign-in"]);
    assert!(found.stdout.contains("sign-in token"), "{found:?}");
}

#[test]
fn cli_login_device_logout_revoke_and_list_remote() {
    let w = world();
    w.fake.approve_device_flow(DeviceFlow::Next, UPN);
    let run = w.env.helper(&["login", "contoso", "--device"], b"");
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stderr.contains("Minted a PAT for contoso"), "{run:?}");
    let minted = w.fake.minted("contoso");
    assert_eq!(minted.len(), 1);
    let run = w.env.helper(&["list", "--remote", "contoso"], b"");
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains(&minted[0].authorization_id), "{run:?}");
    let status = w.env.helper(&["status", "contoso"], b"");
    assert!(status.stdout.contains("renewal planned from"), "{status:?}");
    let run = w.env.helper(&["logout", "contoso", "--revoke"], b"");
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(w.fake.is_revoked(&minted[0].authorization_id), Some(true));
    assert_eq!(w.stored_pat(), None);
}

#[test]
fn parallel_gets_in_the_renewal_window_renew_once() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.first_mint();
    w.age_minted(60);
    w.env.set("GIT_CREDENTIAL_AZDO_RENEW_BEFORE", "31");
    w.env.set("GIT_TERMINAL_PROMPT", "0");
    let env = std::sync::Arc::new(w.env);
    let url = w.fake.repo_url("contoso", "proj", "repo");
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (env, url) = (std::sync::Arc::clone(&env), url.clone());
            std::thread::spawn(move || env.fill(&url))
        })
        .collect();
    let answers: std::collections::BTreeSet<String> = handles
        .into_iter()
        .map(|h| h.join().expect("thread").stdout.lines().find(|l| l.starts_with("password=")).unwrap_or("").to_owned())
        .collect();
    assert_eq!(w.fake.count(Route::PatCreate), 2, "one first mint, one renewal");
    let live: Vec<_> = w.fake.minted("contoso").into_iter().filter(|p| !p.revoked).collect();
    assert_eq!(live.len(), 1, "exactly one live PAT after parallel renewals");
    assert!(answers.len() <= 2, "{answers:?}");
}

#[test]
fn a_late_store_of_a_replaced_pat_does_not_bring_it_back() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.first_mint();
    let old = w.fake.minted("contoso")[0].token.clone();
    w.age_minted(60);
    w.env.set("GIT_CREDENTIAL_AZDO_RENEW_BEFORE", "31");
    w.env.set("GIT_TERMINAL_PROMPT", "0");
    assert!(w.env.fill(&w.url()).stdout.contains("password="));
    let new = w.stored_pat().expect("renewed");
    assert_ne!(new, old);
    // A git process that was handed the old PAT before the renewal now confirms it.
    let run = w.env.approve(&w.url(), "contoso", &old);
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(w.stored_pat().as_deref(), Some(new.as_str()), "the revoked PAT came back");
}

#[test]
fn an_entra_outage_keeps_the_refresh_token() {
    if !common::has_git() {
        return;
    }
    let w = world();
    w.first_mint();
    assert_eq!(w.env.helper(&["logout", "contoso"], b"").status, 0);
    let mut env = w.env;
    env.set("GIT_TERMINAL_PROMPT", "0");
    w.fake.set_entra_fault(fake_azdo::Fault::Status(503));
    let run = env.fill(&w.fake.repo_url("contoso", "proj", "repo"));
    assert!(!run.stdout.contains("password=eyJ"), "{run:?}");
    w.fake.set_entra_fault(fake_azdo::Fault::None);
    let run = env.fill(&w.fake.repo_url("contoso", "proj", "repo"));
    let password = run.stdout.lines().find_map(|l| l.strip_prefix("password=")).unwrap_or("");
    assert!(!password.is_empty(), "the refresh token was forgotten during the outage: {run:?}");
    assert_eq!(w.fake.device_flows().len(), 1, "no second sign-in");
}

#[test]
fn a_short_lifetime_policy_does_not_renew_on_every_command() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.fake.set_pat_policy("contoso", PatPolicy::MaxLifespanDays(5));
    w.first_mint();
    w.env.set("GIT_TERMINAL_PROMPT", "0");
    for _ in 0..4 {
        assert!(w.env.fill(&w.url()).stdout.contains("password="));
    }
    assert_eq!(w.fake.count(Route::PatCreate), 1, "renewed although half its life is left");
}

/// The worst `get`: the config cache answers, a check is due and the PAT is renewed (sign-in,
/// mint, revoke). Its set-up still happens once: the target is resolved once, the settings are
/// read once, git's configuration is read once more (for the network settings the cache does not
/// keep: in process, or by one `git config`), and one HTTP client serves every request. Without
/// the cache, it is still read only once.
#[test]
fn a_get_resolves_reads_settings_spawns_git_and_builds_a_client_once() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.first_mint();
    w.env.set("GIT_CREDENTIAL_AZDO_RENEW_BEFORE", "31");
    w.env.set("GIT_TERMINAL_PROMPT", "0");
    let trace = w.env.root.path().join("setup-trace.log");
    w.env.set("GIT_CREDENTIAL_AZDO_TRACE", &trace);
    let host = w.url().split('/').nth(2).expect("host").to_owned();
    let query = format!("protocol=http\nhost={host}\npath=contoso/proj/_git/repo\n");
    let due = |w: &World| {
        w.age_minted(60);
        let mut doc = w.stored();
        for key in ["last_validated", "last_checked"] {
            doc["organizations"]["contoso"][key] = 0.into();
        }
        common::write_store(&w.env.store_file(), &doc);
    };
    let counts = |text: &str| {
        // git's configuration is read in process, or (outside the reader's whitelist) by git.
        [
            "resolved the request",
            "reading settings",
            "git config read in process|running git config --list",
            "building an HTTP client",
        ]
        .map(|line| text.lines().filter(|l| line.split('|').any(|one| l.contains(one))).count())
    };
    for cache in ["warm", "cold"] {
        // A hot-path get from the same directory leaves the config cache warm.
        assert_eq!(w.env.helper(&["get"], query.as_bytes()).status, 0);
        due(&w);
        if cache == "cold" {
            for file in common::walk(w.env.root.path()).into_iter().filter(|p| p.ends_with("config-cache.json")) {
                std::fs::remove_file(file).expect("remove the config cache");
            }
        }
        let _ = std::fs::remove_file(&trace);
        w.fake.reset_counts();
        let before = w.fake.minted("contoso").len();
        let run = w.env.helper(&["get"], query.as_bytes());
        assert_eq!(run.status, 0, "{run:?}");
        assert!(run.stdout.contains("password="), "{run:?}");
        assert_eq!(w.fake.count(Route::ConnectionData), 1, "{cache}: the check was made");
        assert_eq!(w.fake.minted("contoso").len(), before + 1, "{cache}: the PAT was renewed");
        let text = std::fs::read_to_string(&trace).expect("trace");
        assert_eq!(text.contains("git config from the cache"), cache == "warm", "{text}");
        assert_eq!(counts(&text), [1, 1, 1, 1], "{cache}: resolved, settings, git config, HTTP client:\n{text}");
    }
}

/// Hole 3: a minted PAT whose expiry has already passed (here a policy that clamps PATs to a
/// lifetime of zero days) is never handed to git, nor stored; it is revoked, git gets the access
/// token, and the org is not minted for again within the hour.
#[test]
fn a_minted_pat_that_has_already_expired_is_never_handed_to_git() {
    let w = world();
    w.fake.set_pat_policy("contoso", PatPolicy::MaxLifespanDays(0));
    w.fake.approve_device_flow(DeviceFlow::Next, UPN);
    let host = w.url().split('/').nth(2).expect("host").to_owned();
    let input = format!("protocol=http\nhost={host}\npath=contoso/proj/_git/repo\n");
    let run = w.env.helper(&["get"], input.as_bytes());
    let minted = w.fake.minted("contoso");
    assert_eq!(minted.len(), 1, "{run:?}");
    assert!(!run.stdout.contains(&minted[0].token), "an expired PAT went to git: {run:?}");
    assert!(run.stdout.contains("password=ey"), "the access token instead: {run:?}");
    assert!(run.stderr.contains("already expired") && run.stderr.contains("it was revoked"), "{run:?}");
    assert_eq!(w.fake.is_revoked(&minted[0].authorization_id), Some(true));
    assert!(w.stored_pat().is_none(), "an expired PAT was stored");
    // Within the hour: no mint again, the access token from the refresh token.
    let again = w.env.helper(&["get"], input.as_bytes());
    assert!(again.stdout.contains("password=ey"), "{again:?}");
    assert_eq!(w.fake.count(Route::PatCreate), 1, "no mint within the hour: {again:?}");
}

/// A "restrict PAT creation" policy that allows packaging only: the minted PAT is useless to
/// git, so it is revoked at once and the clone works with the access token.
#[test]
fn a_packaging_only_mint_is_revoked_and_the_clone_uses_the_access_token() {
    if !common::has_git() {
        return;
    }
    let w = world();
    w.fake.set_pat_policy("contoso", PatPolicy::PackagingOnly);
    w.fake.approve_device_flow(DeviceFlow::Next, UPN);
    let run = w.clone("c1");
    assert_eq!(run.status, 0, "{run:?}");
    let minted = w.fake.minted("contoso");
    assert_eq!(minted.len(), 1);
    assert_eq!(minted[0].scope, "vso.packaging");
    assert_eq!(w.fake.is_revoked(&minted[0].authorization_id), Some(true), "revoked at once");
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.contains("scope lacks code access")).collect();
    assert_eq!(lines.len(), 1, "{run:?}");
    assert!(w.stored_pat().is_none());
    let run = w.clone("c2");
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(w.fake.count(Route::PatCreate), 1, "no mint within the hour");
}

#[test]
fn a_minted_token_outside_the_pat_alphabet_is_refused_and_revoked() {
    if !common::has_git() {
        return;
    }
    let w = world();
    w.fake.set_pat_policy("contoso", PatPolicy::MalformedToken);
    w.fake.approve_device_flow(DeviceFlow::Next, UPN);
    let run = w.clone("c1");
    assert_eq!(run.status, 0, "{run:?}");
    let minted = w.fake.minted("contoso");
    assert!(minted[0].token.contains('-'));
    assert!(run.stderr.contains("its token is not a PAT"), "{run:?}");
    assert_eq!(w.fake.is_revoked(&minted[0].authorization_id), Some(true));
    assert!(w.stored_pat().is_none());
}

/// git rejects a minted PAT (`erase`): it is revoked on the service by its authorization id
/// before it is forgotten.
#[test]
fn a_rejected_minted_pat_is_revoked_before_it_is_forgotten() {
    if !common::has_git() {
        return;
    }
    let w = world();
    w.first_mint();
    let minted = w.fake.minted("contoso");
    let pat = w.stored_pat().expect("stored");
    let run = w.env.reject(&w.url(), &format!("username=contoso\npassword={pat}\n"));
    assert_eq!(run.status, 0, "{run:?}");
    assert!(w.stored_pat().is_none(), "forgotten");
    assert_eq!(w.fake.is_revoked(&minted[0].authorization_id), Some(true), "revoked: {run:?}");
    // A PAT typed in (not minted here) is only forgotten.
    let typed = w.fake.add_pat("contoso", UPN, &["vso.code_write"], 4_000_000_000);
    w.env.login("contoso", &typed.token);
    let run = w.env.reject(&w.url(), &format!("username=contoso\npassword={}\n", typed.token));
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(w.fake.is_revoked(&typed.authorization_id), Some(false));
}

/// A `get` request with git's authtype capability for `url`'s organization.
fn bearer_query(url: &str) -> Vec<u8> {
    let rest = url.strip_prefix("http://").expect("fake url");
    let (host, path) = rest.split_once('/').expect("path");
    format!("capability[]=authtype\nprotocol=http\nhost={host}\npath={path}\n\n").into_bytes()
}

/// The password (or Bearer credential) a `git credential fill` (or `get`) printed.
fn secret_of(fill: &Run) -> String {
    fill.stdout
        .lines()
        .find_map(|l| l.strip_prefix("password=").or_else(|| l.strip_prefix("credential=")))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn in_oauth_mode_a_hot_get_reuses_the_kept_access_token_without_a_request() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.env.set("GIT_CREDENTIAL_AZDO_CREDENTIAL_TYPE", "oauth");
    w.first_mint();
    w.fake.reset_counts();
    let first = w.env.fill(&w.url());
    let token = secret_of(&first);
    assert!(token.starts_with("eyJ"), "{first:?}");
    // With git's authtype capability too: the same kept token, as Bearer.
    let bearer = w.env.helper(&["get"], &bearer_query(&w.url()));
    assert!(bearer.stdout.contains("authtype=Bearer"), "{bearer:?}");
    assert_eq!(secret_of(&bearer), token, "{bearer:?}");
    let run = w.clone("c2");
    assert_eq!(run.status, 0, "{run:?}");
    for route in [Route::Token, Route::Challenge, Route::PatCreate, Route::ConnectionData] {
        assert_eq!(w.fake.count(route), 0, "{route:?}: a hot get in oauth mode made a request");
    }
    assert!(w.fake.count(Route::Git) > 0);
    assert_eq!(w.stored_pat(), None, "an access token is never stored as a PAT");

    // git rejects it: it is forgotten, and the next get refreshes (one token request).
    let run = w.env.reject(&w.url(), &format!("username=contoso\npassword={token}\n"));
    assert_eq!(run.status, 0, "{run:?}");
    let again = w.env.fill(&w.url());
    assert!(secret_of(&again).starts_with("eyJ"), "{again:?}");
    assert_eq!(w.fake.count(Route::Token), 1, "the rejected token was used again");
}

#[test]
fn a_rejected_bearer_token_is_forgotten() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.env.set("GIT_CREDENTIAL_AZDO_CREDENTIAL_TYPE", "oauth");
    w.first_mint();
    let query = bearer_query(&w.url());
    let bearer = w.env.helper(&["get"], &query);
    assert!(bearer.stdout.contains("ephemeral=1"), "{bearer:?}");
    w.fake.reset_counts();
    // What git sends back for a refused Bearer credential: its request and the answer's fields.
    let rejected = [&query[..query.len() - 1], bearer.stdout.as_bytes(), b"\n"].concat();
    let run = w.env.helper(&["erase"], &rejected);
    assert_eq!(run.status, 0, "{run:?}");
    let again = w.env.fill(&w.url());
    assert!(secret_of(&again).starts_with("eyJ"), "{again:?}");
    assert_eq!(w.fake.count(Route::Token), 1, "the rejected Bearer token was used again");
}

#[test]
fn after_a_policy_refusal_hot_gets_use_the_kept_access_token_and_do_not_mint_again() {
    if !common::has_git() {
        return;
    }
    let w = world();
    w.fake.set_pat_policy("contoso", PatPolicy::DisableCreation);
    w.fake.approve_device_flow(DeviceFlow::Next, UPN);
    let run = w.clone("c1");
    assert_eq!(run.status, 0, "{run:?}");
    w.fake.reset_counts();
    let run = w.clone("c2");
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
    for route in [Route::Token, Route::PatCreate, Route::Challenge] {
        assert_eq!(w.fake.count(route), 0, "{route:?}: a request after the policy refusal");
    }
    assert_eq!(w.stored_pat(), None);
}

#[test]
fn logout_forgets_the_kept_access_token() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.env.set("GIT_CREDENTIAL_AZDO_CREDENTIAL_TYPE", "oauth");
    w.first_mint();
    let run = w.env.helper(&["logout", "contoso"], b"");
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stderr.contains("access token"), "{run:?}");
    w.fake.reset_counts();
    let again = w.env.fill(&w.url());
    assert!(secret_of(&again).starts_with("eyJ"), "{again:?}");
    assert_eq!(w.fake.count(Route::Token), 1, "a kept token outlived logout");
}
