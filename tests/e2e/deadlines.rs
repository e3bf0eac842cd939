//! The service's deadlines, as `doctor`, `status` and `get` tell them, each warning checked both
//! ways (present exactly when its condition holds) against the fake: a global PAT once global
//! PATs are retired; an organization whose policy refused a mint (remembered: no mint asked for
//! again, the access token used directly) or shortened a PAT's life; a federation assertion of
//! Azure DevOps' retiring issuer (every `doctor`, once a day on stderr); an Azure DevOps Server
//! collection with no PAT and no prompt.

use crate::common;
use crate::common::{Run, TestEnv};
use fake_azdo::{DeviceFlow, FakeAzdo, PatPolicy, Route, EXCHANGE_AUDIENCE, TENANT_ID};

const UPN: &str = "alice@contoso.example";

fn fake_world() -> (FakeAzdo, TestEnv) {
    let fake = FakeAzdo::start();
    fake.add_repo("contoso", "proj", "repo");
    fake.add_repo("fabrikam", "proj", "repo");
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    env.set("GIT_CREDENTIAL_AZDO_IMDS_URL", fake.url());
    (fake, env)
}

fn in_days(days: i64) -> i64 {
    crate::common::bounded::now() + days * 86_400
}

/// The data directory of the fake's origin (where the helper keeps what it learned).
fn data_dir(env: &TestEnv) -> std::path::PathBuf {
    let origins = env.home.join(".local/share/git-credential-azdo/origins");
    std::fs::read_dir(&origins).expect("origins").flatten().next().expect("the fake's origin").path()
}

mod global_pats {
    use super::*;

    #[test]
    fn a_stored_global_pat_is_named_once_global_pats_are_retired_and_not_before() {
        let (fake, env) = fake_world();
        let global = fake.add_global_pat("contoso", UPN, &["vso.code_write"], in_days(30));
        let scoped = fake.add_pat("fabrikam", UPN, &["vso.code_write"], in_days(30));
        env.login("contoso", &global.token);
        env.login("fabrikam", &scoped.token);
        // Before the retirement: both work, nothing is said.
        let doctor = env.helper(&["doctor"], b"");
        assert!(doctor.stdout.contains("contoso: stored PAT is valid"), "{doctor:?}");
        assert!(!doctor.stdout.contains("global one"), "{doctor:?}");
        fake.retire_global_pats(true);
        let doctor = env.helper(&["doctor"], b"");
        let lines: Vec<&str> = doctor.stdout.lines().filter(|l| l.contains("global one")).collect();
        assert_eq!(lines.len(), 1, "{doctor:?}");
        assert!(lines[0].starts_with("problem  contoso: the PAT is a global one"), "{doctor:?}");
        assert!(doctor.stdout.contains("git credential-azdo logout contoso"), "{doctor:?}");
        assert!(doctor.stdout.contains("fabrikam: stored PAT is valid"), "{doctor:?}");
        assert_eq!(doctor.status, 1, "{doctor:?}");
        let status = env.helper(&["status", "contoso"], b"");
        assert_eq!(status.status, 1, "{status:?}");
        assert!(status.stdout.contains("global one") && status.stdout.contains("since 2026-12-01"), "{status:?}");
        let status = env.helper(&["status", "fabrikam"], b"");
        assert!(status.status == 0 && !status.stdout.contains("global"), "{status:?}");
    }
}

mod policies {
    use super::*;

    /// A helper that may mint (device code approved once), prompts answering nothing.
    fn minting() -> (FakeAzdo, TestEnv) {
        let (fake, mut env) = fake_world();
        fake.set_device_flow_timing(0, 900);
        env.set("GIT_CREDENTIAL_AZDO_MINT", "auto");
        env.set("GIT_CREDENTIAL_AZDO_TOKEN_SOURCE", "device");
        env.unset("GIT_TERMINAL_PROMPT");
        let silent = common::silent_askpass(&env);
        env.set("GIT_ASKPASS", silent);
        fake.approve_device_flow(DeviceFlow::Next, UPN);
        (fake, env)
    }

    fn fill(fake: &FakeAzdo, env: &TestEnv) -> Run {
        let run = env.fill(&fake.repo_url("contoso", "proj", "repo"));
        assert_eq!(run.status, 0, "{run:?}");
        assert!(run.stdout.contains("password="), "{run:?}");
        run
    }

