//! The production defaults end to end: no `azdo.url`, `azdo.vsspsUrl` or `azdo.authority`, no
//! GIT_CREDENTIAL_AZDO_* variable at all, the default keyring store (on a private Secret
//! Service), remotes on `https://dev.azure.com/ORG/...` and `https://ORG.visualstudio.com/...`.
//!
//! Each test runs in its own mount and network namespace (tests/common/sandbox.rs): only loopback
//! exists there, and `/etc/hosts` maps dev.azure.com, vssps.dev.azure.com,
//! login.microsoftonline.com and contoso.visualstudio.com to 127.0.0.1, where a TLS front
//! (tests/common/tls.rs, certificate `services.pem`) on port 443 serves the fake Azure DevOps,
//! which routes by `Host` as the real service does. git and the helper trust the test CA only
//! through `http.sslCAInfo` or `GIT_SSL_CAINFO`. The silent sign-in source with every setting
//! at its default is the Azure CLI (device code needs a terminal): a stand-in `az` on PATH hands
//! out an access token of the fake's Entra, and only for the tenant the org's challenge names.

use std::path::PathBuf;

use crate::common;
use crate::common::pty::Terminal;
use crate::common::sandbox::{isolated, ORG};
use crate::common::tls::{fixture, TlsFront};
use crate::common::{Run, TestEnv};
use fake_azdo::{DeviceFlow, DeviceFlowState, FakeAzdo, Route, DEFAULT_CLIENT_ID, TENANT_ID, VERIFICATION_URI};

const UPN: &str = "alice@contoso.example";
const SERVICES: &str = "dev.azure.com";
const VSSPS: &str = "vssps.dev.azure.com";
const ENTRA: &str = "login.microsoftonline.com";
const KEYRING_SERVICE: &str = "git-credential-azdo:https://dev.azure.com/contoso";

struct World {
    fake: FakeAzdo,
    front: TlsFront,
    env: TestEnv,
    /// One line per `az` run: its arguments.
    az_log: PathBuf,
}

/// How a world differs from the plain one.
#[derive(Default)]
struct Options {
    /// The test CA in `GIT_SSL_CAINFO` instead of `http.sslCAInfo`.
    ca_in_env: bool,
    /// No Azure CLI on PATH.
    no_az: bool,
}

/// The fake with `contoso/proj/repo` behind TLS on 127.0.0.1:443 under the real names, the
/// helper registered by `configure --global`, the test CA in `http.sslCAInfo`, a signed-in
/// Azure CLI stand-in, and nothing else set (unless `options` say otherwise).
/// `None`: no Secret Service here (skipped; under CI that fails instead).
fn world_with(options: Options) -> Option<World> {
    let mut env = TestEnv::with_keyring()?;
    // Every azdo setting at its default; git's prompts too (there is no terminal: see sandbox.rs).
    // (The metadata endpoint's too: no managed identity is configured here, so it is never asked,
    // and the private network namespace has no route to the link-local address anyway.)
    for var in [
        "GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL",
        "GIT_CREDENTIAL_AZDO_MINT",
        "GIT_TERMINAL_PROMPT",
        "GIT_CREDENTIAL_AZDO_IMDS_URL",
    ] {
        env.unset(var);
    }
    let set: Vec<&str> = env.vars().filter(|v| v.starts_with("GIT_CREDENTIAL_AZDO_")).collect();
    assert!(set.is_empty(), "settings changed from their defaults: {set:?}");

    let fake = FakeAzdo::start();
    fake.add_repo(ORG, "proj", "repo");
    let backend = fake.url().strip_prefix("http://").expect("fake url").parse().expect("fake address");
    let front = TlsFront::start_on("127.0.0.1:443", backend, "services");

    // The Azure CLI, signed in: a token only for the tenant the org's challenge names.
    let token = fake.issue_entra_tokens(UPN).access_token;
    let az_log = env.root.path().join("az.log");
    let az = format!(
        "printf '%s\\n' \"$*\" >> '{log}'\n\
         case \" $* \" in *' --tenant {TENANT_ID} '*) ;; *) echo 'az: not signed in to that tenant' >&2; exit 1 ;; esac\n\
         printf '%s' '{{\"accessToken\":\"{token}\",\"expires_on\":4000000000,\"tenant\":\"{TENANT_ID}\",\"tokenType\":\"Bearer\"}}'",
        log = az_log.display()
    );
    let bin = env.root.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    std::fs::rename(env.script("az", &az), bin.join("az")).expect("az");
    // `git credential-azdo ...` finds the helper on PATH, as after an install.
    let helper_dir = PathBuf::from(common::bin()).parent().expect("helper dir").to_owned();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let az_dir = (!options.no_az).then_some(bin);
    let dirs = az_dir.into_iter().chain([helper_dir]).chain(std::env::split_paths(&path));
    env.set("PATH", std::env::join_paths(dirs).expect("PATH"));

    env.configure();
    if options.ca_in_env {
        env.set("GIT_SSL_CAINFO", fixture("ca.pem"));
    } else {
        let run = env.git(&["config", "--global", "http.sslCAInfo", &fixture("ca.pem").to_string_lossy()], b"");
        assert_eq!(run.status, 0, "{run:?}");
    }
    // No azdo.* key in git's configuration but the note `configure` keeps for `unconfigure`.
    let run = env.git(&["config", "--global", "--name-only", "--get-regexp", r"^azdo\."], b"");
    assert_eq!(run.stdout, "azdo.configuredusehttppath\n", "{run:?}");
    Some(World { fake, front, env, az_log })
}

