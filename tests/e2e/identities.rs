//! Build machines without PATs, end to end with real git against the fake: the Azure Pipelines
//! job token, service principals (secret, certificate), managed identities (metadata endpoint,
//! App Service form), git's Bearer auth, the precedence of the sources, and the failures. Every
//! endpoint is the fake on loopback; the metadata endpoint's default address is never used.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::{Run, TestEnv};
use fake_azdo::{Assignment, FakeAzdo, Fault, Principal, Route, EXCHANGE_AUDIENCE, GITHUB_ISSUER, TENANT_ID};

/// Debian's own git (2.39), older than git's Bearer support (2.46), where it is installed.
const OLD_GIT: &str = "/usr/bin/git";

struct World {
    fake: FakeAzdo,
    env: TestEnv,
    trace: PathBuf,
    git_trace: PathBuf,
}

/// A fake with `contoso/proj/repo`, the helper pointed at it (the metadata endpoint too), a
/// trace of the helper and of git, prompts off, nothing stored.
fn world() -> World {
    let fake = FakeAzdo::start();
    fake.add_repo("contoso", "proj", "repo");
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    // Never the link-local address: every test points the metadata endpoint at the fake.
    env.set("GIT_CREDENTIAL_AZDO_IMDS_URL", fake.url());
    let trace = env.root.path().join("helper-trace.log");
    let git_trace = env.root.path().join("git-trace.log");
    env.set("GIT_CREDENTIAL_AZDO_TRACE", &trace);
    env.set("GIT_TRACE", &git_trace);
    World { fake, env, trace, git_trace }
}

impl World {
    fn url(&self) -> String {
        self.fake.repo_url("contoso", "proj", "repo")
    }

    fn clone_with(&self, git: &str, into: &str) -> Run {
        let dest = self.env.home.join(into);
        run(self.env.command(git).args(["clone", "-q", &self.url(), &dest.to_string_lossy()]))
    }

    fn clone(&self, into: &str) -> Run {
        self.clone_with("git", into)
    }

    /// A commit pushed from the clone `into`.
    fn push(&self, into: &str) -> Run {
        let dir = self.env.home.join(into);
        let dir = dir.to_string_lossy();
        std::fs::write(self.env.home.join(into).join("file.txt"), "pushed by a build\n").expect("write");
        for args in [vec!["-C", &dir, "add", "file.txt"], vec!["-C", &dir, "commit", "-q", "-m", "build"]] {
            let r = self.env.git(&args, b"");
            assert_eq!(r.status, 0, "{args:?}: {r:?}");
        }
        self.env.git(&["-C", &dir, "push", "-q", "origin", "HEAD"], b"")
    }

    /// The helper's `get`, driven directly, with or without `capability[]=authtype`.
    fn get(&self, authtype: bool) -> Run {
        let cap = if authtype { "capability[]=authtype\n" } else { "" };
        let input = format!("{cap}protocol=http\nhost={}\npath=contoso/proj/_git/repo\n\n", host(&self.fake));
        self.env.helper(&["get"], input.as_bytes())
    }

    /// What the store holds: nothing at all, for every identity.
    fn assert_nothing_stored(&self) {
        let doc = common::store_doc(&self.env.store_file());
        let orgs = doc.get("organizations").and_then(|o| o.as_object()).map_or(0, |o| o.len());
        let tokens = doc.get("tokens").and_then(|o| o.as_object()).map_or(0, |o| o.len());
        assert_eq!((orgs, tokens), (0, 0), "the store must stay empty: {doc}");
    }

