//! The helper's checks over real TLS, and git's TLS settings: `http.sslCAInfo`, `GIT_SSL_CAINFO`,
//! `http.sslVerify` and `GIT_SSL_NO_VERIFY`. A small TLS front (rustls, with the test CA and
//! server certificate in tests/fixtures/tls) stands before the plain-HTTP fake Azure DevOps, and
//! `GIT_CREDENTIAL_AZDO_URL` points at the front.
#![cfg(unix)] // shell scripts, git http-backend and Unix file modes

mod common;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::bounded::{now, YEAR};
use common::{Run, TestEnv};
use fake_azdo::{FakeAzdo, Route};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

const WARNING: &str = "WARNING: TLS certificate checks are off";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

/// What the front has seen; guarded by one lock, waited on by [`TlsFront::settle`].
#[derive(Default)]
struct Seen {
    /// Connections accepted and not yet finished.
    open: usize,
    accepted: usize,
    handshakes: usize,
    /// Why handshakes failed (e.g. the client's alert refusing the certificate).
    refused: Vec<String>,
}

struct Shared {
    seen: Mutex<Seen>,
    changed: Condvar,
    stopping: Mutex<bool>,
}

impl Shared {
    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().expect("front state")
    }
}

/// A TLS-terminating front on 127.0.0.1: each connection's TLS is ended here and its plaintext
/// relayed both ways to the fake over plain TCP, opened only once the handshake has succeeded.
struct TlsFront {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl TlsFront {
    fn start(backend: SocketAddr) -> TlsFront {
        let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
            .expect("server.pem")
            .collect::<Result<Vec<_>, _>>()
            .expect("server.pem certificates");
        let key = PrivateKeyDer::from_pem_file(fixture("server-key.pem")).expect("server-key.pem");
        // The ring provider, as reqwest uses; explicit, so no process-wide default is involved.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared { seen: Mutex::default(), changed: Condvar::new(), stopping: Mutex::new(false) });
        let for_thread = Arc::clone(&shared);
        let accept = std::thread::spawn(move || {
            for client in listener.incoming() {
                if *for_thread.stopping.lock().expect("stopping") {
                    break;
                }
                let Ok(client) = client else { continue };
                {
                    // Counted before the connection's thread exists, so `settle` cannot miss it.
                    let mut seen = for_thread.seen();
                    seen.open += 1;
                    seen.accepted += 1;
                }
                let (config, shared) = (Arc::clone(&config), Arc::clone(&for_thread));
                std::thread::spawn(move || {
                    serve(config, client, backend, &shared);
                    shared.seen().open -= 1;
                    shared.changed.notify_all();
                });
            }
        });
        TlsFront { addr, shared, accept: Some(accept) }
    }

    /// Wait (bounded) until every accepted connection has finished, then report what was seen.
    /// The helper has exited by then, so its connections are closed and will finish.
    fn settle(&self) -> MutexGuard<'_, Seen> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = self.shared.seen();
        while seen.open > 0 {
            let left = deadline.checked_duration_since(Instant::now()).expect("the TLS front's connections hang");
            seen = self.shared.changed.wait_timeout(seen, left).expect("front state").0;
        }
        seen
    }

    fn url(&self, host: &str) -> String {
        format!("https://{host}:{}", self.addr.port())
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        *self.shared.stopping.lock().expect("stopping") = true;
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// One connection: the handshake, then plaintext relayed both ways until either side is done.
fn serve(config: Arc<ServerConfig>, mut client: TcpStream, backend: SocketAddr, shared: &Shared) {
    let mut tls = match ServerConnection::new(config) {
        Ok(tls) => tls,
        Err(e) => return shared.seen().refused.push(e.to_string()),
    };
    while tls.is_handshaking() {
        if let Err(e) = tls.complete_io(&mut client) {
            return shared.seen().refused.push(e.to_string());
        }
    }
    shared.seen().handshakes += 1;
    let Ok(backend) = TcpStream::connect(backend) else { return };
    let tls = Mutex::new(tls);
    std::thread::scope(|scope| {
        let down = scope.spawn(|| relay_down(&tls, &backend, &client));
        let _ = relay_up(&tls, &client, &backend);
        // Ends `relay_down`'s read of the fake if the client left first.
        let _ = backend.shutdown(Shutdown::Both);
        let _ = down.join();
    });
}

/// Client to fake: TLS records in, plaintext out.
fn relay_up(tls: &Mutex<ServerConnection>, mut client: &TcpStream, mut backend: &TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let (plain, closed) = {
            let mut tls = tls.lock().expect("tls");
            let mut plain = Vec::new();
            let closed = match tls.reader().read_to_end(&mut plain) {
                Ok(_) => true, // close_notify
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
                Err(e) => return Err(e),
            };
            while tls.wants_write() {
                tls.write_tls(&mut client)?;
            }
            (plain, closed)
        };
        backend.write_all(&plain)?;
        if closed {
            return backend.shutdown(Shutdown::Write);
        }
        let n = client.read(&mut buf)?;
        if n == 0 {
            return backend.shutdown(Shutdown::Write);
        }
        let mut tls = tls.lock().expect("tls");
        let mut records = &buf[..n];
        while !records.is_empty() {
            tls.read_tls(&mut records)?;
            tls.process_new_packets().map_err(io::Error::other)?;
        }
    }
}

/// Fake to client: plaintext in, TLS records out; close_notify when the fake is done.
fn relay_down(tls: &Mutex<ServerConnection>, mut backend: &TcpStream, mut client: &TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = backend.read(&mut buf)?;
        let mut tls = tls.lock().expect("tls");
        if n == 0 {
            tls.send_close_notify();
        } else {
            tls.writer().write_all(&buf[..n])?;
        }
        while tls.wants_write() {
            tls.write_tls(&mut client)?;
        }
        if n == 0 {
            return client.shutdown(Shutdown::Write);
        }
    }
}

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
    let w = world("localhost");
    w.git_config("http.sslCAInfo", &fixture("ca.pem").to_string_lossy());
    let run = w.status();
    w.assert_valid(&run);
    assert!(!run.stderr.contains(WARNING), "{run:?}");
}

#[test]
fn git_ssl_cainfo_trusts_a_private_ca_and_wins_over_http_sslcainfo() {
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
    let w = world("127.0.0.1");
    w.git_config("http.sslVerify", "false");
    let run = w.status();
    w.assert_valid(&run);
    let warnings = run.stderr.lines().filter(|l| l.contains(WARNING)).count();
    assert_eq!(warnings, 1, "{run:?}");
}

#[test]
fn a_missing_ca_file_is_named_and_nothing_is_sent() {
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
        self.git_config(&format!("credential.{origin}.helper"), common::BIN);
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
    let mut w = world("localhost");
    let origin = w.register_helper();
    w.git_config(&format!("http.{origin}.sslCAInfo"), &fixture("ca.pem").to_string_lossy());
    w.assert_fill_checks(&origin);
    let run = w.status();
    assert_eq!(run.status, 0, "{run:?}");
    assert!(World::verdict(&run).starts_with("contoso: valid: "), "{run:?}");
}
