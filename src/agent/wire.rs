//! The agent's wire format, one request per connection, bounded both ways:
//!
//! ```text
//! client -> agent:  git-credential-azdo-agent 1 OPERATION\n   (get, store or erase)
//!                   the request as git sent it, up to and including its blank line
//! agent  -> client: git-credential-azdo-agent 1 ok\n          (as soon as the request is read)
//!                   the protocol answer (possibly empty), then the agent closes
//! ```
//!
//! A request is at most [`MAX_REQUEST`] bytes and must arrive within [`REQUEST_TIME`]; an answer
//! is at most [`MAX_ANSWER`] bytes. Anything else closes the connection without an answer.

use std::io::{BufRead, Read};

use crate::protocol::{self, Operation};

/// The first word of both directions' first line, with the format's version.
pub const MAGIC: &str = "git-credential-azdo-agent 1";
/// The most a client may send: the header line and git's request.
pub const MAX_REQUEST: usize = 64 * 1024;
/// The most an agent may answer.
pub const MAX_ANSWER: usize = 64 * 1024;
/// How long a client has to send its request, and the agent to acknowledge it.
pub const REQUEST_TIME: std::time::Duration = std::time::Duration::from_secs(3);

/// The operation's name on the wire.
pub fn op_name(op: Operation) -> &'static str {
    match op {
        Operation::Get => "get",
        Operation::Store => "store",
        Operation::Erase => "erase",
    }
}

/// The client's header line.
pub fn header(op: Operation) -> String {
    format!("{MAGIC} {}\n", op_name(op))
}

/// The agent's acknowledgement line.
pub fn ack() -> String {
    format!("{MAGIC} ok\n")
}

/// Read git's request up to its blank line (or EOF), at most `limit` bytes, as bytes: what the
/// client relays and the agent parses with [`protocol::parse_request`].
pub fn read_request_bytes(input: impl Read, limit: usize) -> Result<Vec<u8>, protocol::Error> {
    let mut reader = std::io::BufReader::new(input.take(limit as u64 + 1));
    let mut buf = Vec::new();
    loop {
        let start = buf.len();
        let read = reader.read_until(b'\n', &mut buf).map_err(protocol::Error::Read)?;
        if buf.len() > limit {
            return Err(protocol::Error::TooLarge);
        }
        let line = &buf[start..];
        if read == 0 || line == b"\n" || line == b"\r\n" {
            return Ok(buf);
        }
    }
}

/// The operation a client's header line names, if it is one.
pub fn parse_header(line: &str) -> Option<Operation> {
    let op = line.strip_suffix('\n')?.strip_prefix(MAGIC)?.strip_prefix(' ')?;
    Operation::parse(op)
}

/// Whether `answer` looks like git's protocol: `key=value` lines, nothing unprintable. The client
/// relays only such an answer.
pub fn is_answer(answer: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(answer) else { return false };
    text.is_empty()
        || (text.ends_with('\n')
            && text.lines().all(|l| l.contains('=') && !l.chars().any(|c| c.is_control() && c != '\t')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_answers_are_checked() {
        for op in [Operation::Get, Operation::Store, Operation::Erase] {
            assert_eq!(parse_header(&header(op)), Some(op));
        }
        assert_eq!(parse_header("git-credential-azdo-agent 2 get\n"), None);
        assert_eq!(parse_header("git-credential-azdo-agent 1 fill\n"), None);
        assert!(is_answer(b"") && is_answer(b"username=u\npassword=p\n"));
        assert!(!is_answer(b"username=u\npassword=p") && !is_answer(b"junk\n") && !is_answer(b"a=\x1b[2J\n"));
        let raw = read_request_bytes(&b"protocol=https\nhost=h\n\nafter"[..], 100).expect("read");
        assert_eq!(raw, b"protocol=https\nhost=h\n\n");
        assert!(matches!(read_request_bytes(&[b'a'; 200][..], 100), Err(protocol::Error::TooLarge)));
    }
}