    /// No token the fake issued appears in `runs`, the traces, or any file under HOME, nor on
    /// the stderr of `answers` (the helper's own answers to git, whose stdout is the token).
    fn assert_no_token_leaked(&self, runs: &[&Run], answers: &[&Run]) {
        let secrets = self.fake.issued_entra_tokens();
        assert!(!secrets.is_empty(), "tokens were issued");
        let helper_trace = std::fs::read_to_string(&self.trace).unwrap_or_default();
        let git_trace = std::fs::read_to_string(&self.git_trace).unwrap_or_default();
        // git's trace is empty when no git ran: the helper reads git's configuration in process.
        assert!(!helper_trace.is_empty(), "the trace was written");
        let mut files = String::new();
        for path in common::walk(&self.env.home) {
            files.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()));
        }
        for secret in &secrets {
            for run in runs {
                assert!(!run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()), "{run:?}");
            }
            for run in answers {
                assert!(!run.stderr.contains(secret.as_str()), "{run:?}");
            }
            assert!(!helper_trace.contains(secret.as_str()), "a token in the helper's trace");
            assert!(!git_trace.contains(secret.as_str()), "a token in git's trace (argv)");
            assert!(!files.contains(secret.as_str()), "a token in a file under HOME");
        }
    }

    /// A service principal of the fake, added to contoso, with this client secret.
    fn principal_with_secret(&mut self, secret: &str) -> Principal {
        let sp = self.fake.add_service_principal("build-sp");
        self.fake.set_principal_secret(&sp.client_id, secret);
        self.fake.add_principal_to_org("contoso", &sp.client_id);
        self.env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL", format!("{TENANT_ID}/{}", sp.client_id));
        self.env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SECRET", secret);
        sp
    }

    /// A service principal with the `sp` test certificate, added to contoso; the helper given
    /// `pem` (a fixture name) as its certificate.
    fn principal_with_certificate(&mut self, pem: &str) -> Principal {
        let sp = self.fake.add_service_principal("build-sp-cert");
        self.fake.add_principal_certificate(
            &sp.client_id,
            &fixture_bytes("sp-cert.der"),
            &fixture_bytes("sp-public.der"),
        );
        self.fake.add_principal_to_org("contoso", &sp.client_id);
        let private = self.env.root.path().join(pem);
        std::fs::write(&private, fixture_bytes(pem)).expect("copy the certificate");
        common::set_mode(&private, 0o600);
        self.env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL", format!("{TENANT_ID}/{}", sp.client_id));
        self.env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_CERTIFICATE", &private);
        sp
    }

    /// A developer's PAT of contoso, stored with `login`.
    fn login_pat(&self) -> String {
        let valid_to = common::bounded::now() + 86_400 * 30;
        let pat = self.fake.add_named_pat("contoso", "dev@contoso.example", "dev", &["vso.code_write"], valid_to).token;
        self.env.login("contoso", &pat);
        pat
    }

    /// An app with a federated credential for (issuer, subject), added to contoso, and the
    /// helper set to federate as it in `scenario`.
    fn federated_app(&mut self, scenario: &str, issuer: &str, subject: &str) -> Principal {
        let app = self.fake.add_service_principal("federated-app");
        self.fake.add_federated_credential(&app.client_id, issuer, subject, EXCHANGE_AUDIENCE);
        self.fake.add_principal_to_org("contoso", &app.client_id);
        self.env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION", scenario);
        self.env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_CLIENT_ID", &app.client_id);
        self.env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_TENANT_ID", TENANT_ID);
        app
    }

    /// A pipeline job in `org` (the job token of that org).
    fn pipeline_job(&mut self, org: &str) -> String {
        let token = self.fake.issue_job_token(org);
        self.env.set("TF_BUILD", "True");
        self.env.set("SYSTEM_ACCESSTOKEN", &token);
        self.env.set("SYSTEM_COLLECTIONURI", format!("{}/{org}/", self.fake.url()));
        token
    }
}

fn run(cmd: &mut std::process::Command) -> Run {
    cmd.stdin(std::process::Stdio::null()).output().expect("run").into()
}

fn host(fake: &FakeAzdo) -> String {
    fake.url().trim_start_matches("http://").to_owned()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/identity").join(name)
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture")
}

fn answer_line<'a>(run: &'a Run, key: &str) -> Option<&'a str> {
    run.stdout.lines().find_map(|l| l.strip_prefix(key).and_then(|l| l.strip_prefix('=')))
}

/// Clone and push with git 2.47 (Bearer), nothing stored, no token anywhere; the same identity
/// as `username`/`password` for a request without `capability[]=authtype`, and, where Debian's
/// git is installed, a clone with it over Basic.
fn works_end_to_end(w: &World) {
    let clone = w.clone("c1");
    assert_eq!(clone.status, 0, "{clone:?}");
    let push = w.push("c1");
    assert_eq!(push.status, 0, "{push:?}");
    let schemes = w.fake.git_auth_schemes();
    assert!(schemes.iter().any(|s| s == "Bearer"), "git 2.47 sent Bearer: {schemes:?}");
    assert!(!schemes.iter().any(|s| s == "Basic"), "no Basic from git 2.47: {schemes:?}");
    let bearer = w.get(true);
    assert_eq!(answer_line(&bearer, "authtype"), Some("Bearer"), "{bearer:?}");
    assert_eq!(answer_line(&bearer, "ephemeral"), Some("1"), "{bearer:?}");
    assert!(answer_line(&bearer, "credential").is_some() && answer_line(&bearer, "password").is_none(), "{bearer:?}");
    assert!(answer_line(&bearer, "password_expiry_utc").is_some(), "{bearer:?}");
    let basic = w.get(false);
    assert!(answer_line(&basic, "password").is_some_and(|p| p.starts_with("eyJ")), "{basic:?}");
    assert!(answer_line(&basic, "authtype").is_none() && answer_line(&basic, "credential").is_none(), "{basic:?}");
    let mut runs = vec![clone, push];
    if Path::new(OLD_GIT).exists() {
        let before = w.fake.git_auth_schemes().len();
        let old = w.clone_with(OLD_GIT, "c-old");
        assert_eq!(old.status, 0, "{old:?}");
        let schemes = w.fake.git_auth_schemes();
        assert!(schemes[before..].iter().any(|s| s == "Basic"), "git 2.39 sent Basic: {schemes:?}");
        runs.push(old);
    } else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "Debian's git is missing at {OLD_GIT}");
    }
    w.assert_nothing_stored();
    w.assert_no_token_leaked(&runs.iter().collect::<Vec<_>>(), &[&bearer, &basic]);
    assert_eq!(w.fake.count(Route::PatCreate), 0, "no PAT is ever minted for a build identity");
}

