//! Continuous access evaluation, end to end with real git against the fake: in oauth mode, a
//! session revoked under CAE fails one git command, whose `erase` carries the claims challenge;
//! the next command's `get` signs in again with the claims merged with `cp1` (the refresh token,
//! or a new sign-in when that is revoked too) and succeeds.

use crate::common::{mode, walk, Run, TestEnv};
use fake_azdo::{DeviceFlow, FakeAzdo, Route};

const UPN: &str = "alice@contoso.example";
const CP1: &str = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;

struct World {
    fake: FakeAzdo,
    env: TestEnv,
}

/// A fake with `contoso/proj/repo` and a helper in oauth mode that signs in with the device code
/// (instant polling; tests have no terminal; approved only where a test says so), with an
/// askpass that answers nothing.
fn world() -> World {
    let fake = FakeAzdo::start();
    fake.add_repo("contoso", "proj", "repo");
    // Codes expire in 20 s: a sign-in nobody approves ends a failing test soon.
    fake.set_device_flow_timing(0, 20);
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    env.set("GIT_CREDENTIAL_AZDO_MINT", "auto");
    env.set("GIT_CREDENTIAL_AZDO_TOKEN_SOURCE", "device");
    env.set("GIT_CREDENTIAL_AZDO_CREDENTIAL_TYPE", "oauth");
    env.unset("GIT_TERMINAL_PROMPT");
    let silent = env.script("askpass-nothing", "exit 0");
    env.set("GIT_ASKPASS", silent);
    World { fake, env }
}

impl World {
    fn url(&self) -> String {
        self.fake.repo_url("contoso", "proj", "repo")
    }

    /// The first clone into `c1`: a device code sign-in, the access token handed to git.
    fn first_clone(&self) {
        self.fake.approve_device_flow(DeviceFlow::Next, UPN);
        let run = self.env.git(&["clone", "-q", &self.url(), &self.env.home.join("c1").to_string_lossy()], b"");
        assert_eq!(run.status, 0, "{run:?}");
        assert_eq!(self.fake.count(Route::PatCreate), 0, "oauth mode mints nothing");
    }

    fn fetch(&self) -> Run {
        self.env.git(&["-C", &self.env.home.join("c1").to_string_lossy(), "fetch", "-q"], b"")
    }

    /// The files in the helper's pending-claims directory (in its data directory for the fake's
    /// origin).
    fn pending_files(&self) -> Vec<std::path::PathBuf> {
        let data = self.env.home.join(".local/share/git-credential-azdo");
        walk(&data).into_iter().filter(|p| p.parent().is_some_and(|d| d.ends_with("claims"))).collect()
    }

    /// The `claims` parameters the fake's identity service received for `endpoint`, parsed.
    fn claims_sent(&self, endpoint: &str) -> Vec<serde_json::Value> {
        self.fake
            .token_claims()
            .into_iter()
            .filter(|c| c.endpoint == endpoint)
            .map(|c| serde_json::from_str(c.claims.as_deref().unwrap_or("null")).expect("claims are JSON"))
            .collect()
    }
}

/// `cp1` merged into a challenge's claims, as MSAL merges them.
fn merged(challenge: &str) -> serde_json::Value {
    let mut claims: serde_json::Value = serde_json::from_str(challenge).expect("JSON");
    claims["access_token"]["xms_cc"] = serde_json::json!({"values": ["cp1"]});
    claims
}

/// The revocation fails one git command: git refuses the kept token, and its `erase` carries
/// the challenge, whose claims the helper keeps (privately, never shown).
fn revoked_fetch_fails_and_leaves_the_claims_pending(w: &World, claims: &str) {
    let failed = w.fetch();
    assert_ne!(failed.status, 0, "the revoked token still worked: {failed:?}");
    assert!(failed.stderr.contains("continuous access evaluation"), "{failed:?}");
    assert!(!failed.stderr.contains(claims) && !failed.stderr.contains("\"nbf\""), "claims shown: {failed:?}");
    let pending = w.pending_files();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(mode(&pending[0]), 0o600);
}

#[test]
fn a_session_revoked_under_cae_fails_one_command_and_the_next_redeems_with_the_claims() {
    let w = world();
    w.first_clone();
    // Every token request declared cp1: the token git got is a CAE token.
    let cp1: serde_json::Value = serde_json::from_str(CP1).expect("JSON");
    let device: Vec<_> = w.claims_sent("urn:ietf:params:oauth:grant-type:device_code");
    assert!(!device.is_empty() && device.iter().all(|c| *c == cp1), "{device:?}");
    assert_eq!(w.fetch().status, 0, "the kept token works");

    let claims = w.fake.revoke_session_under_cae(UPN);
    revoked_fetch_fails_and_leaves_the_claims_pending(&w, &claims);

    // The next command redeems the refresh token with the claims and cp1, and succeeds.
    w.fake.reset_counts();
    let fetched = w.fetch();
    assert_eq!(fetched.status, 0, "{fetched:?}");
    assert_eq!(w.claims_sent("refresh_token").last(), Some(&merged(&claims)), "{:?}", w.fake.token_claims());
    assert_eq!(w.fake.count(Route::DeviceCode), 0, "no new sign-in: the refresh token answered");
    assert!(w.pending_files().is_empty(), "the answered claims are cleared");

    // And the token it got is kept again: the command after makes no token request.
    w.fake.reset_counts();
    let again = w.fetch();
    assert_eq!(again.status, 0, "{again:?}");
    assert_eq!(w.fake.count(Route::Token), 0, "the new token was not kept");
    assert_eq!(w.claims_sent("refresh_token").len(), 1);
}

#[test]
fn when_the_refresh_token_is_revoked_too_the_next_command_signs_in_with_the_claims() {
    let w = world();
    w.first_clone();
    w.fake.revoke_refresh_tokens();
    let claims = w.fake.revoke_session_under_cae(UPN);
    revoked_fetch_fails_and_leaves_the_claims_pending(&w, &claims);

    w.fake.approve_device_flow(DeviceFlow::Next, UPN);
    let fetched = w.fetch();
    assert_eq!(fetched.status, 0, "{fetched:?}");
    assert_eq!(w.claims_sent("refresh_token").last(), Some(&merged(&claims)));
    assert_eq!(w.claims_sent("devicecode").last(), Some(&merged(&claims)), "{:?}", w.fake.token_claims());
    assert!(w.pending_files().is_empty());
}

#[test]
fn without_a_challenge_a_refused_token_leaves_no_claims_pending() {
    let w = world();
    w.first_clone();
    // An expired token (no challenge): forgotten, nothing pending; the next get refreshes as ever.
    w.fake.expire_access_tokens();
    let failed = w.fetch();
    assert_ne!(failed.status, 0, "{failed:?}");
    assert!(!failed.stderr.contains("continuous access evaluation"), "{failed:?}");
    assert!(w.pending_files().is_empty());
    assert_eq!(w.fetch().status, 0);
    assert_eq!(w.claims_sent("refresh_token").last().map(|c| c.to_string()).as_deref(), Some(CP1));
}
