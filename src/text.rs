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
}