#[cfg(unix)]
#[test]
fn the_capability_operation_answers_authtype_on_a_pipe_and_on_a_terminal() {
    let env = TestEnv::new();
    let run = env.helper(&["capability"], b"");
    assert_eq!((run.status, run.stdout.as_str(), run.stderr.as_str()), (0, "version 0\ncapability authtype\n", ""));
    if common::require(&["script"]) {
        let cmd = format!("{} capability", common::bin());
        let tty = run_cmd(env.command("script").args(["-qec", &cmd, "/dev/null"]));
        assert!(tty.stdout.contains("version 0") && tty.stdout.contains("capability authtype"), "{tty:?}");
    }
}

#[cfg(unix)]
fn run_cmd(cmd: &mut std::process::Command) -> Run {
    run(cmd)
}

#[test]
fn the_pipeline_job_token_serves_its_organization() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.pipeline_job("contoso");
    works_end_to_end(&w);
    assert_eq!(w.fake.managed_identity_requests(), 0, "nothing else is asked");
    assert_eq!(w.fake.count(Route::Token), 0);
}

#[test]
fn the_pipeline_job_token_is_not_used_for_another_organization_or_when_turned_off() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.pipeline_job("fabrikam");
    let run = w.get(true);
    assert_eq!((run.status, run.stdout.as_str()), (0, ""), "another org's job gets nothing: {run:?}");
    let clone = w.clone("c1");
    assert_ne!(clone.status, 0, "{clone:?}");

    let mut w = world();
    w.pipeline_job("contoso");
    w.env.set("GIT_CREDENTIAL_AZDO_PIPELINE_TOKEN", "false");
    let run = w.get(true);
    assert_eq!(run.stdout, "", "azdo.pipelineToken=false: {run:?}");
    w.env.unset("GIT_CREDENTIAL_AZDO_PIPELINE_TOKEN");
    w.env.set("TF_BUILD", "False");
    assert_eq!(w.get(true).stdout, "", "not a pipeline job");
    w.env.set("TF_BUILD", "True");
    w.env.set("SYSTEM_ACCESSTOKEN", "");
    assert_eq!(w.get(true).stdout, "", "an empty token (not mapped into the job)");
}

#[test]
fn a_service_principal_with_a_client_secret_clones_and_pushes() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.principal_with_secret("s3cr3t-value~of-the-app");
    works_end_to_end(&w);
}

#[test]
fn a_service_principal_with_a_certificate_clones_and_pushes_with_and_without_x5c() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.principal_with_certificate("sp.pem");
    works_end_to_end(&w);
    w.env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SEND_X5C", "true");
    let run = w.get(true);
    assert_eq!(answer_line(&run, "authtype"), Some("Bearer"), "{run:?}");
}

#[test]
fn a_system_assigned_managed_identity_clones_and_pushes() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    let mi = w.fake.add_managed_identity("vm", Assignment::System);
    w.fake.add_principal_to_org("contoso", &mi.client_id);
    w.env.set("GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY", "system");
    works_end_to_end(&w);
}

#[test]
fn user_assigned_managed_identities_by_client_id_and_resource_id_and_the_app_service_form() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    let res =
        "/subscriptions/0000/resourceGroups/build/providers/Microsoft.ManagedIdentity/userAssignedIdentities/agent";
    let mi = w.fake.add_managed_identity("agent", Assignment::User { resource_id: res.into() });
    w.fake.add_principal_to_org("contoso", &mi.client_id);
    for value in [mi.client_id.clone(), format!("id://{}", mi.client_id), format!("resource://{res}")] {
        w.env.set("GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY", &value);
        let clone = w.clone(&format!("c-{}", value.len()));
        assert_eq!(clone.status, 0, "{value}: {clone:?}");
    }
    // App Service, Functions, Container Apps: IDENTITY_ENDPOINT + IDENTITY_HEADER.
    w.fake.set_app_service_header("rotated-header-value");
    w.env.set("IDENTITY_ENDPOINT", format!("{}/msi/token", w.fake.url()));
    w.env.set("IDENTITY_HEADER", "rotated-header-value");
    w.env.set("GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY", format!("resource://{res}"));
    let clone = w.clone("c-app-service");
    assert_eq!(clone.status, 0, "{clone:?}");
    w.assert_nothing_stored();
}

/// One line on stderr naming the identity, `quit=1` so git neither prompts nor asks another
/// helper, and the clone fails promptly.
fn fails_loudly(w: &World, expected: &str) -> Run {
    let run = w.get(true);
    assert_eq!(run.stdout, "quit=1\n", "{run:?}");
    assert_eq!(run.status, 1, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:?}");
    assert!(run.stderr.contains(expected), "expected '{expected}': {run:?}");
    let started = Instant::now();
    let clone = w.clone("c-fail");
    assert_ne!(clone.status, 0, "{clone:?}");
    assert!(clone.stderr.contains("told us to quit"), "git stops: {clone:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "git does not hang: {:?}", started.elapsed());
    w.assert_nothing_stored();
    run
}

#[test]
fn a_wrong_secret_fails_loudly_and_nothing_else_is_offered() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.principal_with_secret("right-secret");
    w.env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SECRET", "wrong-secret");
    // A PAT is there too: a failing build identity must not fall back to it.
    w.env.set("AZURE_DEVOPS_EXT_PAT", "a-developers-pat");
    let run = fails_loudly(&w, "AADSTS7000215");
    assert!(run.stderr.contains("service principal for contoso"), "{run:?}");
    assert!(!run.stderr.contains("wrong-secret") && !run.stdout.contains("a-developers-pat"), "{run:?}");
}

