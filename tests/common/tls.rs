//! A TLS front for the plain-HTTP fake Azure DevOps (rustls, with the test CA and server
//! certificates in tests/fixtures/tls): each connection's TLS is ended here and its plaintext
//! relayed both ways to the fake, so requests reach it unchanged, `Host` header included.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

/// A file of tests/fixtures/tls.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

/// What the front has seen; guarded by one lock, waited on by [`TlsFront::settle`].
#[derive(Default)]
pub struct Seen {
    /// Connections accepted and not yet finished.
    pub open: usize,
    pub accepted: usize,
    pub handshakes: usize,
    /// Why handshakes failed (e.g. the client's alert refusing the certificate).
    pub refused: Vec<String>,
    /// The server name (SNI) of each completed handshake; none for an IP address.
    pub names: Vec<Option<String>>,
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
pub struct TlsFront {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl TlsFront {
    /// A front on a free port of 127.0.0.1 presenting `server.pem` (localhost).
    pub fn start(backend: SocketAddr) -> TlsFront {
        TlsFront::start_on("127.0.0.1:0", backend, "server")
    }

    /// A front on `bind` presenting the certificate `{cert}.pem` and key `{cert}-key.pem`.
    pub fn start_on(bind: &str, backend: SocketAddr, cert: &str) -> TlsFront {
        let certs = CertificateDer::pem_file_iter(fixture(&format!("{cert}.pem")))
            .expect("certificate file")
            .collect::<Result<Vec<_>, _>>()
            .expect("certificates");
        let key = PrivateKeyDer::from_pem_file(fixture(&format!("{cert}-key.pem"))).expect("key file");
        // The ring provider, as reqwest uses; explicit, so no process-wide default is involved.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate");
        let config = Arc::new(config);
        let listener = TcpListener::bind(bind).unwrap_or_else(|e| panic!("TLS front: bind {bind}: {e}"));
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
    pub fn settle(&self) -> MutexGuard<'_, Seen> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = self.shared.seen();
        while seen.open > 0 {
            let left = deadline.checked_duration_since(Instant::now()).expect("the TLS front's connections hang");
            seen = self.shared.changed.wait_timeout(seen, left).expect("front state").0;
        }
        seen
    }

    pub fn url(&self, host: &str) -> String {
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
    {
        let mut seen = shared.seen();
        seen.handshakes += 1;
        seen.names.push(tls.server_name().map(str::to_owned));
    }
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