fn world() -> Option<World> {
    world_with(Options::default())
}

impl World {
    fn clone(&self, url: &str, into: &str) -> Run {
        self.env.git(&["clone", "-q", url, &self.env.home.join(into).to_string_lossy()], b"")
    }

    fn fetch(&self, repo: &str) -> Run {
        self.env.git(&["-C", &self.env.home.join(repo).to_string_lossy(), "fetch", "-q"], b"")
    }

    /// The arguments of each `az` run so far.
    fn az_runs(&self) -> Vec<String> {
        std::fs::read_to_string(&self.az_log).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// The PAT in the Secret Service, where the default store keeps it.
    fn keyring_pat(&self) -> String {
        let ss = self.env.secret_service.as_ref().expect("secret service");
        ss.secret_tool(&["lookup", "service", KEYRING_SERVICE, "username", ORG]).stdout
    }

    /// The keyring store's metadata index (the default data directory).
    fn index_path(&self) -> PathBuf {
        self.env.home.join(".local/share/git-credential-azdo/keyring-metadata.json")
    }

    fn index(&self) -> serde_json::Value {
        let bytes = std::fs::read(self.index_path()).expect("keyring metadata");
        serde_json::from_slice(&bytes).expect("metadata json")
    }

    /// Change the org's stored metadata, as if time had passed.
    fn edit_metadata(&self, edit: impl FnOnce(&mut serde_json::Value)) {
        let mut doc = self.index();
        edit(&mut doc["organizations"][ORG]);
        std::fs::write(self.index_path(), serde_json::to_vec(&doc).expect("json")).expect("write metadata");
    }

    /// The first clone with nothing stored: tenant discovery, the Azure CLI, a mint, the clone.
    fn first_clone(&self) -> String {
        let run = self.clone(&format!("https://{SERVICES}/{ORG}/proj/_git/repo"), "c1");
        assert_eq!(run.status, 0, "{run:?}");
        let minted = self.fake.minted(ORG);
        assert_eq!(minted.len(), 1, "one PAT minted");
        assert_eq!(self.keyring_pat(), minted[0].token, "the minted PAT is in the keyring");
        minted[0].token.clone()
    }

    /// Every TLS connection was made to one of the real names (SNI) with the test CA trusted:
    /// none refused.
    fn assert_tls_clean(&self) {
        let seen = self.front.settle();
        assert!(seen.handshakes > 0, "nothing came over TLS");
        assert!(seen.refused.is_empty(), "refused handshakes: {:?}", seen.refused);
        let names = common::sandbox::host_names();
        let odd: Vec<_> = seen.names.iter().filter(|n| !n.as_ref().is_some_and(|n| names.contains(n))).collect();
        assert!(odd.is_empty(), "connections not made to the real names: {odd:?}");
    }
}

#[test]
fn a_first_clone_discovers_the_tenant_signs_in_with_the_azure_cli_and_mints() {
    isolated("a_first_clone_discovers_the_tenant_signs_in_with_the_azure_cli_and_mints", || {
        let Some(w) = world() else { return };
        let run = w.clone(&format!("https://{SERVICES}/{ORG}/proj/_git/repo"), "c1");
        assert_eq!(run.status, 0, "{run:?}");
        assert!(w.env.home.join("c1/README.md").is_file(), "not cloned: {run:?}");
        // The tenant came from the org's challenge on dev.azure.com, and the Azure CLI was asked
        // for a token in exactly that tenant.
        assert_eq!(w.fake.count(Route::Challenge), 1, "one tenant discovery");
        let az = w.az_runs();
        assert_eq!(az.len(), 1, "{az:?}");
        assert!(az[0].contains("--resource 499b84ac-1321-427f-aa17-267ca6975798"), "{az:?}");
        assert!(az[0].contains(&format!("--tenant {TENANT_ID}")), "{az:?}");
        // One PAT, minted on vssps.dev.azure.com, with the default scope and lifetime.
        assert_eq!(w.fake.count(Route::PatCreate), 1);
        assert_eq!(w.fake.requests_to(VSSPS), 1, "only the mint goes to the identity service");
        assert_eq!(w.fake.requests_to(ENTRA), 0, "the Azure CLI's token needs no Entra request");
        assert!(w.fake.requests_to(SERVICES) >= 3, "challenge and git on dev.azure.com");
        let minted = w.fake.minted(ORG);
        assert_eq!(minted.len(), 1);
        let pat = &minted[0];
        assert_eq!((pat.upn.as_str(), pat.scope.as_str(), pat.all_orgs), (UPN, "vso.code_write", false));
        let days = (pat.valid_to - pat.valid_from + 43_200) / 86_400;
        assert_eq!(days, 30, "the default lifetime");
        // Stored in the default store, the keyring, with its metadata beside it.
        assert_eq!(w.keyring_pat(), pat.token);
        let meta = &w.index()["organizations"][ORG];
        assert_eq!(meta["origin"].as_str(), Some("minted"), "{meta}");
        assert_eq!(meta["authorization_id"].as_str(), Some(pat.authorization_id.as_str()), "{meta}");
        assert!(!w.env.store_exists(), "the file store is not used");
        assert!(!run.stderr.contains("git-credential-azdo"), "the helper said something: {run:?}");
        w.assert_tls_clean();
    });
}

#[test]
fn names_resolved_through_dns_reach_the_fake_from_git_and_the_helper() {
    // No /etc/hosts entry: git (the system resolver) and the helper (the system resolver in a
    // dynamic build, its own in the static one that install.sh makes) both ask the DNS server.
    common::sandbox::isolated_with_dns("names_resolved_through_dns_reach_the_fake_from_git_and_the_helper", |dns| {
        let Some(w) = world() else { return };
        w.first_clone();
        // Only the helper talks to the identity service (the mint); git and the helper both to
        // dev.azure.com.
        assert!(dns.count(VSSPS) >= 1, "the helper did not resolve {VSSPS} through DNS");
        assert!(dns.count(SERVICES) >= 1, "{SERVICES} was not resolved through DNS");
        w.assert_tls_clean();
    });
}

#[test]
fn a_second_clone_is_silent() {
    isolated("a_second_clone_is_silent", || {
        let Some(w) = world() else { return };
        let pat = w.first_clone();
        w.fake.reset_counts();
        let run = w.clone(&format!("https://{SERVICES}/{ORG}/proj/_git/repo"), "c2");
        assert_eq!(run.status, 0, "{run:?}");
        assert_eq!(run.stderr, "", "{run:?}");
        assert_eq!(w.az_runs().len(), 1, "no second sign-in");
        assert_eq!(w.fake.count(Route::PatCreate), 0, "no second mint");
        assert_eq!(w.fake.count(Route::Challenge), 0, "the tenant is not asked again");
        assert_eq!(w.fake.count(Route::ConnectionData), 0, "no check within the default hour");
        assert_eq!((w.fake.requests_to(VSSPS), w.fake.requests_to(ENTRA)), (0, 0));
        assert!(w.fake.count(Route::Git) > 0);
        assert_eq!(w.keyring_pat(), pat);
        w.assert_tls_clean();
    });
}

#[test]
fn a_due_check_passes_and_a_revoked_pat_is_replaced_within_the_same_command() {
    isolated("a_due_check_passes_and_a_revoked_pat_is_replaced_within_the_same_command", || {
        let Some(w) = world() else { return };
        let first = w.first_clone();
        let an_hour_and_more_ago = |meta: &mut serde_json::Value| {
            for key in ["last_validated", "last_checked"] {
                meta[key] = (meta[key].as_i64().expect(key) - 3_700).into();
            }
        };
        // A check is due (the default interval is an hour) and the PAT is fine: one check.
        w.edit_metadata(an_hour_and_more_ago);
        w.fake.reset_counts();
        let run = w.fetch("c1");
        assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
        assert_eq!(w.fake.count(Route::ConnectionData), 1, "one check, on dev.azure.com");
        assert_eq!(w.fake.count(Route::PatCreate), 0);
        assert_eq!(w.keyring_pat(), first);
        // Due again, and the PAT was revoked meanwhile: one git command finds it dead, mints a
        // new one silently and succeeds.
        w.edit_metadata(an_hour_and_more_ago);
        w.fake.revoke_pat(&first);
        w.fake.reset_counts();
        let run = w.fetch("c1");
        assert_eq!(run.status, 0, "{run:?}");
        assert!(run.stderr.contains("is no longer valid") && run.stderr.contains("removed it"), "{run:?}");
        assert_eq!(w.fake.count(Route::ConnectionData), 1);
        assert_eq!(w.fake.count(Route::PatCreate), 1, "one new PAT");
        assert_eq!(w.az_runs().len(), 2, "signed in silently again");
        let second = w.keyring_pat();
        assert_ne!(second, first);
        assert_eq!(w.fake.minted(ORG).last().map(|p| p.token.clone()), Some(second));
        w.assert_tls_clean();
    });
}

#[test]
fn a_minted_pat_near_its_expiry_is_renewed_and_the_old_one_revoked() {
    isolated("a_minted_pat_near_its_expiry_is_renewed_and_the_old_one_revoked", || {
        let Some(w) = world() else { return };
        let old = w.first_clone();
        let old_id = w.fake.minted(ORG)[0].authorization_id.clone();
        // 25 of its 30 days gone: inside the default renewal window of 7 days.
        w.edit_metadata(|meta| {
            for key in ["stored_at", "expires_at", "last_validated", "last_checked"] {
                meta[key] = (meta[key].as_i64().expect(key) - 25 * 86_400).into();
            }
            // Checked just now, so that only renewal is at work.
            let now = common::bounded::now();
            meta["last_validated"] = now.into();
            meta["last_checked"] = now.into();
        });
        w.fake.reset_counts();
        let run = w.fetch("c1");
        assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
        assert_eq!(w.fake.count(Route::PatCreate), 1, "renewed once");
        assert_eq!(w.fake.count(Route::PatRevoke), 1, "the old PAT revoked");
        assert_eq!(w.fake.requests_to(VSSPS), 2);
        assert_eq!(w.fake.is_revoked(&old_id), Some(true));
        assert_eq!(w.az_runs().len(), 2, "a silent sign-in for the renewal");
        let new = w.keyring_pat();
        assert_ne!(new, old);
        assert_eq!(w.fake.minted(ORG).last().map(|p| p.token.clone()), Some(new));
        // The fetch itself used the new PAT: the old one no longer works.
        let run = w.fetch("c1");
        assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
        assert_eq!(w.fake.count(Route::PatCreate), 1, "no second renewal");
        w.assert_tls_clean();
    });
}

#[test]
fn org_visualstudio_com_remotes_use_the_same_org_pat() {
    isolated("org_visualstudio_com_remotes_use_the_same_org_pat", || {
        // The test CA through GIT_SSL_CAINFO this time.
        let Some(w) = world_with(Options { ca_in_env: true, ..Options::default() }) else { return };
        let legacy = format!("{ORG}.visualstudio.com");
        let run = w.clone(&format!("https://{legacy}/proj/_git/repo"), "c1");
        assert_eq!(run.status, 0, "{run:?}");
        assert!(w.env.home.join("c1/README.md").is_file(), "not cloned: {run:?}");
        assert!(w.fake.requests_to(&legacy) >= 2, "git talked to the legacy host");
        // The org's tenant is still asked of dev.azure.com/ORG; the PAT minted for the org.
        assert_eq!(w.fake.count(Route::Challenge), 1);
        assert_eq!(w.fake.count(Route::PatCreate), 1);
        let pat = w.keyring_pat();
        assert_eq!(w.fake.minted(ORG)[0].token, pat);
        // The DefaultCollection form and the dev.azure.com form: the same PAT, silently.
        w.fake.reset_counts();
        for (url, into) in [
            (format!("https://{legacy}/DefaultCollection/proj/_git/repo"), "c2"),
            (format!("https://{SERVICES}/{ORG}/proj/_git/repo"), "c3"),
        ] {
            let run = w.clone(&url, into);
            assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{url}: {run:?}");
        }
        assert_eq!((w.fake.count(Route::PatCreate), w.az_runs().len()), (0, 1));
        assert_eq!(w.keyring_pat(), pat);
        w.assert_tls_clean();
    });
}

#[test]
fn doctor_is_all_green() {
    isolated("doctor_is_all_green", || {
        let Some(w) = world() else { return };
        w.first_clone();
        let run = w.env.git(&["credential-azdo", "doctor"], b"");
        assert_eq!(run.status, 0, "{run:?}");
        for line in run.stdout.lines() {
            assert!(line.starts_with("ok "), "not green: {line:?}\n{run:?}");
        }
        for expected in [
            "credential.useHttpPath is on for https://dev.azure.com",
            "https://dev.azure.com/org: this helper runs first",
            "https://org.visualstudio.com: this helper runs first",
            "store: keyring is reachable",
            "Azure DevOps: https://dev.azure.com answers",
            "identity service: https://vssps.dev.azure.com answers",
            "Entra ID: https://login.microsoftonline.com answers",
            "contoso: stored PAT is valid (signed in as",
        ] {
            assert!(run.stdout.contains(expected), "missing {expected:?}:\n{run:?}");
        }
        assert_eq!(w.fake.requests_to(ENTRA), 1, "doctor's probe reached the fake's Entra host");
        w.assert_tls_clean();
    });
}

#[test]
fn on_a_terminal_without_the_azure_cli_the_device_code_signs_in_and_later_mints_are_silent() {
    isolated("on_a_terminal_without_the_azure_cli_the_device_code_signs_in_and_later_mints_are_silent", || {
        if !common::require(&["python3"]) {
            return;
        }
        let Some(w) = world_with(Options { no_az: true, ..Options::default() }) else { return };
        w.fake.set_device_flow_timing(0, 900);
        w.fake.approve_device_flow(DeviceFlow::Next, UPN);
        let url = format!("https://{SERVICES}/{ORG}/proj/_git/repo");
        let into = w.env.home.join("c1");
        // Nothing is typed: the sign-in is approved on the fake's side.
        let run: Run = Terminal::new("git", ["clone", "-q", &url]).arg(&into).limit(120).run(&w.env).into();
        assert_eq!(run.status, 0, "{run:?}");
        assert!(into.join("README.md").is_file(), "not cloned: {run:?}");
        // The person was shown where to sign in, on the terminal.
        let flows = w.fake.device_flows();
        assert_eq!(flows.len(), 1, "one sign-in");
        let flow = &flows[0];
        assert!(run.stdout.contains(VERIFICATION_URI) && run.stdout.contains(&flow.user_code), "{run:?}");
        // At login.microsoftonline.com, in the org's tenant, as the default client.
        assert_eq!((flow.tenant.as_str(), flow.client_id.as_str()), (TENANT_ID, DEFAULT_CLIENT_ID));
        assert_eq!(flow.state, DeviceFlowState::SignedIn(UPN.to_owned()));
        assert!(w.fake.requests_to(ENTRA) >= 2, "device code and token requests");
        assert_eq!(w.fake.count(Route::PatCreate), 1);
        assert_eq!(w.keyring_pat(), w.fake.minted(ORG)[0].token);
        // The refresh token went to the keyring too.
        let ss = w.env.secret_service.as_ref().expect("secret service");
        let found = ss.secret_tool(&["search", "--all", "service", "git-credential-azdo:sign-in"]);
        assert!(found.stdout.contains("sign-in token"), "{found:?}");

        // Without a terminal now: after a logout, the next clone mints with the stored refresh
        // token, silently.
        let run = w.env.helper(&["logout", ORG], b"");
        assert_eq!(run.status, 0, "{run:?}");
        let run = w.clone(&url, "c2");
        assert_eq!(run.status, 0, "{run:?}");
        assert_eq!(w.fake.device_flows().len(), 1, "no second device code");
        assert_eq!(w.fake.refresh_grants(), 1);
        assert_eq!(w.fake.count(Route::PatCreate), 2);
        assert_eq!(w.keyring_pat(), w.fake.minted(ORG)[1].token);
        w.assert_tls_clean();
    });
}