#[test]
fn a_wrong_certificate_fails_loudly() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.principal_with_certificate("other.pem");
    fails_loudly(&w, "AADSTS700027");
}

#[cfg(unix)]
#[test]
fn a_certificate_file_others_can_read_is_refused() {
    let mut w = world();
    w.principal_with_certificate("sp.pem");
    common::set_mode(&w.env.root.path().join("sp.pem"), 0o644);
    fails_loudly(&w, "sp.pem");
}

#[test]
fn an_unknown_managed_identity_fails_loudly() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.fake.add_managed_identity("vm", Assignment::System);
    w.env.set("GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY", "8b1e0c1a-1111-4222-8333-444455556666");
    fails_loudly(&w, "Identity not found");
}

#[test]
fn an_identity_not_added_to_the_organization_is_refused_by_git() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    let sp = w.fake.add_service_principal("outsider");
    w.fake.set_principal_secret(&sp.client_id, "its-secret");
    w.env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL", format!("{TENANT_ID}/{}", sp.client_id));
    w.env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SECRET", "its-secret");
    let clone = w.clone("c1");
    assert_ne!(clone.status, 0, "{clone:?}");
    assert!(clone.stderr.contains("Authentication failed"), "{clone:?}");
    assert_eq!(w.fake.count(Route::Token), 1, "one token request, no retry loop");
    w.assert_nothing_stored();
}

#[test]
fn a_metadata_endpoint_that_is_down_or_slow_is_given_up_in_bounded_time() {
    if !common::has_git() {
        return;
    }
    // Down: nothing listens (a port just closed).
    let mut w = world();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    w.env.set("GIT_CREDENTIAL_AZDO_IMDS_URL", format!("http://{closed}"));
    w.env.set("GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY", "system");
    let started = Instant::now();
    let run = fails_loudly(&w, "gave no token after 4 tries");
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    assert!(run.stderr.contains("managed identity for contoso"), "{run:?}");

    // Slow: every answer takes longer than a request may.
    let mut w = world();
    let mi = w.fake.add_managed_identity("vm", Assignment::System);
    w.fake.add_principal_to_org("contoso", &mi.client_id);
    w.fake.set_managed_identity_fault(Fault::Latency(Duration::from_secs(30)));
    w.env.set("GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY", "system");
    w.env.set("GIT_CREDENTIAL_AZDO_TIMEOUT", "1");
    let started = Instant::now();
    let run = w.get(true);
    let took = started.elapsed();
    assert_eq!(run.stdout, "quit=1\n", "{run:?}");
    assert!(took <= Duration::from_secs(21), "given up within 20 s: {took:?}");
    assert!(w.fake.count(Route::ManagedIdentity) >= 2, "retried");
    // Answering again: the next get works.
    w.fake.set_managed_identity_fault(Fault::None);
    assert_eq!(answer_line(&w.get(true), "authtype"), Some("Bearer"));
}

#[test]
fn the_metadata_endpoint_is_never_asked_unless_a_managed_identity_is_configured() {
    let w = world();
    let pat = w.login_pat();
    let run = w.get(true);
    assert_eq!(answer_line(&run, "password"), Some(pat.as_str()), "{run:?}");
    assert_eq!(w.fake.managed_identity_requests(), 0);
    // The default origin is the link-local address, which no test may use: every test world
    // points it at loopback (tests/common), these at the fake.
    assert!(w.env.vars().any(|v| v == "GIT_CREDENTIAL_AZDO_IMDS_URL"));
    let bare = TestEnv::new();
    let imds: Vec<_> = bare.vars().filter(|v| *v == "GIT_CREDENTIAL_AZDO_IMDS_URL").collect();
    assert_eq!(imds.len(), 1, "every TestEnv points the metadata endpoint at loopback");
    // With a managed identity configured and the common default, the helper fails on loopback.
    let mut lone = TestEnv::new();
    lone.set("GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY", "system");
    lone.set("GIT_CREDENTIAL_AZDO_TIMEOUT", "1");
    let run =
        lone.helper(&["get"], b"capability[]=authtype\nprotocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n\n");
    assert_eq!(run.stdout, "quit=1\n", "{run:?}");
    assert!(run.stderr.contains("http://127.0.0.1:9/metadata/identity/oauth2/token"), "{run:?}");
}

/// The precedence table, one row per test: pipeline token, managed identity, workload identity
/// federation, service principal, AZURE_DEVOPS_EXT_PAT, the stored PAT (minting and the prompt
/// after them are tests/mint.rs and tests/helper.rs).
mod precedence {
    use super::*;

