//! The helper's checks over real TLS, and git's TLS settings: `http.sslCAInfo`, `GIT_SSL_CAINFO`,
//! `http.sslVerify` and `GIT_SSL_NO_VERIFY`. A small TLS front (tests/common/tls.rs, with the
//! test CA and server certificate in tests/fixtures/tls) stands before the plain-HTTP fake Azure
//! DevOps, and `GIT_CREDENTIAL_AZDO_URL` points at the front.

use crate::common;
use crate::common::bounded::{now, YEAR};
use crate::common::tls::{fixture, TlsFront};
use crate::common::{Run, TestEnv};
use fake_azdo::{FakeAzdo, Route};

const WARNING: &str = "WARNING: TLS certificate checks are off";

struct World {
    fake: FakeAzdo,
    front: TlsFront,
    env: TestEnv,
}

/// The fake with org `contoso` and a PAT for alice stored by `login`; the helper's Azure DevOps
/// is the TLS front at `https://{host}:PORT`. No CA setting yet, so login cannot check the PAT.
fn world(host: &str) -> World {
    let fake = FakeAzdo::start();
    fake.add_org("contoso");
    let backend = fake.url().strip_prefix("http://").expect("fake url").parse().expect("fake address");
    let front = TlsFront::start(backend);
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    env.set("GIT_CREDENTIAL_AZDO_URL", front.url(host));
    let pat = fake.add_pat("contoso", "alice@contoso.example", &["vso.code"], now() + YEAR).token;
    let run = env.helper(&["login", "contoso", "--pat-stdin"], pat.as_bytes());
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stderr.contains("Could not check this PAT now") && run.stderr.contains("certificate"), "{run:?}");
    assert!(run.stderr.contains("storing it anyway"), "{run:?}");
    assert!(!run.stderr.contains(WARNING), "{run:?}");
    World { fake, front, env }
}

impl World {
    fn status(&self) -> Run {
        self.env.helper(&["status", "contoso"], b"")
    }

    fn git_config(&self, key: &str, value: &str) {
        let run = self.env.git(&["config", "--global", key, value], b"");
        assert_eq!(run.status, 0, "{run:?}");
    }

    /// The one stdout line with the check's verdict.
    fn verdict(run: &Run) -> String {
        let verdicts: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| ["valid", "invalid", "unknown"].iter().any(|v| l.starts_with(&format!("contoso: {v}: "))))
            .collect();
        assert_eq!(verdicts.len(), 1, "{run:?}");
        verdicts[0].to_string()
    }

    /// `status` says valid over TLS: the request reached the fake through a completed handshake.
    fn assert_valid(&self, run: &Run) {
        assert_eq!(run.status, 0, "{run:?}");
        let line = World::verdict(run);
        assert!(line.starts_with("contoso: valid: ") && line.contains("alice"), "{run:?}");
        assert_eq!(self.fake.count(Route::ConnectionData), 1, "one check, through the front");
        let seen = self.front.settle();
        assert!(seen.handshakes >= 1, "no TLS handshake: {run:?}");
    }
}

#[test]
fn an_untrusted_certificate_is_unknown_and_nothing_reaches_the_server() {
    for host in ["localhost", "127.0.0.1"] {
        let w = world(host);
        let run = w.status();
        assert_eq!(run.status, 3, "{run:?}");
        let line = World::verdict(&run);
        assert!(line.starts_with("contoso: unknown: ") && line.contains("certificate"), "{run:?}");
        assert!(line.contains("UnknownIssuer"), "{run:?}");
        assert!(!run.stderr.contains(WARNING), "{run:?}");
        let seen = w.front.settle();
        assert_eq!((seen.accepted, seen.handshakes), (2, 0), "login and status both refused the certificate");
        assert_eq!(seen.refused.len(), 2, "{:?}", seen.refused);
        assert_eq!(w.fake.count(Route::ConnectionData), 0, "no request may pass an untrusted TLS server");
    }
}

#[test]
fn http_sslcainfo_trusts_a_private_ca() {
    if !common::has_git() {
        return;
    }
    let w = world("localhost");
    w.git_config("http.sslCAInfo", &fixture("ca.pem").to_string_lossy());
    let run = w.status();
    w.assert_valid(&run);
    assert!(!run.stderr.contains(WARNING), "{run:?}");
}

#[test]
fn git_ssl_cainfo_trusts_a_private_ca_and_wins_over_http_sslcainfo() {
    if !common::has_git() {
        return;
    }
    let mut w = world("127.0.0.1");
    w.git_config("http.sslCAInfo", &w.env.root.path().join("absent.pem").to_string_lossy());
    w.env.set("GIT_SSL_CAINFO", fixture("ca.pem"));
    let run = w.status();
    w.assert_valid(&run);
    assert!(!run.stderr.contains(WARNING), "{run:?}");
}

