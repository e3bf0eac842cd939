//! A minimal HTTP/1.1 server core on std's `TcpStream`: request parsing, request bodies
//! (`Content-Length` or `Transfer-Encoding: chunked`), and response writing (fixed length or
//! chunked). Hand-rolled so the fake controls every byte: it can close a connection without any
//! response (the `Drop` fault), repeat header lines in a fixed order, add no `Server` header, and
//! stream a CGI's body in both directions.

use std::io::{self, BufRead, Read, Write};

/// Longest request line or header line accepted, and most header lines.
const MAX_LINE: u64 = 16 * 1024;
const MAX_HEADERS: usize = 200;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path as sent (still percent-encoded), without the query.
    pub path: String,
    /// The query string without `?` (empty when absent).
    pub query: String,
    pub http11: bool,
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the connection may be reused after this request.
    pub fn keep_alive(&self) -> bool {
        let conn = self.header("Connection").unwrap_or("").to_ascii_lowercase();
        if self.http11 {
            !conn.split(',').any(|t| t.trim() == "close")
        } else {
            conn.split(',').any(|t| t.trim() == "keep-alive")
        }
    }

    pub fn expects_continue(&self) -> bool {
        self.header("Expect").is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
    }

    fn body_kind(&self) -> io::Result<BodyState> {
        if let Some(te) = self.header("Transfer-Encoding") {
            if te.to_ascii_lowercase().contains("chunked") {
                return Ok(BodyState::ChunkStart);
            }
        }
        match self.header("Content-Length") {
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(|n| if n == 0 { BodyState::Done } else { BodyState::Length(n) })
                .map_err(|_| bad("bad Content-Length")),
            None => Ok(BodyState::Done),
        }
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads one line (without CR LF), at most `MAX_LINE` bytes. `None` at a clean end of stream.
fn read_line<R: BufRead>(r: &mut R) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r.by_ref().take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(bad("line too long or truncated"));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    String::from_utf8(buf).map(Some).map_err(|_| bad("non-UTF-8 line"))
}

/// Reads a request head. `Ok(None)` when the peer closed the connection between requests.
pub fn read_request<R: BufRead>(r: &mut R) -> io::Result<Option<(Request, Body)>> {
    // Tolerate empty lines before a request line (RFC 9112 §2.2).
    let line = loop {
        match read_line(r)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if !m.is_empty() && !t.is_empty() => (m, t, v),
        _ => return Err(bad("bad request line")),
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(bad("unsupported HTTP version")),
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| bad("end of stream in headers"))?;
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(bad("too many headers"));
        }
        let (k, v) = line.split_once(':').ok_or_else(|| bad("bad header line"))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let req = Request { method: method.to_string(), path: path.to_string(), query: query.to_string(), http11, headers };
    let body = Body { state: req.body_kind()? };
    Ok(Some((req, body)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    Length(u64),
    ChunkStart,
    InChunk(u64),
    Done,
}

/// The state of a request body; read it through [`Body::reader`] with the connection's reader.
#[derive(Debug)]
pub struct Body {
    state: BodyState,
}

impl Body {
    /// Whether the body has been read to its end (or there was none).
    pub fn is_done(&self) -> bool {
        self.state == BodyState::Done
    }

    pub fn reader<'a, R: BufRead>(&'a mut self, inner: &'a mut R) -> BodyReader<'a, R> {
        BodyReader { body: self, inner }
    }
}

/// `Read` over a request body, decoding chunked transfer coding.
pub struct BodyReader<'a, R: BufRead> {
    body: &'a mut Body,
    inner: &'a mut R,
}

impl<R: BufRead> Read for BodyReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.body.state {
                BodyState::Done => return Ok(0),
                BodyState::Length(left) => {
                    let max = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.inner.read(&mut buf[..max])?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    let left = left - n as u64;
                    self.body.state = if left == 0 { BodyState::Done } else { BodyState::Length(left) };
                    return Ok(n);
                }
                BodyState::ChunkStart => {
                    let line = read_line(self.inner)?.ok_or(io::ErrorKind::UnexpectedEof)?;
                    let size = line.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
                    if size == 0 {
                        // Trailer section up to the empty line.
                        loop {
                            let l = read_line(self.inner)?.ok_or(io::ErrorKind::UnexpectedEof)?;
                            if l.is_empty() {
                                break;
                            }
                        }
                        self.body.state = BodyState::Done;
                    } else {
                        self.body.state = BodyState::InChunk(size);
                    }
                }
                BodyState::InChunk(left) => {
                    let max = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.inner.read(&mut buf[..max])?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    let left = left - n as u64;
                    if left == 0 {
                        let crlf = read_line(self.inner)?.ok_or(io::ErrorKind::UnexpectedEof)?;
                        if !crlf.is_empty() {
                            return Err(bad("chunk not followed by CRLF"));
                        }
                        self.body.state = BodyState::ChunkStart;
                    } else {
                        self.body.state = BodyState::InChunk(left);
                    }
                    return Ok(n);
                }
            }
        }
    }
}

