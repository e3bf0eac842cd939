//! Issue 18's holes on the identity and network paths, each with the test that failed before its
//! fix: replies trickled a byte at a time (every endpoint gives up within `azdo.timeout`), real
//! platform credentials kept from a test authority, identity tokens git cannot take, and an
//! `erase` of a pre-encoded credential. Every endpoint is on loopback.

use std::io::{Read, Write};
use std::time::Duration;

use crate::common;
use crate::common::bounded::helper_bounded;
use crate::common::TestEnv;
use fake_azdo::{DeviceFlow, FakeAzdo, Route, EXCHANGE_AUDIENCE, TENANT_ID};

/// `azdo.timeout` in these tests, and how long a run may take with it (start-up, a git config
/// read, the connect, the deadline).
const TIMEOUT_SECS: u64 = 2;
const WITHIN: Duration = Duration::from_secs(12);
/// How long a run may take before the test calls it hung (it would trickle for minutes).
const HUNG: Duration = Duration::from_secs(60);

/// A loopback server that answers every request with its headers at once, then one body byte a
/// second for minutes (a slow proxy or a hostile endpoint); its origin.
fn trickling_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let headers = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
                if stream.write_all(headers.as_bytes()).is_err() {
                    return;
                }
                for _ in 0..300 {
                    std::thread::sleep(Duration::from_secs(1));
                    if stream.write_all(b" ").is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// A fake with contoso, the helper pointed at it with a short `azdo.timeout`.
fn world() -> (FakeAzdo, TestEnv) {
    let fake = FakeAzdo::start();
    fake.add_repo("contoso", "proj", "repo");
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    env.set("GIT_CREDENTIAL_AZDO_IMDS_URL", fake.url());
    env.set("GIT_CREDENTIAL_AZDO_TIMEOUT", TIMEOUT_SECS.to_string());
    (fake, env)
}

fn get_request(origin: &str) -> Vec<u8> {
    let host = origin.trim_start_matches("http://");
    format!("capability[]=authtype\nprotocol=http\nhost={host}\npath=contoso/proj/_git/repo\n\n").into_bytes()
}

/// `get` for contoso on `origin`: git is told to stop (`quit=1`, nothing else on stdout), one
/// line on stderr, within [`WITHIN`].
fn quits_in_time(env: &TestEnv, origin: &str, what: &str) -> String {
    let (run, took) = helper_bounded(env, &["get"], &get_request(origin), HUNG);
    assert!(took < WITHIN, "{what}: given up after {took:?}, not within azdo.timeout");
    assert_eq!(run.stdout, "quit=1\n", "{what}: {run:?}");
    assert_eq!(run.status, 1, "{what}: {run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{what}: one line: {run:?}");
    run.stderr
}

mod trickled_replies {
    use super::*;

    #[test]
    fn the_token_endpoint_of_a_service_principal() {
        let (fake, mut env) = world();
        env.set("GIT_CREDENTIAL_AZDO_AUTHORITY", trickling_server());
        env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL", format!("{TENANT_ID}/8b1e0c1a-1111-4222-8333-444455556666"));
        env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SECRET", "sp-secret");
        let line = quits_in_time(&env, &fake.url(), "service principal");
        assert!(line.contains("service principal for contoso"), "{line}");
    }

    #[test]
    fn the_token_endpoint_of_a_federation_exchange() {
        let (fake, mut env) = world();
        let issuer = "https://oidc.aks.example/cluster/";
        let assertion = fake.issue_external_token(issuer, "system:serviceaccount:ci:builder", EXCHANGE_AUDIENCE, 600);
        env.set("GIT_CREDENTIAL_AZDO_AUTHORITY", trickling_server());
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION", "generic");
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_CLIENT_ID", "8b1e0c1a-1111-4222-8333-444455556666");
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_TENANT_ID", TENANT_ID);
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_ASSERTION", assertion);
        let line = quits_in_time(&env, &fake.url(), "federation exchange");
        assert!(line.contains("workload identity federation for contoso"), "{line}");
    }

    #[test]
    fn the_github_actions_id_token_endpoint() {
        let (fake, mut env) = world();
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION", "githubactions");
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_CLIENT_ID", "8b1e0c1a-1111-4222-8333-444455556666");
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_TENANT_ID", TENANT_ID);
        env.set("ACTIONS_ID_TOKEN_REQUEST_URL", format!("{}/gh/idtoken", trickling_server()));
        env.set("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token");
        let line = quits_in_time(&env, &fake.url(), "GitHub Actions ID token");
        assert!(line.contains("GitHub Actions ID token endpoint"), "{line}");
        assert_eq!(fake.count(Route::Token), 0);
    }

    #[test]
    fn the_azure_pipelines_oidc_endpoint() {
        // The OIDC endpoint is on the organization's own origin: the trickling server is the
        // Azure DevOps origin here, the fake the identity service and authority.
        let (fake, mut env) = world();
        let origin = trickling_server();
        env.set("GIT_CREDENTIAL_AZDO_URL", &origin);
        env.set("GIT_CREDENTIAL_AZDO_PIPELINE_TOKEN", "false");
        env.set("TF_BUILD", "True");
        env.set("SYSTEM_ACCESSTOKEN", "job-token");
        env.set("SYSTEM_COLLECTIONURI", format!("{origin}/contoso/"));
        env.set("SYSTEM_OIDCREQUESTURI", format!("{origin}/contoso/proj/oidctoken"));
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION", "azurepipelines");
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_CLIENT_ID", "8b1e0c1a-1111-4222-8333-444455556666");
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_TENANT_ID", TENANT_ID);
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_SERVICE_CONNECTION", "8b1e0c1a-2222-4222-8333-444455556666");
        let line = quits_in_time(&env, &origin, "Azure Pipelines OIDC");
        assert!(line.contains("Azure Pipelines OIDC token endpoint"), "{line}");
        assert_eq!(fake.count(Route::Token), 0);
    }

    #[test]
    fn the_pat_api_and_entras_device_code_endpoint() {
        // A device sign-in at the fake, the PAT API (the identity service) trickling: the mint
        // is given up and git gets nothing, in time.
        let (fake, mut env) = world();
        fake.set_device_flow_timing(0, 900);
        fake.approve_device_flow(DeviceFlow::Next, "alice@contoso.example");
        env.set("GIT_CREDENTIAL_AZDO_MINT", "auto");
        env.set("GIT_CREDENTIAL_AZDO_TOKEN_SOURCE", "device");
        env.unset("GIT_TERMINAL_PROMPT");
        let silent = common::silent_askpass(&env);
        env.set("GIT_ASKPASS", silent);
        env.set("GIT_CREDENTIAL_AZDO_VSSPS_URL", trickling_server());
        let (run, took) = helper_bounded(&env, &["get"], &get_request(&fake.url()), HUNG);
        assert!(took < WITHIN, "the PAT API: given up after {took:?}");
        assert!(!run.stdout.contains("password="), "{run:?}");
        assert_eq!(fake.device_flows().len(), 1, "signed in once: {run:?}");
        // Another authority (its refresh tokens are its own): the device code endpoint trickles.
        env.set("GIT_CREDENTIAL_AZDO_AUTHORITY", trickling_server());
        let (run, took) = helper_bounded(&env, &["get"], &get_request(&fake.url()), HUNG);
        assert!(took < WITHIN, "the device code endpoint: given up after {took:?}");
        assert!(!run.stdout.contains("password="), "{run:?}");
    }
}

mod real_credentials_and_test_authorities {
    use super::*;

    /// The app the fake would accept every assertion for (so only the rule stops them).
    fn federated(fake: &FakeAzdo, env: &mut TestEnv, scenario: &str, issuer: &str, subject: &str) {
        let app = fake.add_service_principal("federated-app");
        fake.add_federated_credential(&app.client_id, issuer, subject, EXCHANGE_AUDIENCE);
        fake.add_principal_to_org("contoso", &app.client_id);
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION", scenario);
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_CLIENT_ID", &app.client_id);
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_TENANT_ID", TENANT_ID);
    }

    fn refused(fake: &FakeAzdo, env: &TestEnv, what: &str) {
        let line = quits_in_time(env, &fake.url(), what);
        assert!(line.contains("is a real platform credential and azdo.authority is a test endpoint"), "{line}");
        assert!(line.contains(what), "{line}");
        assert_eq!(fake.count(Route::Token), 0, "{what} reached the test authority");
        assert_eq!(fake.count(Route::Oidc), 0, "{what}: the platform was asked for nothing");
    }

    #[test]
    fn github_actions_id_token_from_github() {
        let (fake, mut env) = world();
        federated(&fake, &mut env, "githubactions", fake_azdo::GITHUB_ISSUER, "repo:contoso/app:ref:refs/heads/main");
        // Never contacted: the rule refuses before any request.
        env.set("ACTIONS_ID_TOKEN_REQUEST_URL", "https://pipelines.actions.githubusercontent.invalid/abc/idtoken");
        env.set("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token");
        refused(&fake, &env, "the GitHub Actions ID token");
    }

    #[test]
    fn azure_pipelines_oidc_token_from_the_service() {
        let (fake, mut env) = world();
        federated(&fake, &mut env, "azurepipelines", "https://vstoken.dev.azure.com/x", "sc://contoso/proj/deploy");
        env.set("TF_BUILD", "True");
        env.set("SYSTEM_ACCESSTOKEN", "job-token");
        env.set("GIT_CREDENTIAL_AZDO_PIPELINE_TOKEN", "false");
        env.set("SYSTEM_COLLECTIONURI", "https://dev.azure.com/contoso/");
        env.set("SYSTEM_OIDCREQUESTURI", "https://dev.azure.com/contoso/proj/_apis/oidctoken");
        env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_SERVICE_CONNECTION", "8b1e0c1a-2222-4222-8333-444455556666");
        refused(&fake, &env, "the Azure Pipelines OIDC token");
    }

    #[test]
    fn a_managed_identitys_token_from_the_platform() {
        let (fake, mut env) = world();
        federated(&fake, &mut env, "managedidentity", "https://login.microsoftonline.com/t/v2.0", "x");
        // The App Service form is the platform's, wherever its endpoint is.
        env.set("IDENTITY_ENDPOINT", format!("{}/msi/token", fake.url()));
        env.set("IDENTITY_HEADER", "app-service-header");
        refused(&fake, &env, "the managed identity's token");
        assert_eq!(fake.managed_identity_requests(), 0);
    }

    #[test]
    fn the_workload_identity_webhooks_token_file() {
        let (fake, mut env) = world();
        let (issuer, subject) = ("https://oidc.aks.example/cluster/", "system:serviceaccount:ci:builder");
        federated(&fake, &mut env, "generic", issuer, subject);
        let file = env.root.path().join("azure-identity-token");
        std::fs::write(&file, fake.issue_external_token(issuer, subject, EXCHANGE_AUDIENCE, 600)).expect("token");
        env.set("AZURE_FEDERATED_TOKEN_FILE", &file);
        refused(&fake, &env, "the token in AZURE_FEDERATED_TOKEN_FILE");
        // The webhook naming another authority than this one changes nothing.
        env.set("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/");
        refused(&fake, &env, "the token in AZURE_FEDERATED_TOKEN_FILE");
    }

    #[test]
    fn gcms_service_principal_secret() {
        let (fake, mut env) = world();
        let sp = fake.add_service_principal("gcm-sp");
        fake.set_principal_secret(&sp.client_id, "gcm-secret");
        fake.add_principal_to_org("contoso", &sp.client_id);
        env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL", format!("{TENANT_ID}/{}", sp.client_id));
        env.set("GCM_AZREPOS_SP_SECRET", "gcm-secret");
        refused(&fake, &env, "GCM_AZREPOS_SP_SECRET");
    }
}

#[test]
fn an_identity_token_git_cannot_take_stops_git() {
    let (fake, mut env) = world();
    env.set("TF_BUILD", "True");
    env.set("SYSTEM_COLLECTIONURI", format!("{}/contoso/", fake.url()));
    for token in ["s3cr\rETval", "s3cr\nETval", "s3cr ETval", "s3cr\u{1b}[0mETval"] {
        env.set("SYSTEM_ACCESSTOKEN", token);
        let line = quits_in_time(&env, &fake.url(), "the job token");
        assert!(line.contains("not one git can take"), "{token:?}: {line}");
        assert!(!line.contains("s3cr") && !line.contains("ETval"), "{token:?}: {line}");
    }
}

#[test]
fn an_erase_of_a_pre_encoded_credential_keeps_the_stored_pat() {
    let (fake, env) = world();
    let valid_to = crate::common::bounded::now() + 86_400 * 30;
    let pat = fake.add_named_pat("contoso", "dev@contoso.example", "dev", &["vso.code_write"], valid_to).token;
    env.login("contoso", &pat);
    let host = fake.url().trim_start_matches("http://").to_owned();
    for extra in [
        "authtype=\nephemeral=0\n",
        "authtype=Bearer\ncredential=eyJ.a.b\nephemeral=0\n",
        "credential=x\nephemeral=0\n",
    ] {
        let input = format!("protocol=http\nhost={host}\npath=contoso/proj/_git/repo\n{extra}\n");
        let run = env.helper(&["erase"], input.as_bytes());
        assert_eq!(run.status, 0, "{extra:?}: {run:?}");
        let stored = common::store_text(&env.store_file());
        assert!(stored.contains(&pat), "{extra:?}: an access token's erase deleted the stored PAT");
    }
}