    #[test]
    fn a_refused_mint_is_remembered_and_the_access_token_used_without_asking_again() {
        if !common::has_git() {
            return;
        }
        let (fake, env) = minting();
        fake.set_pat_policy("contoso", PatPolicy::DisableCreation);
        let first = fill(&fake, &env);
        assert!(first.stderr.contains("no new PAT is asked for before"), "{first:?}");
        assert_eq!(fake.count(Route::PatCreate), 1);
        let status = env.helper(&["status", "contoso"], b"");
        assert!(status.stdout.contains("contoso: the organization's policy refused a PAT on"), "{status:?}");
        assert!(status.stdout.contains("PAT creation is disabled"), "{status:?}");
        let doctor = env.helper(&["doctor"], b"");
        assert!(doctor.stdout.contains("warning  contoso: the organization's policy refused a PAT"), "{doctor:?}");
        // The hour's hold and the kept access token gone, the refusal alone still holds minting.
        let dir = data_dir(&env);
        std::fs::remove_file(dir.join("mint-holds.json")).expect("the hour's hold");
        assert_eq!(env.helper(&["logout", "contoso"], b"").status, 0, "forgets the kept access token");
        fill(&fake, &env);
        assert_eq!(fake.count(Route::PatCreate), 1, "no mint asked for again");
        // Without the record (and the hold), the next get asks for a mint again: the record is what held it.
        std::fs::remove_file(dir.join("pat-policies.json")).expect("the record");
        let _ = std::fs::remove_file(dir.join("mint-holds.json"));
        assert_eq!(env.helper(&["logout", "contoso"], b"").status, 0);
        fill(&fake, &env);
        assert_eq!(fake.count(Route::PatCreate), 2);
        // Once a mint succeeds, the refusal is forgotten and no longer shown.
        fake.clear_pat_policies("contoso");
        let _ = std::fs::remove_file(dir.join("pat-policies.json"));
        let _ = std::fs::remove_file(dir.join("mint-holds.json"));
        assert_eq!(env.helper(&["logout", "contoso"], b"").status, 0);
        fill(&fake, &env);
        assert_eq!(fake.count(Route::PatCreate), 3);
        let status = env.helper(&["status", "contoso"], b"");
        assert!(!status.stdout.contains("policy"), "{status:?}");
        let doctor = env.helper(&["doctor"], b"");
        assert!(!doctor.stdout.contains("policy"), "{doctor:?}");
    }

    #[test]
    fn a_shortened_lifetime_is_shown_with_what_was_granted_and_only_then() {
        if !common::has_git() {
            return;
        }
        let (fake, env) = minting();
        fill(&fake, &env);
        let status = env.helper(&["status", "contoso"], b"");
        assert!(!status.stdout.contains("limits PAT lifetimes"), "{status:?}");
        assert!(!env.helper(&["doctor"], b"").stdout.contains("limits PAT lifetimes"));
        // The policy clamps what the next mint asks for (30 days) to 7.
        fake.set_pat_policy("contoso", PatPolicy::MaxLifespanDays(7));
        let run = env.helper(&["login", "contoso", "--device"], b"");
        assert_eq!(run.status, 0, "{run:?}");
        let status = env.helper(&["status", "contoso"], b"");
        assert!(status.stdout.contains("asked for 30 days, granted 7.0"), "{status:?}");
        assert!(status.stdout.contains("azdo.patLifetime 7"), "{status:?}");
        let doctor = env.helper(&["doctor"], b"");
        assert!(
            doctor.stdout.contains("warning  contoso: the organization's policy limits PAT lifetimes"),
            "{doctor:?}"
        );
    }
}

mod federation_issuer {
    use super::*;

    /// The helper federating (generic, an assertion file) as an app whose federated credential
    /// trusts `issuer`; the file holds a token of that issuer.
    fn federating(issuer: &str) -> (FakeAzdo, TestEnv) {
        let (fake, mut env) = fake_world();
        let subject = "sc://contoso/proj/deploy";
        let app = fake.add_service_principal("federated-app");
        fake.add_federated_credential(&app.client_id, issuer, subject, EXCHANGE_AUDIENCE);
        fake.add_principal_to_org("contoso", &app.client_id);
        let file = env.root.path().join("assertion");
        std::fs::write(&file, fake.issue_external_token(issuer, subject, EXCHANGE_AUDIENCE, 3600)).expect("token");
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION", "generic");
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_CLIENT_ID", &app.client_id);
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_TENANT_ID", TENANT_ID);
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_ASSERTION", format!("file://{}", file.display()));
        (fake, env)
    }