/// A complete response held in memory.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn headers(mut self, headers: impl IntoIterator<Item = (String, String)>) -> Response {
        self.headers.extend(headers);
        self
    }

    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        self.headers.push(("Content-Type".to_string(), content_type.to_string()));
        self.body = body.into();
        self
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

fn write_head<W: Write>(w: &mut W, status: u16, headers: &[(String, String)]) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())
}

/// Writes a whole response with `Content-Length` (no body for HEAD requests).
pub fn write_response<W: Write>(w: &mut W, resp: &Response, head_only: bool, keep_alive: bool) -> io::Result<()> {
    let mut headers = resp.headers.clone();
    if resp.status != 204 && resp.status != 304 {
        headers.push(("Content-Length".into(), resp.body.len().to_string()));
    }
    if !keep_alive {
        headers.push(("Connection".into(), "close".into()));
    }
    write_head(w, resp.status, &headers)?;
    if !head_only {
        w.write_all(&resp.body)?;
    }
    w.flush()
}

pub fn write_continue<W: Write>(w: &mut W) -> io::Result<()> {
    w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    w.flush()
}

/// Writes a response head for a body of unknown length: chunked for HTTP/1.1 clients, otherwise
/// delimited by closing the connection. Returns whether the body must be written chunked.
pub fn write_streaming_head<W: Write>(
    w: &mut W,
    status: u16,
    headers: &[(String, String)],
    http11: bool,
    keep_alive: bool,
) -> io::Result<bool> {
    let mut headers = headers.to_vec();
    if http11 {
        headers.push(("Transfer-Encoding".into(), "chunked".into()));
    }
    if !keep_alive || !http11 {
        headers.push(("Connection".into(), "close".into()));
    }
    write_head(w, status, &headers)?;
    Ok(http11)
}

pub fn write_chunk<W: Write>(w: &mut W, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    w.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
    w.write_all(data)?;
    w.write_all(b"\r\n")
}

pub fn write_last_chunk<W: Write>(w: &mut W) -> io::Result<()> {
    w.write_all(b"0\r\n\r\n")?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn parses_head_and_chunked_body() {
        let raw = b"POST /a/b?x=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
                    5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\nGET / HTTP/1.0\r\n\r\n";
        let mut r = Cursor::new(&raw[..]);
        let (req, mut body) = read_request(&mut r).expect("read").expect("request");
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/a/b");
        assert_eq!(req.query, "x=1");
        assert!(req.keep_alive());
        let mut s = String::new();
        body.reader(&mut r).read_to_string(&mut s).expect("body");
        assert_eq!(s, "hello world");
        assert!(body.is_done());
        let (req, body) = read_request(&mut r).expect("read").expect("request");
        assert_eq!(req.path, "/");
        assert!(!req.http11);
        assert!(!req.keep_alive());
        assert!(body.is_done());
        assert!(read_request(&mut r).expect("read").is_none());
    }

    #[test]
    fn content_length_body() {
        let raw = b"PUT / HTTP/1.1\r\ncontent-length: 3\r\nConnection: close\r\n\r\nabcdef";
        let mut r = Cursor::new(&raw[..]);
        let (req, mut body) = read_request(&mut r).expect("read").expect("request");
        assert!(!req.keep_alive());
        let mut v = Vec::new();
        body.reader(&mut r).read_to_end(&mut v).expect("body");
        assert_eq!(v, b"abc");
    }

    #[test]
    fn rejects_garbage() {
        let mut r = Cursor::new(&b"NONSENSE\r\n\r\n"[..]);
        assert!(read_request(&mut r).is_err());
    }
}
