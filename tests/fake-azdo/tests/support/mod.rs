//! Test support: a tiny raw HTTP/1.1 client over `TcpStream` (no curl needed) and an isolated
//! environment for real `git`.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;

/// An HTTP response as received.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
}

/// `Basic base64(user:secret)`.
pub fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
}

fn host_port(base_url: &str) -> &str {
    base_url.strip_prefix("http://").expect("http:// URL").trim_end_matches('/')
}

/// Sends raw bytes, reads until the server closes. Returns what arrived (possibly nothing).
pub fn raw(base_url: &str, request: &[u8]) -> io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(host_port(base_url))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(request)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

/// One request with `Connection: close`; `path` includes any query string.
pub fn request(base_url: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> io::Result<Reply> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", host_port(base_url));
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let bytes = raw(base_url, req.as_bytes())?;
    parse_reply(&bytes, method == "HEAD")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unparsable or empty reply"))
}

pub fn get(base_url: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    request(base_url, "GET", path, headers).expect("GET")
}

/// One request with a body (`Content-Length` set) and `Connection: close`.
pub fn send(base_url: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        host_port(base_url),
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    let reply = raw(base_url, &bytes).expect("send");
    parse_reply(&reply, method == "HEAD").unwrap_or_else(|| panic!("unparsable reply: {reply:?}"))
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// POSTs a form to the fake's Entra.
pub fn post_form(base_url: &str, path: &str, fields: &[(&str, &str)]) -> Reply {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", form_value(v))).collect();
    send(
        base_url,
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
        body.join("&").as_bytes(),
    )
}

/// Parses one response from `bytes` (`Content-Length`, chunked, or to the end).
pub fn parse_reply(bytes: &[u8], head_only: bool) -> Option<Reply> {
    parse_reply_at(bytes, head_only).map(|(r, _)| r)
}

/// Parses one response and returns it with the number of bytes it used.
pub fn parse_reply_at(bytes: &[u8], head_only: bool) -> Option<(Reply, usize)> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let mut reply = Reply { status, headers, body: Vec::new() };
    let mut pos = end + 4;
    if head_only {
        return Some((reply, pos));
    }
    if reply.header("Transfer-Encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let line_end = pos + bytes[pos..].windows(2).position(|w| w == b"\r\n")?;
            let size = usize::from_str_radix(std::str::from_utf8(&bytes[pos..line_end]).ok()?, 16).ok()?;
            pos = line_end + 2;
            if size == 0 {
                pos += 2;
                break;
            }
            reply.body.extend_from_slice(bytes.get(pos..pos + size)?);
            pos += size + 2;
        }
    } else if let Some(len) = reply.header("Content-Length") {
        let len: usize = len.parse().ok()?;
        reply.body = bytes.get(pos..pos + len)?.to_vec();
        pos += len;
    } else {
        reply.body = bytes[pos..].to_vec();
        pos = bytes.len();
    }
    Some((reply, pos))
}

/// Far-future and past `validTo` values.
pub fn in_a_month() -> i64 {
    now() + 30 * 86_400
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

/// A throwaway HOME and global git config, scrubbed of the caller's `GIT_*` environment, for
/// running real git against the fake.
pub struct GitEnv {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
}

/// What a git run printed and how it ended.
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ok={}\n--- stdout\n{}--- stderr\n{}---", self.ok, self.stdout, self.stderr)
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            ok: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl GitEnv {
    pub fn new() -> GitEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        std::fs::write(
            home.join(".gitconfig"),
            "[user]\n\tname = Test User\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n",
        )
        .expect("gitconfig");
        GitEnv { dir, home }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn command(&self, cwd: &Path) -> Command {
        let mut cmd = Command::new("git");
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("GIT_") {
                cmd.env_remove(k);
            }
        }
        cmd.current_dir(cwd)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_GLOBAL", self.home.join(".gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .env("LANGUAGE", "C")
            .env_remove("SSH_ASKPASS")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs git in `cwd` (the env's root when `None`).
    pub fn git(&self, cwd: Option<&Path>, args: &[&str]) -> Run {
        let cwd = cwd.map(Path::to_path_buf).unwrap_or(self.dir.path().to_path_buf());
        self.command(&cwd).args(args).output().expect("run git").into()
    }
}

/// `http://user:secret@127.0.0.1:PORT/org/project/_git/repo`.
pub fn url_with_credentials(base_url: &str, user: &str, secret: &str, path: &str) -> String {
    format!("http://{user}:{secret}@{}{path}", host_port(base_url))
}

/// Whether a test (or the part of one) that runs git can run here. Git is missing only under
/// Wine (`AZDO_TEST_EMULATED=wine`: Debian has no Git for Windows); then it is skipped, saying
/// so. Anywhere else a missing git is not excused: this answers true and the test fails when it
/// starts git.
pub fn has_git() -> bool {
    static HERE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let here = *HERE.get_or_init(|| Command::new("git").arg("--version").output().is_ok_and(|o| o.status.success()));
    if here || std::env::var("AZDO_TEST_EMULATED").ok().as_deref() != Some("wine") {
        return true;
    }
    let _ =
        writeln!(io::stderr(), "skipped under emulation (wine): no git.exe under Wine: Debian has no Git for Windows");
    false
}

/// (major, minor) of the installed git.
pub fn git_version() -> (u32, u32) {
    let out = Command::new("git").arg("--version").output().expect("git --version");
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().nth(2).unwrap_or("0.0");
    let mut parts = version.split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Decodes `%XX` escapes and `+` (a query or form value).
pub fn decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
            .flatten();
        match hex {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