    /// A world where every source could answer: each answers something recognisable.
    fn everything() -> (World, String, String) {
        let mut w = world();
        let mi = w.fake.add_managed_identity("vm", Assignment::System);
        w.fake.add_principal_to_org("contoso", &mi.client_id);
        w.env.set("GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY", "system");
        w.principal_with_secret("sp-secret");
        w.env.set("AZURE_DEVOPS_EXT_PAT", "env-pat");
        let pat = w.login_pat();
        let job = w.pipeline_job("contoso");
        (w, job, pat)
    }

    fn credential(w: &World) -> String {
        let run = w.get(true);
        answer_line(&run, "credential").or(answer_line(&run, "password")).unwrap_or_default().to_owned()
    }

    #[test]
    fn row1_the_pipeline_token_comes_first() {
        let (w, job, _) = everything();
        assert_eq!(credential(&w), job);
        assert_eq!((w.fake.managed_identity_requests(), w.fake.count(Route::Token)), (0, 0));
    }

    #[test]
    fn row2_then_the_managed_identity() {
        let (mut w, _, _) = everything();
        w.env.unset("TF_BUILD");
        let token = credential(&w);
        assert!(token.starts_with("eyJ"), "{token}");
        assert_eq!((w.fake.managed_identity_requests(), w.fake.count(Route::Token)), (1, 0));
    }

    #[test]
    fn row3_then_workload_identity_federation() {
        let (mut w, _, _) = everything();
        w.env.unset("TF_BUILD");
        w.env.unset("GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY");
        let (issuer, subject) = ("https://oidc.aks.example/cluster/", "system:serviceaccount:ci:builder");
        w.federated_app("generic", issuer, subject);
        let assertion = w.fake.issue_external_token(issuer, subject, EXCHANGE_AUDIENCE, 600);
        w.env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_ASSERTION", &assertion);
        assert!(credential(&w).starts_with("eyJ"));
        assert_eq!(w.fake.count(Route::Token), 1, "one exchange, and no service principal sign-in after it");
        w.env.unset("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_ASSERTION");
        let run = w.get(true);
        assert_eq!(run.stdout, "quit=1\n", "a failing federation does not fall back: {run:?}");
    }

    #[test]
    fn row4_then_the_service_principal() {
        let (mut w, _, _) = everything();
        w.env.unset("TF_BUILD");
        w.env.unset("GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY");
        assert!(credential(&w).starts_with("eyJ"));
        assert_eq!((w.fake.managed_identity_requests(), w.fake.count(Route::Token)), (0, 1));
    }

    #[test]
    fn row5_then_azure_devops_ext_pat() {
        let (mut w, _, _) = everything();
        for var in ["TF_BUILD", "GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY", "GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL"] {
            w.env.unset(var);
        }
        // The Azure CLI's variable serves only the real service: ask for dev.azure.com (no
        // request is made for it), with the fake's origins unset.
        for var in ["GIT_CREDENTIAL_AZDO_URL", "GIT_CREDENTIAL_AZDO_VSSPS_URL", "GIT_CREDENTIAL_AZDO_AUTHORITY"] {
            w.env.unset(var);
        }
        let input = "capability[]=authtype\nprotocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n\n";
        let run = w.env.helper(&["get"], input.as_bytes());
        assert_eq!(answer_line(&run, "password"), Some("env-pat"), "{run:?}");
    }

    #[test]
    fn row6_then_the_stored_pat() {
        let (mut w, _, pat) = everything();
        for var in [
            "TF_BUILD",
            "GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY",
            "GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL",
            "AZURE_DEVOPS_EXT_PAT",
        ] {
            w.env.unset(var);
        }
        assert_eq!(credential(&w), pat);
    }

    #[test]
    fn a_failing_managed_identity_does_not_fall_back_to_the_service_principal() {
        let (mut w, _, _) = everything();
        w.env.unset("TF_BUILD");
        w.env.set("GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY", "8b1e0c1a-1111-4222-8333-444455556666");
        let run = w.get(true);
        assert_eq!(run.stdout, "quit=1\n", "{run:?}");
        assert_eq!(w.fake.count(Route::Token), 0, "the service principal was not tried");
    }
}

#[test]
fn store_of_a_token_is_ignored() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.principal_with_secret("sp-secret");
    let url = w.url();
    // What git 2.47 sends after a Bearer success, and what older git sends.
    let bearer = format!("capability[]=authtype\nurl={url}\nauthtype=Bearer\ncredential=eyJ.a.b\nephemeral=1\n\n");
    assert_eq!(w.env.git(&["credential", "approve"], bearer.as_bytes()).status, 0);
    let basic = w.env.approve(&url, "contoso", "not-a-jwt-but-the-identity-serves-this-org");
    assert_eq!(basic.status, 0);
    w.assert_nothing_stored();
}

mod federation {
    use super::*;

