//! The git credential-helper protocol: bytes in, [`Request`] out; [`Answer`] in, bytes out.
//!
//! One pass reads a request: each line is checked and read into the [`Request`] as it comes
//! ([`parse_request`]); one writer (`write_lines`) writes every answer, token, capability list
//! and `quit`. This is the only module that writes protocol output.
//!
//! gix-credentials is the reference for what the fields mean (last value wins, `url=` is not ours
//! to act on, `wwwauth[]` values are kept in order, a CR is refused as protocol protection does, an
//! expiry that is no number is none): a differential test holds this reader to its `Context::from_bytes`
//! over generated input, so it is only a dev-dependency. It is not the reader itself because its
//! errors carry the offending value (a password, a token) into the message; ours name a line
//! and a key only, and the input is bounded ([`read_request`]). What it
//! does not carry (`capability[]=authtype`, `ephemeral`, `authtype`/`credential`) is read in the
//! same pass.

use std::io::{BufRead, Read, Write};

use crate::secret::Secret;

/// git documents 65535 bytes per line; a request is a handful of lines.
const MAX_LINE: usize = 65_535;
const MAX_INPUT: usize = 256 * 1024;
/// `wwwauth[]` values kept: the first this many, each at most [`MAX_WWWAUTH_LEN`] bytes of UTF-8
/// (a longer or non-UTF-8 one is skipped): a 401 carries a handful of `WWW-Authenticate` lines.
pub const MAX_WWWAUTH: usize = 16;
pub const MAX_WWWAUTH_LEN: usize = 8192;

/// The operation git asks for; git appends it as the last argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Get,
    Store,
    Erase,
}