    fn get(fake: &FakeAzdo, env: &TestEnv) -> Run {
        let run = env.fill(&fake.repo_url("contoso", "proj", "repo"));
        assert_eq!(run.status, 0, "{run:?}");
        assert!(run.stdout.contains("password=eyJ"), "{run:?}");
        run
    }

    #[test]
    fn azure_devops_own_issuer_is_warned_on_every_doctor_and_once_a_day_on_stderr() {
        if !common::has_git() {
            return;
        }
        let (fake, env) = federating("https://vstoken.dev.azure.com/8f3c1d2e-0000-4000-8000-000000000001");
        let first = get(&fake, &env);
        let warned = |run: &Run| run.stderr.matches("stops working on 2027-07-01").count();
        assert_eq!(warned(&first), 1, "{first:?}");
        assert!(first.stderr.contains("convert the service connection"), "{first:?}");
        let second = get(&fake, &env);
        assert_eq!(warned(&second), 0, "once a day: {second:?}");
        for _ in 0..2 {
            let doctor = env.helper(&["doctor"], b"");
            let line = doctor.stdout.lines().find(|l| l.contains("stops working on 2027-07-01"));
            assert!(line.is_some_and(|l| l.starts_with("warning  ")), "{doctor:?}");
        }
        let status = env.helper(&["status", "contoso"], b"");
        assert!(status.stdout.contains("stops working on 2027-07-01"), "{status:?}");
        // A day later, stderr says it again.
        let stamp = data_dir(&env).join("federation-issuer-warned");
        std::fs::write(&stamp, (crate::common::bounded::now() - 86_401).to_string()).expect("stamp");
        assert_eq!(warned(&get(&fake, &env)), 1);
    }

    #[test]
    fn another_issuer_is_not_warned_about() {
        if !common::has_git() {
            return;
        }
        let (fake, env) = federating("https://oidc.aks.example/cluster/");
        let run = get(&fake, &env);
        assert!(!run.stderr.contains("2027-07-01"), "{run:?}");
        let doctor = env.helper(&["doctor"], b"");
        assert!(doctor.stdout.contains("workload identity federation gave a token"), "{doctor:?}");
        assert!(!doctor.stdout.contains("2027-07-01"), "{doctor:?}");
    }
}

mod server_without_pat {
    use super::*;

    const NTLM: &str = "NTLM (Windows) sign-in is gone from libcurl";

    #[test]
    fn a_collection_with_no_pat_and_no_prompt_is_told_that_only_a_pat_serves_it() {
        let (_fake, mut env) = fake_world();
        // On an origin of its own (a closed loopback port: nothing here asks it anything).
        let collection = "http://127.0.0.1:9/tfs/DefaultCollection".to_owned();
        env.set("GIT_CREDENTIAL_AZDO_SERVER", &collection);
        env.set("GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL", "never");
        // Prompts off (the world's GIT_TERMINAL_PROMPT=0), nothing stored: said.
        let doctor = env.helper(&["doctor"], b"");
        let line = doctor.stdout.lines().find(|l| l.contains(NTLM));
        let named = |l: &str| l.to_lowercase().contains("/tfs/defaultcollection: no pat is stored");
        assert!(line.is_some_and(|l| l.starts_with("warning  ") && named(l)), "{doctor:?}");
        let fix = format!("git credential-azdo login {}", collection.to_lowercase());
        assert!(doctor.stdout.to_lowercase().contains(&fix), "{doctor:?}");
        let status = env.helper(&["status", &collection], b"");
        assert!(status.stdout.contains(NTLM), "{status:?}");
        // Prompts possible: not said.
        env.unset("GIT_TERMINAL_PROMPT");
        assert!(!env.helper(&["doctor"], b"").stdout.contains(NTLM));
        env.set("GIT_TERMINAL_PROMPT", "0");
        // A PAT stored: not said.
        env.login(&collection, "serverpat0123456789");
        let doctor = env.helper(&["doctor"], b"");
        assert!(!doctor.stdout.contains(NTLM), "{doctor:?}");
    }
}
