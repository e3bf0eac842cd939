//! The loopback listener of the browser sign-in: `127.0.0.1` on a free port (and `[::1]` on the
//! same port where IPv6 loopback exists). It sends the browser from its short start address
//! (`/start`, what the browser's command line carries) on to the authorize URL, so the `state`
//! and the PKCE challenge are in no command line; it receives the redirect, each request read
//! within a bound and answered with a small static page, the redirect's fields (a query `GET` or
//! a `form_post` `POST`) decoded, the `state` compared, and the code handed back as a [`Secret`].
//! A connection is served only when [`super::peer`] says this user's process holds its client
//! end, asked before a byte of the connection is read; any other is dropped unread.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

use percent_encoding::percent_decode_str;

use super::peer::{owners_can_be_told, same_user};
use super::Error;
use crate::secret::Secret;
use crate::text::printable;

/// Most a request head, or a form body, from the browser may hold.
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;
/// How long one connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The decoded fields of a query string or form body, in order: `+` is a space, then `%XX`
/// escapes are decoded (an escape that is not one is kept as it is; invalid UTF-8 is replaced),
/// as the `application/x-www-form-urlencoded` parser of the URL standard does.
fn fields(s: &str) -> Vec<(String, String)> {
    let value = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (value(k), value(v))
        })
        .collect()
}

/// The loopback listener: `127.0.0.1` on a free port, and `[::1]` on the same port where IPv6
/// loopback exists, since a browser may resolve `localhost` to either.
pub struct Listener {
    sockets: Vec<TcpListener>,
    pub port: u16,
}