    #[test]
    fn github_actions_id_tokens_are_exchanged() {
        if !common::has_git() {
            return;
        }
        let mut w = world();
        let subject = "repo:contoso/app:ref:refs/heads/main";
        let url = w.fake.set_github_oidc("gh-request-token", subject);
        w.federated_app("githubactions", GITHUB_ISSUER, subject);
        w.env.set("ACTIONS_ID_TOKEN_REQUEST_URL", url);
        w.env.set("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token");
        works_end_to_end(&w);
        assert!(w.fake.count(Route::Oidc) >= 1);
    }

    #[test]
    fn azure_pipelines_service_connection_tokens_are_exchanged() {
        if !common::has_git() {
            return;
        }
        let mut w = world();
        let connection = w.fake.add_service_connection("contoso", "proj", "deploy");
        let issuer = w.fake.pipelines_oidc_issuer("contoso");
        w.federated_app("azurepipelines", &issuer, "sc://contoso/proj/deploy");
        w.pipeline_job("contoso");
        // The job token would come first for its own org: here the pipeline chose federation.
        w.env.set("GIT_CREDENTIAL_AZDO_PIPELINE_TOKEN", "false");
        w.env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_SERVICE_CONNECTION", &connection);
        let oidc = format!("{}/contoso/proj/_apis/distributedtask/hubs/build/plans/p1/jobs/j1/oidctoken", w.fake.url());
        w.env.set("SYSTEM_OIDCREQUESTURI", oidc);
        works_end_to_end(&w);
    }

    #[test]
    fn the_job_token_is_not_sent_to_an_oidc_endpoint_on_another_origin() {
        if !common::has_git() {
            return;
        }
        let mut w = world();
        let connection = w.fake.add_service_connection("contoso", "proj", "deploy");
        let issuer = w.fake.pipelines_oidc_issuer("contoso");
        w.federated_app("azurepipelines", &issuer, "sc://contoso/proj/deploy");
        w.pipeline_job("contoso");
        w.env.set("GIT_CREDENTIAL_AZDO_PIPELINE_TOKEN", "false");
        w.env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_SERVICE_CONNECTION", &connection);
        // Another port on loopback is another origin; nothing listens there.
        let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        elsewhere.set_nonblocking(true).expect("nonblocking");
        let port = elsewhere.local_addr().expect("addr").port();
        w.env.set("SYSTEM_OIDCREQUESTURI", format!("http://127.0.0.1:{port}/contoso/proj/oidctoken"));
        fails_loudly(&w, "not on the origin of SYSTEM_COLLECTIONURI");
        assert!(elsewhere.accept().is_err(), "the job token went to another origin");
        assert_eq!(w.fake.count(Route::Oidc), 0);
    }

    #[test]
    fn a_managed_identitys_token_is_the_assertion() {
        if !common::has_git() {
            return;
        }
        let mut w = world();
        let res =
            "/subscriptions/0000/resourceGroups/build/providers/Microsoft.ManagedIdentity/userAssignedIdentities/fic";
        let mi = w.fake.add_managed_identity("fic", Assignment::User { resource_id: res.into() });
        let issuer = format!("https://login.microsoftonline.com/{TENANT_ID}/v2.0");
        w.federated_app("managedidentity", &issuer, &mi.object_id);
        w.env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_MANAGED_IDENTITY", &mi.client_id);
        works_end_to_end(&w);
    }

    #[test]
    fn generic_reads_the_token_file_of_the_workload_identity_webhook() {
        if !common::has_git() {
            return;
        }
        let mut w = world();
        let (issuer, subject) = ("https://oidc.aks.example/cluster/", "system:serviceaccount:ci:builder");
        let app = w.federated_app("generic", issuer, subject);
        w.env.unset("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_CLIENT_ID");
        w.env.unset("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_TENANT_ID");
        let file = w.env.root.path().join("azure-identity-token");
        std::fs::write(&file, w.fake.issue_external_token(issuer, subject, EXCHANGE_AUDIENCE, 3600) + "\n")
            .expect("token");
        w.env.set("AZURE_FEDERATED_TOKEN_FILE", &file);
        w.env.set("AZURE_CLIENT_ID", &app.client_id);
        w.env.set("AZURE_TENANT_ID", TENANT_ID);
        // The webhook names the authority its token is for: here the fake's (issue 18: without
        // it, the token goes only to the real authority).
        w.env.set("AZURE_AUTHORITY_HOST", w.fake.url());
        works_end_to_end(&w);
        // The same with the assertion setting naming the file.
        w.env.unset("AZURE_FEDERATED_TOKEN_FILE");
        w.env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_ASSERTION", format!("file://{}", file.display()));
        assert_eq!(answer_line(&w.get(true), "authtype"), Some("Bearer"));
    }

    #[test]
    fn an_expired_assertion_fails_loudly() {
        if !common::has_git() {
            return;
        }
        let mut w = world();
        let (issuer, subject) = ("https://oidc.aks.example/cluster/", "system:serviceaccount:ci:builder");
        w.federated_app("generic", issuer, subject);
        let expired = w.fake.issue_external_token(issuer, subject, EXCHANGE_AUDIENCE, -60);
        w.env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_ASSERTION", &expired);
        let run = fails_loudly(&w, "AADSTS700024");
        assert!(run.stderr.contains("workload identity federation for contoso"), "{run:?}");
        assert!(!run.stderr.contains(&expired));
    }

