//! Percent-encoding as this helper writes and reads URLs, through the `percent-encoding` crate:
//! [`escape`] keeps RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) and writes every
//! other byte of the UTF-8 as `%XX` (upper-case hex; a space is `%20`, never `+`). Decoding is the
//! crate's `percent_decode_str`, used where a value is read.

use percent_encoding::{utf8_percent_encode, AsciiSet, PercentEncode, NON_ALPHANUMERIC};

/// Every byte but RFC 3986's unreserved characters is escaped.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `s` percent-encoded for a URL's query value or path segment (displayed, or `.to_string()`).
pub fn escape(s: &str) -> PercentEncode<'_> {
    utf8_percent_encode(s, UNRESERVED)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outputs of the four hand-written encoders this replaced (the browser's authorize URL,
    /// the PAT list's continuation token, the managed identity's and federation's query values),
    /// which were all one rule.
    #[test]
    fn escape_writes_what_the_hand_written_encoders_wrote() {
        let all_ascii: String = (0u8..128).map(char::from).collect();
        assert_eq!(
            escape(&all_ascii).to_string(),
            "%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13%14%15%16%17%18%19%1A%1B%1C%1D%1E%1F\
             %20%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40\
             ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~%7F"
        );
        assert_eq!(escape("a b+c/d~e%f").to_string(), "a%20b%2Bc%2Fd~e%25f");
        assert_eq!(escape("é€😀").to_string(), "%C3%A9%E2%82%AC%F0%9F%98%80");
        assert_eq!(
            escape("https://x.example/a?b=c&d=e#f").to_string(),
            "https%3A%2F%2Fx.example%2Fa%3Fb%3Dc%26d%3De%23f"
        );
        assert_eq!(escape("").to_string(), "");
    }
}