#[test]
fn git_ssl_no_verify_accepts_any_certificate_with_a_warning() {
    let mut w = world("localhost");
    w.env.set("GIT_SSL_NO_VERIFY", "1");
    let run = w.status();
    w.assert_valid(&run);
    let warnings = run.stderr.lines().filter(|l| l.contains(WARNING)).count();
    assert_eq!(warnings, 1, "{run:?}");
}

#[test]
fn http_sslverify_false_accepts_any_certificate_with_a_warning() {
    if !common::has_git() {
        return;
    }
    let w = world("127.0.0.1");
    w.git_config("http.sslVerify", "false");
    let run = w.status();
    w.assert_valid(&run);
    let warnings = run.stderr.lines().filter(|l| l.contains(WARNING)).count();
    assert_eq!(warnings, 1, "{run:?}");
}

#[test]
fn a_missing_ca_file_is_named_and_nothing_is_sent() {
    if !common::has_git() {
        return;
    }
    let w = world("localhost");
    let missing = w.env.root.path().join("no-such-ca.pem");
    w.git_config("http.sslCAInfo", &missing.to_string_lossy());
    let run = w.status();
    assert_eq!(run.status, 3, "{run:?}");
    let line = World::verdict(&run);
    assert!(line.starts_with("contoso: unknown: cannot read the CA file "), "{run:?}");
    assert!(line.contains(&*missing.to_string_lossy()), "{run:?}");
    assert_eq!(w.front.settle().accepted, 1, "only login's connection: status never connected");
}

#[test]
fn a_ca_file_without_a_certificate_is_named() {
    let mut w = world("localhost");
    let text = w.env.root.path().join("not-a-ca.pem");
    std::fs::write(&text, "this is not a certificate\n").expect("write");
    // A PEM file holding only a key: the easy mistake of pointing at the wrong file.
    for file in [text, fixture("server-key.pem")] {
        w.env.set("GIT_SSL_CAINFO", &file);
        let run = w.status();
        assert_eq!(run.status, 3, "{run:?}");
        let line = World::verdict(&run);
        assert!(line.starts_with("contoso: unknown: cannot read the CA file "), "{run:?}");
        assert!(line.contains(&*file.to_string_lossy()) && line.ends_with("no certificate in it"), "{run:?}");
    }
    assert_eq!(w.front.settle().accepted, 1, "only login's connection: status never connected");
}

impl World {
    /// Register the helper for the front's origin as `use_fake` does for the fake's.
    fn register_helper(&self) -> String {
        let origin = self.front.url("localhost");
        self.git_config(&format!("credential.{origin}.helper"), common::bin());
        self.git_config(&format!("credential.{origin}.useHttpPath"), "true");
        origin
    }

    /// `git credential fill` checking the stored PAT (interval 0: on every get) over TLS.
    fn assert_fill_checks(&mut self, origin: &str) {
        self.env.set("GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL", "0");
        let run = self.env.fill(&format!("{origin}/contoso/proj/_git/repo"));
        assert_eq!(run.status, 0, "{run:?}");
        assert!(run.stdout.contains("password="), "{run:?}");
        assert!(!run.stderr.contains("could not check"), "{run:?}");
        assert_eq!(self.fake.count(Route::ConnectionData), 1, "one check, through the front");
        assert!(self.front.settle().handshakes >= 1, "{run:?}");
    }
}

#[test]
fn git_credential_fill_checks_the_pat_over_tls() {
    if !common::has_git() {
        return;
    }
    let mut w = world("localhost");
    let origin = w.register_helper();
    w.git_config("http.sslCAInfo", &fixture("ca.pem").to_string_lossy());
    w.assert_fill_checks(&origin);
}

/// git applies `http.<url>.*` by the URL it requests; the helper matches its network settings
/// against `https://dev.azure.com/ORG` (`Org::url`) even when `azdo.url` points elsewhere, so a
/// CA scoped to the real request URL is not used (a CA scoped to dev.azure.com is).
#[test]

fn url_scoped_tls_settings_follow_the_url_requested() {
    if !common::has_git() {
        return;
    }
    let mut w = world("localhost");
    let origin = w.register_helper();
    w.git_config(&format!("http.{origin}.sslCAInfo"), &fixture("ca.pem").to_string_lossy());
    w.assert_fill_checks(&origin);
    let run = w.status();
    assert_eq!(run.status, 0, "{run:?}");
    assert!(World::verdict(&run).starts_with("contoso: valid: "), "{run:?}");
}