    #[test]
    fn a_token_no_federated_credential_matches_fails_loudly() {
        if !common::has_git() {
            return;
        }
        let mut w = world();
        let issuer = "https://oidc.aks.example/cluster/";
        w.federated_app("generic", issuer, "system:serviceaccount:ci:builder");
        let other = w.fake.issue_external_token(issuer, "system:serviceaccount:ci:intruder", EXCHANGE_AUDIENCE, 600);
        w.env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_ASSERTION", &other);
        fails_loudly(&w, "AADSTS70021");
    }

    #[test]
    fn github_actions_without_id_token_permission_says_so() {
        if !common::has_git() {
            return;
        }
        let mut w = world();
        w.federated_app("githubactions", GITHUB_ISSUER, "repo:contoso/app:ref:refs/heads/main");
        fails_loudly(&w, "id-token: write");
    }
}

mod gcm_aliases {
    use super::*;

    #[test]
    fn gcms_managed_identity_variable_and_service_principal_keys_are_honoured() {
        if !common::has_git() {
            return;
        }
        let mut w = world();
        let mi = w.fake.add_managed_identity("vm", Assignment::System);
        w.fake.add_principal_to_org("contoso", &mi.client_id);
        w.env.set("GCM_AZREPOS_MANAGEDIDENTITY", "system");
        let run = w.get(true);
        assert_eq!(answer_line(&run, "authtype"), Some("Bearer"), "{run:?}");
        assert_eq!(w.fake.managed_identity_requests(), 1);

        let mut w = world();
        let sp = w.fake.add_service_principal("gcm-sp");
        w.fake.set_principal_secret(&sp.client_id, "gcm-secret");
        w.fake.add_principal_to_org("contoso", &sp.client_id);
        let key = format!("{TENANT_ID}/{}", sp.client_id);
        assert_eq!(w.env.git(&["config", "--global", "credential.azreposServicePrincipal", &key], b"").status, 0);
        w.env.set("GCM_AZREPOS_SP_SECRET", "gcm-secret");
        // GCM's secret is set for the real authority only (issue 18): the fake, a test
        // authority, never receives it, and git is told to stop.
        let refused = fails_loudly(&w, "GCM_AZREPOS_SP_SECRET is a real platform credential");
        assert!(!refused.stderr.contains("gcm-secret"), "{refused:?}");
        assert_eq!(w.fake.count(Route::Token), 0, "nothing was sent to the test authority");
        // An azdo.* setting wins over GCM's.
        w.env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SECRET", "wrong");
        assert_eq!(w.get(true).stdout, "quit=1\n");
        w.env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SECRET", "gcm-secret");
        let clone = w.clone("c1");
        assert_eq!(clone.status, 0, "{clone:?}");
        // doctor says which alias it read, and tests the identity without printing its token.
        let doctor = w.env.helper(&["doctor"], b"");
        assert!(doctor.stdout.contains("served by service principal"), "{doctor:?}");
        assert!(doctor.stdout.contains("credential.azreposServicePrincipal for azdo.servicePrincipal"), "{doctor:?}");
        assert!(doctor.stdout.contains("service principal gave a token"), "{doctor:?}");
        w.assert_no_token_leaked(&[&doctor], &[]);
        w.env.unset("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SECRET");
        let doctor = w.env.helper(&["doctor"], b"");
        assert!(doctor.stdout.contains("GCM_AZREPOS_SP_SECRET for azdo.servicePrincipalSecret"), "{doctor:?}");
    }

    #[test]
    fn gcms_workload_federation_variables_are_honoured() {
        if !common::has_git() {
            return;
        }
        let mut w = world();
        let (issuer, subject) = ("https://oidc.aks.example/cluster/", "system:serviceaccount:ci:builder");
        let app = w.fake.add_service_principal("gcm-wif");
        w.fake.add_federated_credential(&app.client_id, issuer, subject, EXCHANGE_AUDIENCE);
        w.fake.add_principal_to_org("contoso", &app.client_id);
        let file = w.env.root.path().join("token");
        std::fs::write(&file, w.fake.issue_external_token(issuer, subject, EXCHANGE_AUDIENCE, 600)).expect("token");
        w.env.set("GCM_AZREPOS_WIF", "generic");
        w.env.set("GCM_AZREPOS_WIF_CLIENTID", &app.client_id);
        w.env.set("GCM_AZREPOS_WIF_TENANTID", TENANT_ID);
        w.env.set("GCM_AZREPOS_WIF_ASSERTION", format!("file://{}", file.display()));
        let clone = w.clone("c1");
        assert_eq!(clone.status, 0, "{clone:?}");
        w.assert_nothing_stored();
    }

