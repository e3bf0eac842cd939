//! `import` on a real Secret Service, with items written the way Git Credential Manager and the
//! Azure CLI write them, checked against the fake.

use std::io::Write;
use std::process::Stdio;

use crate::common::{SecretService, TestEnv};
use fake_azdo::FakeAzdo;

fn store_item(ss: &SecretService, label: &str, attributes: &[&str], secret: &str) {
    let mut cmd = ss.env_command("secret-tool");
    cmd.arg("store").arg(format!("--label={label}")).args(attributes);
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("secret-tool");
    child.stdin.take().expect("stdin").write_all(secret.as_bytes()).expect("write");
    assert!(child.wait().expect("wait").success(), "secret-tool store failed");
}

#[test]
fn adopts_valid_pats_from_gcm_and_the_azure_cli_and_keeps_the_originals() {
    let Some(mut env) = TestEnv::with_keyring() else { return };
    let fake = FakeAzdo::start();
    env.use_fake(&fake);
    let far = 4_000_000_000;
    let good = fake.add_pat("contoso", "alice@contoso.example", &["vso.code_write"], far).token;
    let revoked = fake.add_pat("fabrikam", "bob@fabrikam.example", &["vso.code"], far).token;
    fake.revoke_pat(&revoked);
    let ss = env.secret_service.as_ref().expect("secret service");
    // Git Credential Manager: service git:<org URL>, account = the user's UPN.
    store_item(
        ss,
        "git:https://dev.azure.com/contoso",
        &["service", "git:https://dev.azure.com/contoso", "account", "alice@contoso.example"],
        &good,
    );
    // The Azure CLI (Python keyring): service azdevops-cli:<org URL>, username "Personal Access Token".
    store_item(
        ss,
        "Password for 'Personal Access Token' on 'azdevops-cli:https://dev.azure.com/fabrikam'",
        &[
            "service",
            "azdevops-cli:https://dev.azure.com/fabrikam",
            "username",
            "Personal Access Token",
            "application",
            "Python keyring library",
        ],
        &revoked,
    );
    // Something else entirely stays out of it.
    store_item(ss, "other", &["service", "git:https://github.com", "account", "x"], "gh-token");

    // Without --yes and without a terminal: shown, nothing adopted.
    let run = env.helper(&["import"], b"");
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("contoso: from Git Credential Manager (alice@contoso.example): valid"), "{run:?}");
    assert!(run.stdout.contains("fabrikam: from Azure CLI (Personal Access Token): invalid"), "{run:?}");
    assert!(!run.stdout.contains("github"), "{run:?}");
    assert!(run.stderr.contains("--yes"), "{run:?}");
    assert!(env.helper(&["list", "--json"], b"").stdout.trim() == "[]");

    let run = env.helper(&["import", "--yes"], b"");
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("contoso: adopted"), "{run:?}");
    assert!(!run.stdout.contains("fabrikam: adopted"), "an invalid PAT was adopted: {run:?}");
    for secret in [&good, &revoked] {
        assert!(!run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()), "{run:?}");
    }
    let listed = env.helper(&["list", "--json"], b"").stdout;
    assert!(
        listed.contains("\"contoso\"") && listed.contains("\"imported\"") && !listed.contains("fabrikam"),
        "{listed}"
    );
    let get = env.helper(
        &["get"],
        format!("protocol=http\nhost={}\npath=contoso/p/_git/r\n", fake.url().trim_start_matches("http://")).as_bytes(),
    );
    assert!(get.stdout.contains(&format!("password={good}")), "{get:?}");

    // The originals are still there.
    let gcm =
        ss.secret_tool(&["lookup", "service", "git:https://dev.azure.com/contoso", "account", "alice@contoso.example"]);
    assert_eq!(gcm.stdout, good);
    let az = ss.secret_tool(&[
        "lookup",
        "service",
        "azdevops-cli:https://dev.azure.com/fabrikam",
        "username",
        "Personal Access Token",
    ]);
    assert_eq!(az.stdout, revoked);

    // Again: nothing new.
    let run = env.helper(&["import", "--yes"], b"");
    assert!(
        run.stdout.contains("contoso: from Git Credential Manager (alice@contoso.example): already stored"),
        "{run:?}"
    );
}

#[test]
fn offline_import_adopts_without_checking() {
    let Some(env) = TestEnv::with_keyring() else { return };
    let ss = env.secret_service.as_ref().expect("secret service");
    store_item(
        ss,
        "git:https://dev.azure.com/contoso",
        &["service", "git:https://dev.azure.com/contoso", "account", "a@b"],
        "offline-pat",
    );
    let run = env.helper(&["import", "--yes", "--offline"], b"");
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("contoso: from Git Credential Manager (a@b): not checked"), "{run:?}");
    assert!(run.stdout.contains("contoso: adopted"), "{run:?}");
}
