//! Untrusted text made safe to show: text from URLs, servers and config never reaches the terminal
//! with raw control characters in it.

/// Escape control characters (and cap the length) so that `s` can be printed on one line.
pub fn printable(s: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::with_capacity(s.len().min(MAX));
    for (i, c) in s.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Same as [`printable`] for bytes that may not be UTF-8.
pub fn printable_bytes(b: &[u8]) -> String {
    printable(&String::from_utf8_lossy(b))
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A Unix time as an RFC 3339 UTC timestamp, for people.
pub fn timestamp(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\x1b[31mb\nc\rd"), "a\\u{1b}[31mb\\nc\\rd");
        assert_eq!(printable("plain-org"), "plain-org");
        assert_eq!(printable("x\u{202e}y"), "x\\u{202e}y");
    }

    #[test]
    fn long_text_is_cut() {
        let long = "a".repeat(1000);
        assert!(printable(&long).chars().count() <= 201);
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_800_000_000), "2027-01-15T08:00:00Z");
    }
}