    #[test]
    fn a_gcm_certificate_thumbprint_maps_to_a_pem_file_named_after_it_or_says_where_to_put_one() {
        if !common::has_git() {
            return;
        }
        let mut w = world();
        let sp = w.principal_with_certificate("sp.pem");
        let pem = w.env.root.path().join("sp.pem");
        w.env.unset("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_CERTIFICATE");
        let thumbprint = openssl_thumbprint(&fixture("sp-cert.der"));
        w.env.set("GCM_AZREPOS_SP_CERT_THUMBPRINT", &thumbprint);
        let run = fails_loudly(&w, "put it, key and certificate in one PEM file");
        assert!(run.stderr.contains(&format!("certificates/{thumbprint}.pem")), "{run:?}");
        let dir = w.env.home.join(".local/share/git-credential-azdo/certificates");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::copy(&pem, dir.join(format!("{thumbprint}.pem"))).expect("copy");
        common::set_mode(&dir.join(format!("{thumbprint}.pem")), 0o600);
        let run = w.get(true);
        assert_eq!(answer_line(&run, "authtype"), Some("Bearer"), "{run:?}");
        let _ = sp;
    }

    /// The SHA-1 thumbprint of a DER certificate, as GCM and Windows show it (computed here
    /// independently of the helper, with the same ring the tree has).
    fn openssl_thumbprint(der: &Path) -> String {
        let bytes = std::fs::read(der).expect("der");
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &bytes)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }
}

#[test]
fn status_names_the_identity_and_tests_it_without_printing_the_token() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.principal_with_secret("sp-secret");
    let status = w.env.helper(&["status", "contoso"], b"");
    assert_eq!(status.status, 0, "{status:?}");
    assert!(status.stdout.contains("contoso: served by service principal (azdo.servicePrincipal = "), "{status:?}");
    assert!(status.stdout.contains("contoso: service principal gave a token (expires "), "{status:?}");
    w.env.set("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SECRET", "wrong");
    let failed = w.env.helper(&["status", "contoso"], b"");
    assert_eq!(failed.status, 1, "{failed:?}");
    assert!(failed.stdout.contains("AADSTS7000215"), "{failed:?}");
    w.assert_no_token_leaked(&[&status, &failed], &[]);
}

#[test]
fn a_secret_in_git_config_is_never_copied_to_the_config_cache() {
    if !common::has_git() {
        return;
    }
    let mut w = world();
    w.principal_with_secret("secret-in-a-config-file");
    // Without a secret in git config, the snapshot is cached (so this test can fail).
    assert_eq!(w.env.git(&["config", "--global", "azdo.timeout", "5"], b"").status, 0);
    assert_eq!(answer_line(&w.get(true), "authtype"), Some("Bearer"));
    let cache = w.env.home.join(".cache/git-credential-azdo/config-cache.json");
    assert!(cache.exists(), "the config cache is written");
    w.env.unset("GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SECRET");
    let set = w.env.git(&["config", "--global", "azdo.servicePrincipalSecret", "secret-in-a-config-file"], b"");
    assert_eq!(set.status, 0);
    for _ in 0..2 {
        assert_eq!(answer_line(&w.get(true), "authtype"), Some("Bearer"));
    }
    for path in common::walk(&w.env.home).into_iter().filter(|p| *p != w.env.gitconfig()) {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
        assert!(!text.contains("secret-in-a-config-file"), "the secret was copied to {}", path.display());
    }
}

#[test]
fn the_pipeline_job_token_serves_its_organization_whatever_account_is_named() {
    let mut w = world();
    let token = w.pipeline_job("contoso");
    w.env.set("GIT_CREDENTIAL_AZDO_ACCOUNT", "dev@contoso.example");
    let run = w.get(true);
    assert_eq!(answer_line(&run, "credential"), Some(token.as_str()), "{run:?}");
}

#[test]
fn a_build_identity_leaves_a_server_collection_to_its_own_pat() {
    // A service principal's Entra token may not go to an Azure DevOps Server collection: a
    // collection's stored PAT still serves it, with no quit.
    let mut w = world();
    w.principal_with_secret("sp-secret-1");
    w.env.set("GIT_CREDENTIAL_AZDO_SERVER", "http://127.0.0.1:9/tfs/Coll");
    let stored = b"protocol=http\nhost=127.0.0.1:9\npath=tfs/Coll/proj/_git/repo\nusername=me\npassword=server-pat\n\n";
    let run = w.env.helper(&["store"], stored);
    assert_eq!(run.status, 0, "{run:?}");
    let run = w
        .env
        .helper(&["get"], b"capability[]=authtype\nprotocol=http\nhost=127.0.0.1:9\npath=tfs/Coll/proj/_git/repo\n\n");
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("password=server-pat") && !run.stdout.contains("quit"), "{run:?}");
    assert_eq!(w.fake.count(Route::Token), 0, "no token was asked for the collection");
}

#[test]
fn a_url_user_name_that_is_no_account_name_names_none() {
    let w = world();
    let stored = format!(
        "protocol=http\nhost={}\npath=contoso/proj/_git/repo\nusername=contoso\npassword=pat-of-contoso\n\n",
        host(&w.fake)
    );
    assert_eq!(w.env.helper(&["store"], stored.as_bytes()).status, 0);
    let input = format!(
        "protocol=http\nhost={}\npath=contoso/proj/_git/repo\nusername=jos\u{e9} x@contoso.com\n\n",
        host(&w.fake)
    );
    let run = w.env.helper(&["get"], input.as_bytes());
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("password=pat-of-contoso"), "{run:?}");
}
