//! What the fuzz targets share: the seed format of a server reply, and the checks every message
//! the helper may show must pass (no raw control characters; no secret that came in the input).

/// A marker no realistic input holds: put into the secret fields of an input, it must never come
/// out in a message.
pub const MARKER: &str = "zq-MARKER-7f3a";

/// Panics unless `text` is safe on a terminal: no control character at all (a message is one
/// line; the helper escapes what came from outside).
pub fn assert_printable(what: &str, text: &str) {
    assert!(!text.chars().any(char::is_control), "{what} holds a raw control character: {text:?}");
}

/// Panics if `text` shows the marker that was put in the input's secrets.
pub fn assert_no_marker(what: &str, text: &str) {
    assert!(!text.contains(MARKER), "{what} echoes a secret of the input: {text:?}");
}

/// A server reply in the seed format: the status on the first line, then `name: value` header
/// lines up to a blank line, then the body. A status line that is no number is no reply.
pub struct Reply<'a> {
    pub status: u16,
    pub headers: Vec<(&'a str, &'a [u8])>,
    pub body: &'a [u8],
}

impl<'a> Reply<'a> {
    pub fn parse(data: &'a [u8]) -> Option<Reply<'a>> {
        let (head, body) = match find(data, b"\n\n") {
            Some(i) => (&data[..i], &data[i + 2..]),
            None => (data, &b""[..]),
        };
        let mut lines = head.split(|b| *b == b'\n');
        let status = std::str::from_utf8(lines.next()?).ok()?.trim().parse().ok()?;
        let headers = lines
            .filter_map(|line| {
                let colon = line.iter().position(|b| *b == b':')?;
                let name = std::str::from_utf8(&line[..colon]).ok()?;
                let value = &line[colon + 1..];
                Some((name, value.strip_prefix(b" ").unwrap_or(value)))
            })
            .collect();
        Some(Reply { status, headers, body })
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether `data` already holds the marker (then a check with it proves nothing).
pub fn holds_marker(data: &[u8]) -> bool {
    find(data, MARKER.as_bytes()).is_some()
}

/// The JSON `body` with the marker put in front of the string value of every field named in
/// `secrets`, at any depth; `None` when the body is no JSON.
pub fn mark_json_secrets(body: &[u8], secrets: &[&str]) -> Option<Vec<u8>> {
    fn mark(v: &mut serde_json::Value, secrets: &[&str]) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    match v {
                        serde_json::Value::String(s) if secrets.contains(&k.as_str()) => s.insert_str(0, MARKER),
                        other => mark(other, secrets),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| mark(v, secrets)),
            _ => {}
        }
    }
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    mark(&mut value, secrets);
    serde_json::to_vec(&value).ok()
}

/// `text` with the marker put at the start of every JSON string literal (lexically: it works on
/// text that is not quite JSON too).
pub fn mark_every_json_string(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    let (mut in_string, mut escaped) = (false, false);
    for &b in text {
        out.push(b);
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
            out.extend_from_slice(MARKER.as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_and_markers() {
        let r = Reply::parse(b"401\nx-a: 1\nbad line\nx-b:2\n\n{}").expect("reply");
        assert_eq!((r.status, r.headers, r.body), (401, vec![("x-a", &b"1"[..]), ("x-b", &b"2"[..])], &b"{}"[..]));
        assert!(Reply::parse(b"OK\n\n{}").is_none());
        let marked = mark_json_secrets(br#"{"a":{"token":"t","n":1},"token":2}"#, &["token"]).expect("json");
        assert_eq!(
            String::from_utf8(marked).expect("utf8"),
            format!(r#"{{"a":{{"n":1,"token":"{MARKER}t"}},"token":2}}"#)
        );
        let marked = mark_every_json_string(br#"{"a\"b":"c"}"#);
        assert_eq!(String::from_utf8(marked).expect("utf8"), format!(r#"{{"{MARKER}a\"b":"{MARKER}c"}}"#));
    }
}