impl Operation {
    pub fn parse(s: &str) -> Option<Operation> {
        match s {
            "get" => Some(Operation::Get),
            "store" => Some(Operation::Store),
            "erase" => Some(Operation::Erase),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("credential request is larger than {MAX_INPUT} bytes")]
    TooLarge,
    #[error("credential request line {line} is longer than {MAX_LINE} bytes")]
    LineTooLong { line: usize },
    #[error("credential request line {line} is not 'key=value'")]
    NotKeyValue { line: usize },
    #[error("credential request: the value of '{key}' contains {what}; refusing it")]
    BadValue { key: String, what: &'static str },
    #[error("credential request: the value of '{key}' is not valid UTF-8")]
    NotUtf8 { key: String },
    #[error("credential request has no '{0}' attribute")]
    Missing(&'static str),
    #[error("could not read the credential request: {0}")]
    Read(#[source] std::io::Error),
    #[error("malformed credential request")]
    Malformed,
}

/// What git asked about. Only what this helper uses is kept; everything else git sends
/// (`state[]`, other capabilities, …) is accepted and ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub protocol: String,
    /// Host as git sends it, with a port when the URL had one.
    pub host: String,
    /// Sent only with `credential.useHttpPath`; may hold any bytes.
    pub path: Option<Vec<u8>>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// git sent `password=` with nothing after it: like `git credential-store`, an `erase` with
    /// it matches no stored PAT.
    pub empty_password: bool,
    pub password_expiry_utc: Option<i64>,
    /// git sent `capability[]=authtype` (git 2.46+): it takes `authtype` and `credential`, so an
    /// Entra access token can go as `Authorization: Bearer`.
    pub authtype: bool,
    /// The credential is one git was told not to keep (`ephemeral=1`), or a pre-encoded one
    /// (`authtype`/`credential`): never a PAT to store.
    pub ephemeral: bool,
    /// git sent an `authtype` or `credential` line (whatever `ephemeral` says after it): the
    /// credential it reports is a pre-encoded one, never a PAT.
    pub pre_encoded: bool,
    /// The `WWW-Authenticate` values of the 401 git sends with `erase` (git 2.41+), in order,
    /// bounded ([`MAX_WWWAUTH`], [`MAX_WWWAUTH_LEN`]); untrusted text, never printed. Only
    /// `erase` reads them (a continuous access evaluation challenge); `get` ignores them.
    pub wwwauth: Vec<String>,
}

/// What this helper tells git on a `get`: never `url=`, never anything git did not ask for.
#[derive(Debug)]
pub struct Answer {
    pub username: String,
    pub password: Secret,
    pub password_expiry_utc: Option<i64>,
}

/// An access token (Entra, or the pipeline's job token) for git: never stored by git's helpers. To git
/// that announced `capability[]=authtype` it goes as `authtype=Bearer` + `credential`,
/// `ephemeral=1`; to older git as `username`/`password`, which Azure DevOps accepts too.
#[derive(Debug)]
pub struct TokenAnswer {
    /// The user name older git sends with the token in Basic auth.
    pub username: String,
    pub token: Secret,
    pub expires_at: Option<i64>,
}

/// The `capability` operation's answer: the protocol version and what this helper understands.
pub const CAPABILITIES: &str = "version 0\ncapability authtype\n";

/// Whether `secret` can be written to git as a value: no NUL, LF or CR, which would end or
/// corrupt the answer ([`write_answer`] refuses them).
pub fn is_writable(secret: &Secret) -> bool {
    !secret.expose().contains(['\0', '\n', '\r'])
}

/// Read a request from `input` up to its blank line (or EOF), validating every line. Nothing
/// after the blank line is read: a caller may keep stdin open while it waits for the answer, as
/// git's own helpers allow.
pub fn read_request(input: impl Read) -> Result<Request, Error> {
    let mut reader = std::io::BufReader::new(input.take(MAX_INPUT as u64 + 1));
    let mut buf = Vec::new();
    loop {
        let start = buf.len();
        let read = reader.read_until(b'\n', &mut buf).map_err(Error::Read)?;
        if buf.len() > MAX_INPUT {
            return Err(Error::TooLarge);
        }
        let line = &buf[start..];
        if read == 0 || line == b"\n" || line == b"\r\n" {
            break;
        }
    }
    parse_request(&buf)
}

/// Parse request bytes in one pass up to the first blank line: every line is checked (the first
/// bad one is named by its number and key, never its value) and read into the [`Request`]. Pure:
/// no I/O.
///
/// The fields follow gix-credentials' `Context::from_bytes` (the differential test holds them
/// to it): the last of a repeated key wins, `password_expiry_utc` that is no number clears the
/// expiry, `wwwauth[]` values add up (bounded), `url=`, `quit=` and unknown keys are read and
/// ignored, a key that is not
/// UTF-8 or a CR at the end of an unterminated last line is refused as malformed (after every
/// line was checked). `authtype` and `ephemeral` are read in order as lines come.
pub fn parse_request(buf: &[u8]) -> Result<Request, Error> {
    let mut fields = Fields::default();
    let mut malformed = false;
    for (n, raw) in buf.split_inclusive(|b| *b == b'\n').enumerate() {
        let Some((key, value)) = check_line(n + 1, raw)? else { break };
        // gix splits lines on LF or CRLF: a CR ending the last, unterminated line stays in the
        // value, and protocol protection refuses it. Keys must be UTF-8 there.
        let lone_cr = !raw.ends_with(b"\n") && raw.ends_with(b"\r");
        match std::str::from_utf8(key) {
            Ok(key) if !lone_cr && !malformed => fields.read(key, value),
            _ => malformed = true,
        }
    }
    if malformed {
        return Err(Error::Malformed);
    }
    Ok(Request {
        protocol: fields.protocol.ok_or(Error::Missing("protocol"))?,
        host: fields.host.ok_or(Error::Missing("host"))?,
        path: fields.path.filter(|p| !p.is_empty()),
        username: fields.username.filter(|u| !u.is_empty()),
        empty_password: fields.password.as_ref().is_some_and(Secret::is_empty),
        password: fields.password.filter(|p| !p.is_empty()),
        // git treats 0 as "no expiry".
        password_expiry_utc: fields.password_expiry_utc.filter(|t| *t > 0),
        authtype: fields.authtype,
        ephemeral: fields.ephemeral,
        pre_encoded: fields.pre_encoded,
        wwwauth: fields.wwwauth,
    })
}

/// The request's fields as the lines set them, before the required ones are checked.
#[derive(Default)]
struct Fields {
    protocol: Option<String>,
    host: Option<String>,
    path: Option<Vec<u8>>,
    username: Option<String>,
    password: Option<Secret>,
    password_expiry_utc: Option<i64>,
    authtype: bool,
    ephemeral: bool,
    pre_encoded: bool,
    wwwauth: Vec<String>,
}

/// A `wwwauth[]` value as it is kept: UTF-8, at most [`MAX_WWWAUTH_LEN`] bytes, else skipped.
fn wwwauth_value(value: &[u8]) -> Option<String> {
    (value.len() <= MAX_WWWAUTH_LEN).then(|| std::str::from_utf8(value).ok().map(str::to_owned)).flatten()
}

impl Fields {
    /// Take one checked line: the last value of a key wins. Values other than the capability's
    /// name are never kept unless this helper uses them.
    fn read(&mut self, key: &str, value: &[u8]) {
        // `check_line` made sure these keys' values are UTF-8.
        let text = || std::str::from_utf8(value).ok().map(str::to_owned);
        match key {
            "protocol" => self.protocol = text(),
            "host" => self.host = text(),
            "username" => self.username = text(),
            "password" => self.password = std::str::from_utf8(value).ok().map(Secret::new),
            "path" => self.path = Some(value.to_vec()),
            "password_expiry_utc" => {
                self.password_expiry_utc = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            "capability[]" if value == b"authtype" => self.authtype = true,
            "wwwauth[]" if self.wwwauth.len() < MAX_WWWAUTH => self.wwwauth.extend(wwwauth_value(value)),
            "ephemeral" => {
                self.ephemeral = crate::valid::bool_value(&String::from_utf8_lossy(value)).unwrap_or(true);
            }
            "authtype" | "credential" => {
                self.pre_encoded = true;
                if !value.is_empty() {
                    self.ephemeral = true;
                }
            }
            _ => {}
        }
    }
}

/// A checked line's key and value.
type KeyValue<'a> = (&'a [u8], &'a [u8]);

/// Check line `line_no` (`raw`, with its LF if it has one): `None` for the blank line that ends
/// the request, else the key and the value. The first problem is named by line number and key,
/// never by value.
fn check_line(line_no: usize, raw: &[u8]) -> Result<Option<KeyValue<'_>>, Error> {
    let mut line = raw.strip_suffix(b"\n").unwrap_or(raw);
    // git's reader strips one trailing CR (CRLF input); so does gix.
    line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Ok(None);
    }
    if line.len() > MAX_LINE {
        return Err(Error::LineTooLong { line: line_no });
    }
    let Some(eq) = line.iter().position(|b| *b == b'=') else {
        return Err(Error::NotKeyValue { line: line_no });
    };
    let (key, value) = (&line[..eq], &line[eq + 1..]);
    if key.is_empty() || key.iter().any(|b| *b == 0 || *b == b'\r') {
        return Err(Error::NotKeyValue { line: line_no });
    }
    let key_text = || crate::text::printable_bytes(key);
    if value.contains(&0) {
        return Err(Error::BadValue { key: key_text(), what: "a NUL byte" });
    }
    if value.contains(&b'\r') {
        return Err(Error::BadValue { key: key_text(), what: "a carriage return" });
    }
    let must_be_utf8 = matches!(key, b"protocol" | b"host" | b"username" | b"password" | b"oauth_refresh_token");
    if must_be_utf8 && std::str::from_utf8(value).is_err() {
        return Err(Error::NotUtf8 { key: key_text() });
    }
    Ok(Some((key, value)))
}

/// The one writer of protocol output: `key=value` lines (`key value` for the capability
/// answer), written and flushed at once, or nothing at all when a value holds NUL, LF or CR (the
/// error says so without the value). The buffer is wiped after: it may hold a secret.
fn write_lines(out: &mut impl Write, separator: char, lines: &[(&str, &str)]) -> std::io::Result<()> {
    if lines.iter().any(|(_, value)| value.contains(['\0', '\n', '\r'])) {
        return Err(std::io::Error::other("refusing to write a credential with a line break in it"));
    }
    let mut buf = String::with_capacity(lines.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (key, value) in lines {
        buf.push_str(key);
        buf.push(separator);
        buf.push_str(value);
        buf.push('\n');
    }
    let result = out.write_all(buf.as_bytes()).and_then(|()| out.flush());
    zeroize::Zeroize::zeroize(&mut buf);
    result
}

/// Write a `get` answer. Values are checked again: a PAT with a line break never reaches git.
pub fn write_answer(answer: &Answer, out: &mut impl Write) -> std::io::Result<()> {
    let expiry = answer.password_expiry_utc.map(|t| t.to_string());
    let mut lines = vec![("username", answer.username.as_str()), ("password", answer.password.expose())];
    lines.extend(expiry.as_deref().map(|t| ("password_expiry_utc", t)));
    write_lines(out, '=', &lines)
}

/// Write an access token for git: `Authorization: Bearer` for git that takes `authtype` (the
/// request said `capability[]=authtype`), else `username`/`password`.
pub fn write_token(answer: &TokenAnswer, authtype: bool, out: &mut impl Write) -> std::io::Result<()> {
    if !authtype {
        let basic = Answer {
            username: answer.username.clone(),
            password: answer.token.clone(),
            password_expiry_utc: answer.expires_at,
        };
        return write_answer(&basic, out);
    }
    if answer.token.is_empty() {
        return Err(std::io::Error::other("refusing to write a credential with a line break in it"));
    }
    let expiry = answer.expires_at.map(|t| t.to_string());
    let mut lines = vec![
        ("capability[]", "authtype"),
        ("authtype", "Bearer"),
        ("credential", answer.token.expose()),
        ("ephemeral", "1"),
    ];
    lines.extend(expiry.as_deref().map(|t| ("password_expiry_utc", t)));
    write_lines(out, '=', &lines)
}

/// Answer the `capability` operation ([`CAPABILITIES`]).
pub fn write_capabilities(out: &mut impl Write) -> std::io::Result<()> {
    write_lines(out, ' ', &[("version", "0"), ("capability", "authtype")])
}

/// Tell git to stop asking other helpers and the user (`quit=1`): a configured build identity
/// failed, and nothing else may stand in for it.
pub fn write_quit(out: &mut impl Write) -> std::io::Result<()> {
    write_lines(out, '=', &[("quit", "1")])
}

#[cfg(test)]
mod differential;

#[cfg(test)]
mod tests;
