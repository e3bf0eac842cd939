//! `Secret`: the only type that holds a PAT in memory. Its `Debug` is redacted, it has no `Display`,
//! it is wiped on drop, and `expose()` is the one grep-able way to read it.

use std::fmt;
use zeroize::Zeroize;

/// A secret string (a PAT). Never printed; compared in constant time; zeroed on drop.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Every caller is a place where the secret leaves this type: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(REDACTED)")
    }
}

impl PartialEq for Secret {
    /// Constant-time in the content (the length is not secret enough to matter for a PAT).
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for Secret {}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// `text` (from a server) with every occurrence of `secret` replaced by `***`: a reply that
/// quotes the PAT or token just sent never shows it on a terminal, in a trace or in a file.
pub fn redact(text: &str, secret: &Secret) -> String {
    let value = secret.expose();
    if value.len() < 4 {
        return text.to_owned();
    }
    text.replace(value, "***")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2-pat-value");
        let shown = format!("{s:?} {:?}", Some(&s));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("REDACTED"));
    }

    #[test]
    fn equality_compares_content() {
        assert_eq!(Secret::new("abc"), Secret::new("abc"));
        assert_ne!(Secret::new("abc"), Secret::new("abd"));
        assert_ne!(Secret::new("abc"), Secret::new("abcd"));
    }

    #[test]
    fn a_secret_quoted_by_a_server_is_redacted() {
        let pat = Secret::new("s3cretPAT0123");
        assert_eq!(redact("Access denied for s3cretPAT0123 (s3cretPAT0123)", &pat), "Access denied for *** (***)");
        assert_eq!(redact("nothing here", &pat), "nothing here");
    }
}