impl Listener {
    pub fn bind() -> Result<Listener, Error> {
        // `localhost` may reach either family: both must be ours on the same port. When [::1]
        // on the free IPv4 port is taken (by another process), try another port; only a machine
        // without IPv6 loopback gets an IPv4 listener alone.
        let mut attempts = 0;
        let (port, sockets) = loop {
            let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).map_err(Error::Listen)?;
            let port = v4.local_addr().map_err(Error::Listen)?.port();
            match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))) {
                Ok(v6) => break (port, vec![v4, v6]),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempts < 20 => attempts += 1,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(Error::Listen(e)),
                Err(e) => {
                    tracing::debug!(error = %e, "no IPv6 loopback listener");
                    break (port, vec![v4]);
                }
            }
        };
        for s in &sockets {
            s.set_nonblocking(true).map_err(Error::Listen)?;
        }
        owners_can_be_told()?;
        Ok(Listener { sockets, port })
    }

    /// `http://localhost:PORT/`, as the default client's `http://localhost` registration matches.
    pub fn redirect_uri(&self) -> String {
        format!("http://localhost:{}/", self.port)
    }

    /// `http://127.0.0.1:PORT/start`: the address the browser is opened on (and the one shown),
    /// which [`Listener::wait`] answers with a redirect to the authorize URL. Other users can
    /// read a browser's command line; this address tells them nothing, and they get no answer.
    pub fn start_uri(&self) -> String {
        format!("http://127.0.0.1:{}{START}", self.port)
    }

    /// Wait until `deadline` for the redirect that carries `state`; answer `GET /start` with a
    /// redirect to `authorize` and every other request with a small page. A request elsewhere
    /// than `/` (a favicon), or without `code` or `error`, or with the wrong `state`, is answered
    /// and ignored.
    /// A `browser` that exits with a failure before the redirect came means no browser showed
    /// the page: the wait ends then, so the next way to sign in can run.
    pub fn wait(
        &self,
        state: &str,
        authorize: &str,
        deadline: Instant,
        timeout: Duration,
        mut browser: Option<&mut Child>,
    ) -> Result<Secret, Error> {
        let mut wrong_state = false;
        loop {
            if let Some(child) = browser.as_deref_mut() {
                match child.try_wait() {
                    Ok(Some(status)) if !status.success() => {
                        return Err(Error::NoBrowser(format!("the browser command failed ({status})")));
                    }
                    // A launcher that handed the URL on and exited: nothing more to watch.
                    Ok(Some(_)) => browser = None,
                    Ok(None) | Err(_) => {}
                }
            }
            let mut accepted = false;
            for socket in &self.sockets {
                let Ok((stream, peer)) = socket.accept() else { continue };
                accepted = true;
                // Who holds the client end is asked before a byte is read; not knowing is a no.
                if !same_user(peer, self.port) {
                    tracing::info!(
                        "a connection to the sign-in listener from another user, or from a client whose owner \
                         cannot be told; dropped unread"
                    );
                    continue;
                }
                // One deadline per connection: a client that trickles bytes cannot stretch the wait.
                let until = deadline.min(Instant::now() + READ_TIMEOUT);
                match handle(stream, state, authorize, until) {
                    Handled::Code(code) => return Ok(code),
                    Handled::Error(e) => return Err(Error::Refused(e)),
                    Handled::WrongState => wrong_state = true,
                    Handled::Ignored => {}
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(timeout, wrong_state));
            }
            if !accepted {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

enum Handled {
    Code(Secret),
    Error(String),
    WrongState,
    Ignored,
}

/// The path of the start address ([`Listener::start_uri`]).
const START: &str = "/start";

/// One request from the browser, read (bounded by `until`) and answered; `GET /start` with a
/// redirect to `authorize`.
fn handle(mut stream: TcpStream, state: &str, authorize: &str, until: Instant) -> Handled {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    let Some((method, target, body)) = read_request(&mut stream, until) else {
        return Handled::Ignored;
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let params = match method.as_str() {
        "GET" if path == START => {
            redirect(&mut stream, authorize);
            return Handled::Ignored;
        }
        "GET" if path == "/" => fields(query),
        "POST" if path == "/" => fields(&body),
        _ => {
            respond(&mut stream, 404, "Not found.");
            return Handled::Ignored;
        }
    };
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (code, error) = (get("code"), get("error"));
    if code.is_none() && error.is_none() {
        respond(&mut stream, 200, "Waiting for the sign-in to finish.");
        return Handled::Ignored;
    }
    let state_ok = get("state").is_some_and(|s| Secret::new(s) == Secret::new(state));
    if !state_ok {
        respond(
            &mut stream,
            400,
            "This sign-in did not come from git-credential-azdo (state mismatch); it was ignored.",
        );
        return Handled::WrongState;
    }
    if let Some(error) = error {
        // An error name is a token of letters and '_'; the description's first line names the
        // AADSTS code. Both come from the browser: made printable and bounded.
        let name: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        let detail = get("error_description").and_then(|d| d.lines().next()).map(printable).unwrap_or_default();
        let detail: String = detail.chars().take(200).collect();
        respond(&mut stream, 200, &format!("Sign-in failed ({name}). You can close this tab and return to git."));
        return Handled::Error(if detail.is_empty() { name } else { format!("{name}: {detail}") });
    }
    match code.filter(|c| !c.is_empty()) {
        Some(code) => {
            respond(&mut stream, 200, "Signed in to Azure DevOps. You can close this tab and return to git.");
            Handled::Code(Secret::new(code))
        }
        None => {
            respond(&mut stream, 400, "The redirect holds no code.");
            Handled::Ignored
        }
    }
}

/// The request line's method and target, and the body (for a POST), or `None` for anything
/// unreadable, too large, or not sent in full by `until`.
fn read_request(stream: &mut TcpStream, until: Instant) -> Option<(String, String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = |stream: &mut TcpStream, chunk: &mut [u8]| -> Option<usize> {
        let left = until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
        stream.set_read_timeout(Some(left)).ok()?;
        stream.read(chunk).ok().filter(|n| *n > 0)
    };
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = read(stream, &mut chunk)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, target) = (request_line.next()?.to_owned(), request_line.next()?.to_owned());
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return None;
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = read(stream, &mut chunk)?;
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some((method, target, String::from_utf8_lossy(&body).into_owned()))
}

/// A `302` to `location` (the authorize URL), with a small page linking to it; not cached.
fn redirect(stream: &mut TcpStream, location: &str) {
    // The URL is ours (every value percent-encoded): no CR, LF or quote can break out of the
    // header or the attribute; checked anyway.
    if location.contains(['\r', '\n', '"', '<', '>']) {
        respond(stream, 400, "The sign-in address is not usable.");
        return;
    }
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>git-credential-azdo</title></head>\
         <body><p><a href=\"{}\">Continue to the sign-in page.</a></p></body></html>\n",
        location.replace('&', "&amp;")
    );
    let head = format!(
        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body.as_bytes()));
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// A small static page; nothing the browser sent is in it.
fn respond(stream: &mut TcpStream, status: u16, text: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>git-credential-azdo</title></head>\
         <body><p>{text}</p><p>Do not share the contents of this page or its address.</p></body></html>\n"
    );
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body.as_bytes()));
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::percent::escape;

    const AUTHORIZE: &str = "https://login.example/organizations/oauth2/v2.0/authorize?state=st&code_challenge=ch";

    #[test]
    fn the_listener_holds_both_loopbacks_on_one_port_where_ipv6_exists() {
        let listener = Listener::bind().expect("bind");
        let ports: Vec<u16> = listener.sockets.iter().map(|s| s.local_addr().expect("addr").port()).collect();
        assert!(ports.iter().all(|p| *p == listener.port), "{ports:?}");
        if TcpListener::bind("[::1]:0").is_ok() {
            assert_eq!(listener.sockets.len(), 2, "IPv6 loopback exists here");
        }
    }

    /// `GET /start` is sent on to the authorize URL; the redirect itself is still taken after.
    #[test]
    fn the_start_address_redirects_to_the_authorize_url() {
        let listener = Listener::bind().expect("bind");
        let port = listener.port;
        assert_eq!(listener.start_uri(), format!("http://127.0.0.1:{port}/start"));
        let client = std::thread::spawn(move || {
            let start = send(port, "GET /start HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            let done = send(port, "GET /?code=c&state=s HTTP/1.1\r\nHost: localhost\r\n\r\n");
            (start, done)
        });
        let code = listener
            .wait("s", AUTHORIZE, Instant::now() + Duration::from_secs(20), Duration::from_secs(20), None)
            .expect("code");
        assert_eq!(code.expose(), "c");
        let (start, done) = client.join().expect("client");
        assert!(start.starts_with("HTTP/1.1 302 Found\r\n"), "{start}");
        assert!(start.contains(&format!("\r\nLocation: {AUTHORIZE}\r\n")), "{start}");
        assert!(start.contains("Cache-Control: no-store"), "{start}");
        assert!(done.starts_with("HTTP/1.1 200"), "{done}");
    }

    #[test]
    fn a_client_that_trickles_its_request_is_cut_off_at_its_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            for _ in 0..100 {
                if client.write_all(b"G").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let (stream, _) = listener.accept().expect("accept");
        let started = Instant::now();
        assert!(matches!(
            handle(stream, "state", "http://authority/", started + Duration::from_millis(600)),
            Handled::Ignored
        ));
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    }

    #[test]
    fn fields_are_decoded() {
        let f = fields("code=a%2Bb+c&state=s%3D&x&error_description=%zz");
        assert_eq!(f[0], ("code".to_owned(), "a+b c".to_owned()));
        assert_eq!(f[1], ("state".to_owned(), "s=".to_owned()));
        assert_eq!(f[2], ("x".to_owned(), String::new()));
        assert_eq!(f[3].1, "%zz");
        assert_eq!(fields("%4")[0].0, "%4");
        assert_eq!(escape("a b&c/é").to_string(), "a%20b%26c%2F%C3%A9");
        // `%+4` is no escape: kept, and its '+' is a space (a hand-written decoder before the
        // percent-encoding crate read it as the byte 4).
        assert_eq!(fields("a=%+41%2b+%C3%A9%FF")[0].1, "% 41+ é\u{fffd}");
    }

    fn send(port: u16, request: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.write_all(request.as_bytes()).expect("send");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[test]
    fn the_listener_ignores_strays_and_wrong_states_and_takes_the_code() {
        let listener = Listener::bind().expect("bind");
        let port = listener.port;
        let client = std::thread::spawn(move || {
            let favicon = send(port, "GET /favicon.ico HTTP/1.1\r\nHost: localhost\r\n\r\n");
            let wrong = send(port, "GET /?code=c1&state=bad HTTP/1.1\r\nHost: localhost\r\n\r\n");
            let body = "code=the%2Bcode&state=good";
            let ok = send(
                port,
                &format!("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}", body.len()),
            );
            (favicon, wrong, ok)
        });
        let code = listener
            .wait("good", AUTHORIZE, Instant::now() + Duration::from_secs(20), Duration::from_secs(20), None)
            .expect("code");
        assert_eq!(code.expose(), "the+code");
        let (favicon, wrong, ok) = client.join().expect("client");
        assert!(favicon.starts_with("HTTP/1.1 404"), "{favicon}");
        assert!(wrong.starts_with("HTTP/1.1 400") && wrong.contains("state mismatch"), "{wrong}");
        assert!(ok.starts_with("HTTP/1.1 200") && ok.contains("close this tab"), "{ok}");
        assert!(!ok.contains("the+code") && !ok.contains("the%2Bcode"), "the page never shows the code");
    }

    #[test]
    fn an_error_redirect_ends_the_wait_and_a_quiet_one_times_out() {
        let listener = Listener::bind().expect("bind");
        let port = listener.port;
        let client = std::thread::spawn(move || {
            send(
                port,
                "GET /?error=access_denied&error_description=the+user+canceled%0D%0A%1B[2J&state=s HTTP/1.1\r\n\r\n",
            )
        });
        let err =
            listener.wait("s", AUTHORIZE, Instant::now() + Duration::from_secs(20), Duration::from_secs(20), None);
        let Err(Error::Refused(text)) = err else { panic!("{err:?}") };
        assert_eq!(text, "access_denied: the user canceled");
        assert!(client.join().expect("client").contains("access_denied"));
        let started = Instant::now();
        let quiet = listener.wait(
            "s",
            AUTHORIZE,
            Instant::now() + Duration::from_millis(300),
            Duration::from_millis(300),
            None,
        );
        assert!(matches!(quiet, Err(Error::Timeout(..))), "{quiet:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
